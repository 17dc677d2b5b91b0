"""TLP levels, marking-definition ids and the most restrictive TLP of an object."""

from __future__ import annotations

import pytest
import stix2

from accord.stix.ids import is_stix_id
from accord.stix.markings import TLP_MARKING_IDS, Tlp, tlp_marking_definition, tlp_of
from accord.stix.validate import validate_object

AMBER_STRICT = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"


def test_tlp1_ids_match_stix2_constants() -> None:
    for constant, level in [
        (stix2.TLP_WHITE, Tlp.CLEAR),
        (stix2.TLP_GREEN, Tlp.GREEN),
        (stix2.TLP_AMBER, Tlp.AMBER),
        (stix2.TLP_RED, Tlp.RED),
    ]:
        assert TLP_MARKING_IDS[constant.id] is level


def test_tlp2_ids_as_published() -> None:
    assert {tlp_marking_definition(level)["id"]: level for level in Tlp} == {
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": Tlp.CLEAR,
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": Tlp.GREEN,
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": Tlp.AMBER,
        AMBER_STRICT: Tlp.AMBER_STRICT,
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": Tlp.RED,
    }
    assert len(TLP_MARKING_IDS) == 9
    assert all(is_stix_id(i) for i in TLP_MARKING_IDS)


def test_tlp2_marking_definition_object() -> None:
    obj = tlp_marking_definition(Tlp.AMBER_STRICT)
    assert obj["name"] == "TLP:AMBER+STRICT"
    assert obj["created"] == "2022-10-01T00:00:00.000Z"
    ext = obj["extensions"]["extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"]
    assert ext == {"extension_type": "property-extension", "tlp_2_0": "amber+strict"}
    for level in Tlp:
        assert validate_object(tlp_marking_definition(level)) is None


def test_stix2_tlp1_objects_are_valid() -> None:
    import json

    for constant in (stix2.TLP_WHITE, stix2.TLP_GREEN, stix2.TLP_AMBER, stix2.TLP_RED):
        assert validate_object(json.loads(constant.serialize())) is None


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("clear", Tlp.CLEAR),
        ("white", Tlp.CLEAR),
        ("TLP:WHITE", Tlp.CLEAR),
        ("tlp:green", Tlp.GREEN),
        ("Amber", Tlp.AMBER),
        ("TLP:AMBER+STRICT", Tlp.AMBER_STRICT),
        ("amber+strict", Tlp.AMBER_STRICT),
        (" red ", Tlp.RED),
    ],
)
def test_parse(text: str, level: Tlp) -> None:
    assert Tlp.parse(text) is level


@pytest.mark.parametrize("text", ["", "TLP:", "purple", "amber strict+"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        Tlp.parse(text)


def test_labels_and_order() -> None:
    assert [t.label for t in Tlp] == ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]
    assert Tlp.CLEAR < Tlp.GREEN < Tlp.AMBER < Tlp.AMBER_STRICT < Tlp.RED


def test_tlp_of_takes_the_most_restrictive() -> None:
    obj = {
        "object_marking_refs": [
            stix2.TLP_GREEN.id,
            "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        ],
        "granular_markings": [{"marking_ref": AMBER_STRICT, "selectors": ["description"]}],
    }
    assert tlp_of(obj) is Tlp.AMBER_STRICT
    assert tlp_of({"object_marking_refs": [stix2.TLP_WHITE.id]}) is Tlp.CLEAR


def test_tlp_of_unmarked_or_non_tlp() -> None:
    assert tlp_of({}) is None
    assert tlp_of({"object_marking_refs": ["marking-definition--1b6d1e0a-1d4a-4e3c-9d5b-0a8a4b6e7f20"]}) is None
    assert tlp_of({"granular_markings": [{"lang": "en", "selectors": ["name"]}]}) is None


def test_tlp_of_extra_markings() -> None:
    custom = "marking-definition--1b6d1e0a-1d4a-4e3c-9d5b-0a8a4b6e7f20"
    obj = {"object_marking_refs": [custom, stix2.TLP_GREEN.id]}
    assert tlp_of(obj, extra_markings={custom: Tlp.RED}) is Tlp.RED
