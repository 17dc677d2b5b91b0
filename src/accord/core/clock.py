"""Wall-clock helpers in integer microseconds (UTC), the unit of date_added and sequences."""

from __future__ import annotations

import time


def now_us() -> int:
    """Microseconds since the Unix epoch, UTC."""
    return time.time_ns() // 1000
