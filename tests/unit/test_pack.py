"""Prepared objects cross to the writing process as bytes: what comes out is exactly what went in."""

from __future__ import annotations

from tests.builders import make_indicator, make_ipv4, make_malware

from accord.correlate.warninglists import active_matcher
from accord.store.prepare import Prepared, Refused, pack, prepare_all, prepare_rows, unpack


def test_rows_packed_then_unpacked_are_the_prepared_objects():
    objects = [
        make_indicator(value="8.8.8.8", description="ünïcode ✓"),  # on a warninglist: flags travel too
        make_ipv4("198.51.100.7"),
        {"type": "indicator", "id": "bad"},
        make_malware(),
        "not an object",
    ]
    prepared = prepare_all(objects, 1 << 20, wl=active_matcher())
    assert any(isinstance(item, Prepared) and item.listed for item in prepared)
    again = unpack(pack(prepare_rows(objects, 1 << 20, wl=active_matcher())))
    assert again == prepared
    assert [type(item) for item in again] == [Prepared, Prepared, Refused, Prepared, Refused]
    assert unpack(pack([])) == []
