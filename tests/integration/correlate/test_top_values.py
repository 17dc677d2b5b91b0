"""The dashboard's top correlated values: counts through the policy, capped like correlation counts."""

from __future__ import annotations

import orjson

from accord.correlate.service import top_values
from accord.stix.markings import Tlp
from tests.integration.correlate.conftest import Community, ind


def test_top_values_count_readable_objects_and_stop_at_the_cap(community: Community, count_cap) -> None:  # type: ignore[no-untyped-def]
    count_cap(3)
    popular = [ind("[domain-name:value = 'popular-bad.com']") for _ in range(6)]
    pair = [ind("[ipv4-addr:value = '45.137.21.9']") for _ in range(2)]
    hidden = [ind("[ipv4-addr:value = '91.215.1.7']", tlp=Tlp.RED) for _ in range(3)]
    seen = ind("[ipv4-addr:value = '91.215.1.7']")
    community.put("Alpha", "shared", *popular, *pair, *hidden)
    community.put("Bravo", "shared", seen)
    recent = [orjson.dumps(o) for o in (popular[0], pair[0], seen)]
    top = top_values(community.conn, community.who("Bravo"), recent)
    assert top == [
        # four readable objects read for a probe capped at three: "at least 4"
        {"kind": "domain", "value": "popular-bad.com", "objects": 4, "orgs": 1, "count_capped": True},
        {"kind": "ip", "value": "45.137.21.9", "objects": 2, "orgs": 1, "count_capped": False},
    ]  # Alpha's RED copies of 91.215.1.7 are neither listed nor counted for Bravo: held by one object only
    own = top_values(community.conn, community.who("Alpha"), recent)
    assert {"kind": "ip", "value": "91.215.1.7", "objects": 4, "orgs": 2, "count_capped": True} in own
