"""The node clock: ticks (date_added in microseconds) are unique, consecutive per call and never go back."""

from __future__ import annotations

from accord.core.clock import now_us
from accord.store.repository import allocate_ticks


def test_ticks_are_consecutive_increasing_and_close_to_real_time(conn):
    before = now_us()
    first = allocate_ticks(conn, 5)
    second = allocate_ticks(conn, 3)
    assert before <= first <= now_us()
    assert second >= first + 5  # the five ticks of the first call are never handed out again
    assert allocate_ticks(conn, 0) == 0


def test_a_clock_ahead_of_real_time_is_followed_not_reset(conn):
    allocate_ticks(conn, 1)
    ahead = now_us() + 3_600_000_000  # say, a clock that once ran an hour fast
    conn.exec_driver_sql(f"UPDATE node_clock SET last_us = {ahead} WHERE id = 1")
    assert allocate_ticks(conn, 10) == ahead + 1
    assert allocate_ticks(conn, 1) == ahead + 11


def test_the_first_allocation_creates_the_clock(conn):
    conn.exec_driver_sql("DELETE FROM node_clock")
    before = now_us()
    first = allocate_ticks(conn, 4)
    assert before <= first <= now_us()
    assert allocate_ticks(conn, 1) >= first + 4
