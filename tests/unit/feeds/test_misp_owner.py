"""MISP conversion: the event's creator (Orgc) names the content's creator; distribution 0 and 4 keep it local."""

from __future__ import annotations

from typing import Any

import pytest

from accord.feeds.misp import event_creator, event_objects
from accord.stix.markings import TLP_MARKING_IDS, Tlp

EVENT, ORGC = "5f0c2a1e-6b1d-4c3a-9e2f-1a2b3c4d5e09", "55f6ea5e-2c60-40e5-964f-47a8950d210f"
ATTR, OBJECT = "0a6f7e21-1c2d-4e3f-8a9b-0c1d2e3f4a99", "7c1e2d3f-4a5b-4c6d-8e7f-8091a2b3c499"


def _event(distribution: Any = None, *, attributes: list[Any] = (), objects: list[Any] = (), **extra: Any) -> dict:
    event = {
        "uuid": EVENT,
        "info": "test event",
        "date": "2026-01-10",
        "timestamp": "1768050000",
        "Orgc": {"name": "CIRCL", "uuid": ORGC},
        "Tag": [{"name": "tlp:green"}],
        "Attribute": list(attributes),
        "Object": list(objects),
        **extra,
    }
    if distribution is not None:
        event["distribution"] = distribution
    return {"Event": event}


def _attribute(distribution: Any = None, uuid: str = ATTR, *, value: str = "198.51.100.1", **extra: Any) -> dict:
    attr = {"uuid": uuid, "type": "ip-dst", "value": value, "to_ids": True, "timestamp": "1768050000", **extra}
    if distribution is not None:
        attr["distribution"] = distribution
    return attr


def _tlps(doc: dict) -> dict[str, Tlp]:
    """The TLP of each converted object (marking definitions aside) by its type."""
    _, objects = event_objects(doc, None)
    out = {}
    for obj in objects:
        if obj["type"] != "marking-definition":
            (ref,) = obj["object_marking_refs"]
            out[obj["type"]] = TLP_MARKING_IDS[ref]
    return out


G, S = Tlp.GREEN, Tlp.AMBER_STRICT


@pytest.mark.parametrize(
    ("event_distribution", "attribute_distribution", "indicator", "report"),
    [
        (None, None, G, G),  # no distribution given: as the tags say
        ("3", "5", G, G),  # all communities; the attribute inherits
        (1, None, G, G),
        ("2", "3", G, G),
        ("1", "0", S, G),  # the attribute is for the creator's organisation only
        ("3", "4", S, G),  # the attribute is for a sharing group
        ("0", "3", S, S),  # an attribute never reaches further than its event
        ("4", "5", S, S),
        (0, None, S, S),
        ("3", "9", S, G),  # a distribution MISP does not define is kept local
        ("3", "x", S, G),
    ],
)
def test_distribution_0_and_4_mark_the_content_amber_strict(
    event_distribution: Any, attribute_distribution: Any, indicator: Tlp, report: Tlp
) -> None:
    doc = _event(event_distribution, attributes=[_attribute(attribute_distribution)])
    assert _tlps(doc) == {"indicator": indicator, "report": report}
    # the report names the indicator only where its readers may read it (an id can tell a value)
    _, objects = event_objects(doc, None)
    [converted] = [o for o in objects if o["type"] == "report"]
    assert (f"indicator--{ATTR}" in converted["object_refs"]) is (indicator <= report)


def test_a_more_restrictive_tlp_stays() -> None:
    doc = _event("0", attributes=[_attribute(Tag=[{"name": "tlp:red"}])])
    assert _tlps(doc) == {"indicator": Tlp.RED, "report": S}


@pytest.mark.parametrize(
    ("object_distribution", "attribute_distributions", "combined", "observables"),
    [
        ("5", ["5", "5"], G, [G, G]),
        ("1", [None, "3"], G, [G, G]),
        ("0", ["5", "5"], S, [S, S]),  # the object is local: so is the one pattern made of its attributes
        ("4", ["3", "3"], S, [S, S]),
        ("3", ["5", "4"], S, [G, S]),  # one local attribute makes the combined pattern local
    ],
)
def test_objects_and_their_attributes(
    object_distribution: str, attribute_distributions: list[Any], combined: Tlp, observables: list[Tlp]
) -> None:
    attrs = [
        _attribute(d, f"0a6f7e21-1c2d-4e3f-8a9b-0c1d2e3f4b0{i}", value=f"198.51.100.{i + 10}", object_relation="ip")
        for i, d in enumerate(attribute_distributions)
    ]
    mobj = {"uuid": OBJECT, "name": "ip-port", "distribution": object_distribution, "Attribute": attrs}
    assert _tlps(_event("3", objects=[mobj])) == {"indicator": combined, "report": G}
    # Without a detection flag each attribute becomes an observable of its own.
    plain = {**mobj, "Attribute": [{**a, "to_ids": False} for a in attrs]}
    _, objects = event_objects(_event("3", objects=[plain]), None)
    scos = {o["value"]: TLP_MARKING_IDS[o["object_marking_refs"][0]] for o in objects if o["type"] == "ipv4-addr"}
    assert [scos[a["value"]] for a in attrs] == observables


def test_the_creator_names_every_sdo_with_an_identity_of_its_own() -> None:
    creator, objects = event_objects(_event(attributes=[_attribute(), _attribute(uuid=OBJECT, to_ids=False)]), None)
    assert creator is not None
    assert (creator.uuid, creator.name) == (ORGC, "CIRCL")
    # Not the Orgc uuid itself: a feed naming a local organisation's identity uuid gets a record of its own.
    assert creator.identity.startswith("identity--")
    assert creator.identity != f"identity--{ORGC}"
    assert event_creator(_event()["Event"]) == creator  # stable: the same Orgc is the same record
    by_type = {o["type"]: o for o in objects}
    assert by_type["indicator"]["created_by_ref"] == creator.identity
    assert by_type["report"]["created_by_ref"] == creator.identity
    assert "created_by_ref" not in by_type["ipv4-addr"]  # SCOs have no creator in STIX 2.1
    assert "created_by_ref" not in by_type["marking-definition"]


@pytest.mark.parametrize("orgc", [None, {"name": "nameless"}, {"uuid": " "}, "CIRCL"])
def test_an_event_without_a_creator_uuid_has_no_creator(orgc: Any) -> None:
    creator, objects = event_objects(_event(Orgc=orgc, attributes=[_attribute()]), None)
    assert creator is None
    assert all("created_by_ref" not in o for o in objects)


def test_a_nameless_creator_is_named_after_its_uuid() -> None:
    creator = event_creator(_event(Orgc={"uuid": ORGC.upper(), "name": "  "})["Event"])
    assert creator is not None
    assert (creator.uuid, creator.name) == (ORGC, f"MISP organisation {ORGC}")
