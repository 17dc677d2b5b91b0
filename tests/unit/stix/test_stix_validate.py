"""validate_object: one precise reason per malformed kind, None for good STIX 2.1."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stix2

from accord.stix.ids import deterministic_sco_id
from accord.stix.validate import is_versioned, object_version, validate_object

IDENT = "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
IND = "indicator--26ffb872-1dd9-446e-b6f5-d58527e5b5d2"
MAL = "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
T0, T1 = "2021-01-01T00:00:00.000Z", "2021-06-01T00:00:00Z"


def indicator(**extra: Any) -> dict[str, Any]:
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": IND,
        "created": T0,
        "modified": T1,
        "pattern": "[ipv4-addr:value = '198.51.100.1']",
        "pattern_type": "stix",
        "valid_from": T0,
        "created_by_ref": IDENT,
        "object_marking_refs": [GREEN],
    }
    obj.update(extra)
    return {k: v for k, v in obj.items() if v is not None}


def ipv4(value: str = "198.51.100.1") -> dict[str, Any]:
    obj = {"type": "ipv4-addr", "spec_version": "2.1", "value": value}
    obj["id"] = deterministic_sco_id(obj) or ""
    return obj


def test_good_objects() -> None:
    assert validate_object(indicator()) is None
    assert validate_object(ipv4()) is None
    sco = ipv4()
    del sco["spec_version"]
    assert validate_object(sco) is None


def test_objects_made_by_stix2_are_valid() -> None:
    objs = [
        stix2.Indicator(pattern="[url:value = 'http://x.example/']", pattern_type="stix", valid_from=T0),
        stix2.Malware(name="Poison Ivy", is_family=True),
        stix2.Relationship(source_ref=IND, target_ref=MAL, relationship_type="indicates"),
        stix2.Sighting(sighting_of_ref=IND, count=2),
        stix2.Identity(name="ACME", identity_class="organization"),
        stix2.Report(name="r", published=T0, object_refs=[IND]),
        stix2.Note(content="n", object_refs=[IND]),
        stix2.Opinion(opinion="agree", object_refs=[IND]),
        stix2.Grouping(context="suspicious-activity", object_refs=[IND]),
        stix2.ObservedData(first_observed=T0, last_observed=T1, number_observed=1, object_refs=[ipv4()["id"]]),
        stix2.Location(country="DE"),
        stix2.File(name="a.exe", hashes={"SHA-256": "a" * 64}),
        stix2.EmailMessage(is_multipart=False, subject="hi"),
        stix2.MarkingDefinition(definition_type="statement", definition={"statement": "c"}),
    ]
    for obj in objs:
        assert validate_object(json.loads(obj.serialize())) is None, obj["type"]


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ([1], "a STIX object must be a JSON object, not list"),
        ({"id": IND}, "type is missing"),
        ({"type": "In dicator", "id": IND}, "type 'In dicator' is not a valid STIX type"),
        ({"type": "indicator"}, "id is missing"),
        (indicator(id="indicator--xyz"), "id 'indicator--xyz' is not a valid STIX identifier"),
        (indicator(id=MAL), "id type 'malware' does not match type 'indicator'"),
        (indicator(spec_version="2.0"), "spec_version '2.0' is not supported: only STIX 2.1 is accepted"),
        ({**indicator(), "spec_version": None}, "spec_version is missing (STIX 2.0 content?)"),
        (
            indicator(modified="2020-01-01T00:00:00Z"),
            "modified (2020-01-01T00:00:00Z) is earlier than created",
        ),
        (
            indicator(created="2021-02-30T00:00:00Z"),
            "created ('2021-02-30T00:00:00Z') is not a valid STIX timestamp",
        ),
        (indicator(valid_from="yesterday"), "valid_from ('yesterday') is not a valid STIX timestamp"),
        (indicator(valid_until=T0), "valid_until (2021-01-01T00:00:00.000Z) must be later than valid_from"),
        (indicator(pattern="[ipv4-addr:value = ]"), "pattern is invalid: "),
        (indicator(pattern=None), "pattern is required for indicator objects"),
        (indicator(pattern_type=None), "pattern_type is required for indicator objects"),
        (indicator(modified=None), "modified is required for indicator objects"),
        (indicator(created_by_ref="foo"), "created_by_ref 'foo' is not a STIX identifier"),
        (indicator(created_by_ref=MAL), "created_by_ref '" + MAL + "' must reference an identity"),
        (
            indicator(object_marking_refs=[]),
            "object_marking_refs must be a non-empty list of STIX identifiers",
        ),
        (
            indicator(object_marking_refs=[IDENT]),
            "object_marking_refs contains '" + IDENT + "', which is not",
        ),
        (indicator(sample_refs=["x"]), "sample_refs contains 'x', which is not a STIX identifier"),
        (indicator(revoked="yes"), "revoked must be true or false"),
        (indicator(confidence=101), "confidence (101) must be an integer from 0 to 100"),
        (indicator(confidence=True), "confidence (True) must be an integer from 0 to 100"),
        (indicator(labels="a"), "labels must be a non-empty list of non-empty strings"),
        (indicator(labels=["a", ""]), "labels must be a non-empty list of non-empty strings"),
        (indicator(name=5), "name must be a string"),
        (indicator(external_references=[{"url": "x"}]), "external_references[0].source_name is required"),
        (indicator(external_references=[{"source_name": "x"}]), "external_references[0] needs at least one"),
        (indicator(external_references={}), "external_references must be a non-empty list"),
        (indicator(granular_markings=[{"marking_ref": GREEN}]), "granular_markings[0].selectors must be"),
        (
            indicator(granular_markings=[{"marking_ref": IDENT, "selectors": ["name"]}]),
            "granular_markings[0].marking_ref '" + IDENT + "' is not a marking-definition id",
        ),
        (
            indicator(granular_markings=[{"selectors": ["name"]}]),
            "granular_markings[0] needs marking_ref or lang",
        ),
        (
            {**ipv4(), "id": "ipv4-addr--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},
            "id does not match the deterministic",
        ),
        ({**ipv4(), "spec_version": "2.0"}, "spec_version '2.0' is not supported"),
        (indicator(x_deep=json.loads("[" * 40 + "]" * 40)), "nesting deeper than 32 levels"),
    ],
)
def test_malformed(obj: object, reason: str) -> None:
    got = validate_object(obj)
    assert got is not None
    assert got.startswith(reason), got


def _sdo(obj_type: str, **props: Any) -> dict[str, Any]:
    return {
        "type": obj_type,
        "spec_version": "2.1",
        "id": f"{obj_type}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": T0,
        "modified": T0,
        **props,
    }


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (_sdo("malware"), "is_family is required for malware objects"),
        (_sdo("malware", is_family="yes"), "is_family must be true or false"),
        (_sdo("malware", is_family=True), "name is required for malware objects where is_family is true"),
        (_sdo("relationship", relationship_type="uses", source_ref=IND), "target_ref is required"),
        (_sdo("sighting"), "sighting_of_ref is required for sighting objects"),
        (_sdo("report", name="r", published=T0), "object_refs is required for report objects"),
        (_sdo("report", name="r", published="x", object_refs=[IND]), "published ('x') is not a valid"),
        (_sdo("identity"), "name is required for identity objects"),
        (_sdo("note", object_refs=[IND]), "content is required for note objects"),
        (_sdo("opinion", object_refs=[IND]), "opinion is required for opinion objects"),
        (_sdo("grouping", object_refs=[IND]), "context is required for grouping objects"),
        (_sdo("observed-data", first_observed=T1, last_observed=T0, number_observed=1), "last_observed ("),
        (
            _sdo("observed-data", first_observed=T0, last_observed=T1, number_observed=0, object_refs=[IND]),
            "number_observed must be an integer from 1 to 999,999,999",
        ),
        (
            _sdo("campaign", name="c", first_seen=T1, last_seen=T0),
            "last_seen (2021-01-01T00:00:00.000Z) is earlier",
        ),
        (_sdo("location"), "a location needs region, country, or latitude and longitude"),
        (_sdo("location", latitude=1.0), "latitude and longitude must be given together"),
        (
            {k: v for k, v in _sdo("marking-definition").items() if k != "modified"},
            "a marking-definition needs definition_type and definition, or extensions",
        ),
        (
            {k: v for k, v in _sdo("marking-definition", definition_type="statement").items() if k != "created"},
            "created is required for marking-definition objects",
        ),
    ],
)
def test_type_rules(obj: dict[str, Any], reason: str) -> None:
    got = validate_object(obj)
    assert got is not None
    assert got.startswith(reason), got


def test_stix20_content_gets_the_20_reason() -> None:
    obj = indicator(spec_version=None)
    obj["labels"] = ["malicious-activity"]
    assert "only STIX 2.1 is accepted" in (validate_object(obj) or "")


def test_custom_objects_follow_the_common_rules() -> None:
    custom = _sdo("x-acme-widget", colour="blue")
    assert validate_object(custom) is None
    assert validate_object({**custom, "modified": "2000-01-01T00:00:00Z"}) is not None
    assert validate_object({**custom, "owner_ref": "bob"}) == "owner_ref 'bob' is not a STIX identifier"
    custom_sco = {"type": "x-acme-thing", "id": "x-acme-thing--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}
    assert validate_object(custom_sco) is None


def test_non_stix_pattern_types_are_not_parsed() -> None:
    assert validate_object(indicator(pattern_type="sigma", pattern="title: x")) is None


def test_sco_with_random_id_when_nothing_contributes() -> None:
    assert validate_object({"type": "process", "id": "process--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "pid": 3}) is None


def test_max_depth_is_configurable() -> None:
    obj = indicator(x_nested={"a": {"b": {"c": 1}}})
    assert validate_object(obj, max_depth=3) is None
    assert validate_object(obj, max_depth=2) == "nesting deeper than 2 levels"


def test_versioning() -> None:
    assert is_versioned(indicator())
    assert not is_versioned(ipv4())
    assert not is_versioned({"type": "marking-definition", "created": T0})
    assert object_version(indicator()) == "2021-06-01T00:00:00.000000Z"
    assert object_version({"type": "marking-definition", "created": T0}) == "2021-01-01T00:00:00.000000Z"
    assert object_version(ipv4()) == ""
    assert object_version({"modified": "bad"}) == ""
