"""The helper processes' program (`python -m accord.worker.helpers`): every task that runs in another process.

This is the one registry of such tasks (accord.core.helpers runs them, in helpers it starts with this program or
forks): each is imported plainly here, so the import contracts see it. A task takes the request's bytes and returns
the answer's bytes or yields several. `--niceness=N` lowers the helper's priority by N.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from accord.core import helpers
from accord.correlate import lookup
from accord.store import parallel, pipeline

TASKS: dict[str, helpers.Task] = {
    pipeline.TASK: pipeline.prepare_frame,  # a large TAXII envelope's (or peer page's) tail, prepared in parts
    lookup.HELPER_TASK: lookup.lookup_frame,  # the second half of a large read-only lookup batch
    parallel.TASK: parallel.prepare_spans_frame,  # spans of a bundle file, for `accord import` (forked helpers)
}

# Run once when a helper starts, before it reports ready: what the tasks' first requests would otherwise load.
WARMUPS: tuple[Callable[[], object], ...] = (pipeline.warm, lookup.warm)


if __name__ == "__main__":
    niceness = int(sys.argv[1].removeprefix("--niceness=")) if len(sys.argv) > 1 else 0
    helpers.serve(TASKS, WARMUPS, niceness=niceness)
