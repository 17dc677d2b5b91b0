"""Hypothesis fuzzing of what reads untrusted input (issue 23 item 3): the STIX validator, the pattern parser,
the MISP, CSV and text feed parsers, extraction and the TAXII filters. Whatever the input: no exception but the
module's own refusal (AccordError or ValueError, which the API turns into a 4xx), and no hang (each input
must finish within the deadline)."""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.core.errors import AccordError
from accord.extract.documents import text_from_bytes
from accord.extract.engine import extract
from accord.feeds.misp import event_objects, manifest_changes
from accord.feeds.misp_types import SIMPLE_KINDS
from accord.feeds.parse import parse_csv, parse_text
from accord.stix.markings import Tlp
from accord.stix.patterns import check_pattern, iter_comparisons
from accord.stix.validate import validate_object
from accord.taxii.filters import ALLOWED, Endpoint, parse_filters

EXAMPLES = 300
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),  # a hang, not a slow input: the API refuses inputs far larger than these
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
REFUSALS = (AccordError, ValueError)

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)
ioc_text = st.text(alphabet=string.ascii_letters + string.digits + ".:/[]()@-_ \n\t%=#,;'\"\\", max_size=400)
any_text = st.one_of(ioc_text, st.text(max_size=400))


def _refused_or_done(call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except REFUSALS:
        return None


# --- STIX ------------------------------------------------------------------------------------------------------

stix_types = st.sampled_from(
    [
        "indicator",
        "malware",
        "identity",
        "ipv4-addr",
        "domain-name",
        "file",
        "relationship",
        "sighting",
        "report",
        "marking-definition",
        "x-custom",
        "bundle",
        "",
    ]
)
stix_ids = st.one_of(st.text(max_size=60), st.uuids().map(lambda u: f"indicator--{u}"))
timestamps = st.one_of(st.text(max_size=30), st.datetimes().map(lambda d: d.isoformat() + "Z"))


@st.composite
def stix_like(draw: st.DrawFn) -> Any:
    obj = draw(st.dictionaries(st.text(max_size=20), json_values, max_size=6))
    for key, strategy in (
        ("type", stix_types),
        ("id", stix_ids),
        ("spec_version", st.sampled_from(["2.1", "2.0", ""])),
        ("created", timestamps),
        ("modified", timestamps),
        ("pattern", any_text),
        ("pattern_type", st.sampled_from(["stix", "snort", ""])),
        ("valid_from", timestamps),
        ("object_marking_refs", st.lists(st.text(max_size=60), max_size=3)),
        ("created_by_ref", stix_ids),
        ("value", st.text(max_size=60)),
    ):
        if draw(st.booleans()):
            obj[key] = draw(strategy)
    return obj if draw(st.integers(0, 9)) else draw(json_values)


@FUZZ
@given(stix_like())
def test_the_stix_validator_answers_every_object(obj: Any) -> None:
    reason = validate_object(obj)
    assert reason is None or isinstance(reason, str)


comparison_ops = st.sampled_from(["=", "!=", ">", "<", ">=", "<=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"])
paths = st.sampled_from(
    [
        "ipv4-addr:value",
        "file:hashes.'SHA-256'",
        "file:hashes.MD5",
        "url:value",
        "domain-name:value",
        "network-traffic:dst_ref.value",
        "x:y[*].z",
        "email-addr:value",
    ]
)
literals = st.one_of(
    st.text(max_size=30).map(lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["t'2026-01-01T00:00:00Z'", "h'00ff'", "b'AAAA'", "true", "('a', 'b')"]),
)
comparisons = st.builds(
    lambda p, o, v, neg: f"{p} {'NOT ' if neg else ''}{o} {v}", paths, comparison_ops, literals, st.booleans()
)
patterns = st.recursive(
    comparisons.map(lambda c: f"[{c}]"),
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["AND", "OR", "FOLLOWEDBY"]), inner),
        inner.map(lambda p: f"({p})"),
        st.builds(lambda p, n: f"{p} REPEATS {n} TIMES", inner, st.integers(-2, 10**12)),
        st.builds(lambda p, n: f"{p} WITHIN {n} SECONDS", inner, st.integers(-2, 10**12)),
    ),
    max_leaves=8,
)


