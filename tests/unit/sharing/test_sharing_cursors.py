"""The one cursor format: a position comes back only for the caller and query it was issued for, and shows nowhere."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.core import settings as core_settings
from accord.core.errors import BadRequest
from accord.sharing import cursors
from accord.sharing.policy import Principal, Role

ALICE = Principal(org_id=1, role=Role.ANALYST, user_id=10)
BOB = Principal(org_id=2, role=Role.ANALYST, user_id=20)
positions = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ACCORD_SECRET_KEY", "unit-test-secret")
    core_settings.get_settings.cache_clear()
    yield
    core_settings.get_settings.cache_clear()


@given(position=positions)
def test_a_cursor_returns_its_position_for_its_caller_and_query_only(position: int) -> None:
    bound = cursors.binding(ALICE, "rest:objects", ["indicator"])
    cursor = cursors.make_cursor(position, bound)
    assert cursors.read_cursor(cursor, bound) == position
    for other in (
        cursors.binding(BOB, "rest:objects", ["indicator"]),
        cursors.binding(ALICE, "rest:objects", ["malware"]),
        cursors.binding(ALICE, "rest:audit", ["indicator"]),
    ):
        with pytest.raises(BadRequest):
            cursors.read_cursor(cursor, other)


@given(position=positions)
def test_a_cursor_carries_no_readable_position(position: int) -> None:
    bound = cursors.binding(ALICE, "taxii:objects", [1, []])
    first, second = cursors.make_cursor(position, bound), cursors.make_cursor(position, bound)
    for cursor in (first, second):
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        assert struct.pack(">q", position) not in raw
        assert struct.pack("<q", position) not in raw
    # The same position never gives the same masked bytes twice (so neither their XOR nor equality shows).
    assert first[-40:] != second[-40:]


def test_another_node_secret_refuses_the_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    bound = cursors.binding(ALICE, "rest:objects", [])
    cursor = cursors.make_cursor(42, bound)
    monkeypatch.setenv("ACCORD_SECRET_KEY", "another-node")
    core_settings.get_settings.cache_clear()
    with pytest.raises(BadRequest, match="before is not a valid token"):
        cursors.read_cursor(cursor, bound, param="before")
