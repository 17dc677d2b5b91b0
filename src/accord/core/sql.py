"""SQL constructs the repositories share."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Join


class OrderedJoin(Join):
    """An inner join whose left side SQLite must loop over first (CROSS JOIN); a plain JOIN elsewhere.

    Without it SQLite may drive a batch from a policy index (is_latest, a kind) and probe the batch per row.
    """

    inherit_cache = True


@compiles(OrderedJoin, "sqlite")
def _ordered_sqlite(join: OrderedJoin, compiler: Any, **kw: Any) -> str:
    kw["asfrom"] = True
    left, right = compiler.process(join.left, **kw), compiler.process(join.right, **kw)
    kw.pop("asfrom")
    return f"{left} CROSS JOIN {right} ON {compiler.process(join.onclause, **kw)}"