@FUZZ
@given(st.one_of(patterns, any_text, patterns.map(lambda p: p[: len(p) // 2])))
def test_the_pattern_parser_answers_every_pattern(pattern: str) -> None:
    reason = check_pattern(pattern)
    assert reason is None or isinstance(reason, str)
    if reason is None:
        _refused_or_done(iter_comparisons, pattern)


# --- feeds -----------------------------------------------------------------------------------------------------

attributes = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(
            st.sampled_from([*sorted(SIMPLE_KINDS), "ip-dst|port", "domain|ip", "filename|md5"]), st.text(max_size=10)
        ),
        "value": st.one_of(ioc_text, json_values),
        "uuid": st.one_of(st.uuids().map(str), st.text(max_size=10)),
        "to_ids": st.one_of(st.booleans(), json_leaf),
        "timestamp": st.one_of(st.integers(-(10**20), 10**20).map(str), st.text(max_size=12), json_leaf),
        "category": st.text(max_size=20),
        "comment": st.text(max_size=40),
        "Tag": st.lists(st.fixed_dictionaries({"name": st.one_of(st.just("tlp:red"), st.text(max_size=20))})),
    },
)
misp_events = st.fixed_dictionaries(
    {
        "Event": st.fixed_dictionaries(
            {"uuid": st.one_of(st.uuids().map(str), st.text(max_size=10))},
            optional={
                "info": st.one_of(st.text(max_size=60), json_leaf),
                "date": st.one_of(st.dates().map(str), st.text(max_size=12)),
                "timestamp": st.one_of(st.integers(-(10**20), 10**20).map(str), json_leaf),
                "Orgc": st.one_of(
                    st.fixed_dictionaries({"name": st.text(max_size=20), "uuid": st.text(max_size=40)}), json_values
                ),
                "Attribute": st.one_of(st.lists(attributes, max_size=6), json_values),
                "Object": st.lists(
                    st.fixed_dictionaries(
                        {"name": st.sampled_from(["file", "domain-ip", "ip-port", "url", "x"])},
                        optional={"Attribute": st.lists(attributes, max_size=4), "uuid": st.text(max_size=40)},
                    ),
                    max_size=3,
                ),
                "Tag": st.lists(st.fixed_dictionaries({"name": st.text(max_size=20)}), max_size=3),
            },
        )
    }
)


@FUZZ
@given(st.one_of(misp_events, json_values), st.sampled_from([None, Tlp.GREEN, Tlp.AMBER]))
def test_the_misp_parser_answers_every_event(doc: Any, tlp: Tlp | None) -> None:
    found = _refused_or_done(event_objects, doc, tlp)
    if found is not None:
        _, objects = found
        assert all(isinstance(o, dict) and "type" in o and "id" in o for o in objects)


@FUZZ
@given(st.one_of(json_values, st.dictionaries(st.uuids().map(str), json_values, max_size=4)))
def test_the_misp_manifest_parser_answers_every_manifest(manifest: Any) -> None:
    _refused_or_done(manifest_changes, manifest, {})


feed_bodies = st.one_of(st.binary(max_size=600), ioc_text.map(str.encode), st.text(max_size=400).map(str.encode))


@FUZZ
@given(
    feed_bodies,
    st.one_of(
        st.none(),
        st.sampled_from(["value=1", "value=2,type=1,comment=3", "type=1", "value=0", "x"]),
        st.text(max_size=20),
    ),
    st.sampled_from([",", ";", "\t", "|", ""]),
    st.booleans(),
    st.one_of(st.none(), st.sampled_from(["ip", "domain", "url", "md5", "sha256", "nonsense"])),
)
def test_the_csv_and_text_parsers_answer_every_body(
    body: bytes, columns: str | None, delimiter: str, skip: bool, kind: str | None
) -> None:
    for parsed in (
        _refused_or_done(parse_csv, body, "fuzz", columns, delimiter, skip, kind),
        _refused_or_done(parse_text, body, "fuzz", kind),
    ):
        if parsed is not None:
            assert parsed.skipped >= 0


# --- extraction --------------------------------------------------------------------------------------------------


@FUZZ
@given(any_text)
def test_extraction_answers_every_text(text: str) -> None:
    for finding in extract(text):
        assert finding.value


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=800),
        st.text(max_size=400).map(lambda t: f"<html><body>{t}</body></html>".encode()),
        st.binary(max_size=400).map(lambda b: b"%PDF-1.4\n" + b),
    ),
    st.sampled_from([None, "text/plain", "text/html", "application/pdf", "application/octet-stream"]),
    st.sampled_from([None, "report.txt", "report.html", "report.pdf", "x"]),
)
def test_documents_are_read_or_refused(data: bytes, content_type: str | None, filename: str | None) -> None:
    found = _refused_or_done(text_from_bytes, data, content_type, filename)
    if found is not None:
        assert isinstance(found[0], str)


# --- TAXII filters -----------------------------------------------------------------------------------------------

filter_keys = st.one_of(st.sampled_from(sorted(set().union(*ALLOWED.values()))), st.text(max_size=15))
filter_values = st.one_of(
    st.text(max_size=60),
    st.integers().map(str),
    st.sampled_from(["first", "last", "all", "2026-01-01T00:00:00Z", "2.1", "indicator,malware", "0", "-1"]),
)


@FUZZ
@given(st.lists(st.tuples(filter_keys, filter_values), max_size=6), st.sampled_from(list(Endpoint)))
def test_taxii_filters_answer_every_query(items: list[tuple[str, str]], endpoint: Endpoint) -> None:
    _refused_or_done(parse_filters, items, endpoint)
