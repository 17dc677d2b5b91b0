"""Suricata's used-sid table answers as a Python set would, across growth and at both ends of the sid range."""

from __future__ import annotations

import random

from accord.exports.suricata import SID_BASE, SID_SPAN, SidSet


def test_sid_set_answers_like_a_set():
    rng = random.Random(3)
    table, reference = SidSet(), set()
    ends = [SID_BASE, SID_BASE + SID_SPAN - 1]
    for n in range(60_000):
        if n % 10_000 == 0:
            sid = ends[n // 10_000 % 2]
        elif rng.random() < 0.3:
            sid = SID_BASE + rng.randrange(3_000)  # many repeats
        else:
            sid = SID_BASE + rng.randrange(SID_SPAN)
        assert table.add(sid) == (sid not in reference)
        reference.add(sid)
    assert all(not table.add(sid) for sid in reference)
