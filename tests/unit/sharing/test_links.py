"""R1 and R4 for what arrives over a link (a peer or a feed): its recipient org reads it at every TLP; other
readers of its collections read CLEAR and GREEN only; AMBER never takes a second hop."""

from __future__ import annotations

import pytest

from accord.sharing.policy import ObjectFacts, Principal, Role, can_read
from accord.stix.markings import Tlp

SOURCE, RECIPIENT, OTHER = 10, 1, 2  # the link's source org (owner), the org the link belongs to, another org
LINK, COLLECTION = 7, 3


def _reader(org_id: int, *, links: frozenset[int] = frozenset()) -> Principal:
    return Principal(org_id=org_id, role=Role.ANALYST, readable_collections=frozenset({COLLECTION}), amber_peers=links)


def _received(tlp: Tlp | None) -> ObjectFacts:
    return ObjectFacts("indicator--x", "indicator", SOURCE, tlp, peer_id=LINK, memberships=((COLLECTION, RECIPIENT),))


@pytest.mark.parametrize("tlp", [None, *Tlp])
def test_the_recipient_reads_what_its_link_brings_at_every_tlp(tlp: Tlp | None) -> None:
    assert can_read(_reader(RECIPIENT, links=frozenset({LINK})), _received(tlp))


@pytest.mark.parametrize(
    ("tlp", "expected"),
    [(Tlp.CLEAR, True), (Tlp.GREEN, True), (Tlp.AMBER, False), (Tlp.AMBER_STRICT, False), (Tlp.RED, False)],
)
def test_other_readers_of_the_collection_read_clear_and_green_only(tlp: Tlp, expected: bool) -> None:
    assert can_read(_reader(OTHER), _received(tlp)) is expected
    # another link of the reader's own does not open this one
    assert can_read(_reader(OTHER, links=frozenset({LINK + 1})), _received(tlp)) is expected


def test_unmarked_content_over_a_link_counts_as_the_default_tlp() -> None:
    assert not can_read(_reader(OTHER), _received(None))  # default AMBER
    green_default = Principal(
        org_id=OTHER, role=Role.ANALYST, readable_collections=frozenset({COLLECTION}), default_tlp=Tlp.GREEN
    )
    assert can_read(green_default, _received(None))


def test_outside_the_collection_only_the_recipient_reads_it() -> None:
    lone = ObjectFacts("indicator--x", "indicator", SOURCE, Tlp.GREEN, peer_id=LINK, memberships=())
    assert can_read(_reader(RECIPIENT, links=frozenset({LINK})), lone)
    assert not can_read(_reader(OTHER), lone)
