"""A TAXII envelope read in slices gives exactly the objects (and the errors) of a parser of the whole body."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.core.errors import BadRequest
from accord.taxii.envelope import Envelope, pending_entry

# Strings that look like the places where slices are cut: object ends, brackets, quotes and escapes.
TRICKY = st.sampled_from(["},{", "}, {", "{", "}", "[", "]", '"', "\\", '"},{"', "],[", "objects", '"objects":['])
TEXT = st.lists(st.one_of(TRICKY, st.text(max_size=8)), max_size=6).map("".join)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), TEXT)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
OBJECT = st.fixed_dictionaries(
    {"type": st.just("indicator"), "id": st.uuids().map(lambda u: f"indicator--{u}")},
    optional={"description": TEXT, "kill_chain_phases": st.lists(st.dictionaries(TEXT, TEXT, max_size=2), max_size=3)},
).flatmap(lambda base: st.dictionaries(TEXT, VALUE, max_size=3).map(lambda extra: {**extra, **base}))
ITEM = st.one_of(OBJECT, OBJECT, OBJECT, VALUE)  # mostly objects, now and then anything a client may send


def _serialise(envelope: dict[str, Any], style: int) -> bytes:
    if style == 0:
        return orjson.dumps(envelope)
    if style == 1:
        return json.dumps(envelope, indent=2).encode()
    return json.dumps(envelope, separators=(" , ", " : "), ensure_ascii=False).encode()


def _read_all(body: bytes, slice_bytes: int) -> tuple[list[Any], int, list[dict[str, str]]]:
    env = Envelope.read(body, slice_bytes)
    return list(env.objects()), env.count, env.pendings()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    objects=st.lists(ITEM, max_size=30),
    before=st.dictionaries(st.sampled_from(["more", "next", "x"]), VALUE, max_size=2),
    after=st.dictionaries(st.sampled_from(["more", "next", "y"]), VALUE, max_size=2),
    style=st.integers(0, 2),
    slice_bytes=st.integers(1, 400),
)
def test_sliced_reading_gives_the_objects_of_a_whole_parse(
    objects: list[Any], before: dict[str, Any], after: dict[str, Any], style: int, slice_bytes: int
) -> None:
    body = _serialise({**before, "objects": objects, **after}, style)
    read, count, pendings = _read_all(body, slice_bytes)
    assert read == objects
    assert count == len(objects)
    assert pendings == [pending_entry(o) for o in objects]


@settings(max_examples=200, deadline=None)
@given(objects=st.lists(OBJECT, min_size=1, max_size=12), cut=st.integers(0, 10_000), junk=TRICKY)
def test_a_damaged_body_is_refused_as_a_whole_parse_refuses_it(objects: list[Any], cut: int, junk: str) -> None:
    body = orjson.dumps({"objects": objects})
    at = cut % len(body)
    damaged = body[:at] + junk.encode() + body[at:]
    try:
        whole = orjson.loads(damaged)
    except orjson.JSONDecodeError:
        with pytest.raises(BadRequest):
            _read_all(damaged, 50)
        return
    if isinstance(whole, dict) and isinstance(whole.get("objects", []), list):
        assert _read_all(damaged, 50)[0] == whole.get("objects", [])
    else:
        with pytest.raises(BadRequest):
            _read_all(damaged, 50)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # The objects key inside another member first: only the envelope's own list counts.
        (b'{"x": {"objects": [{"a": 1}]}, "objects": [{"b": 2}, {"c": 3}]}', [{"b": 2}, {"c": 3}]),
        (b'{"x": {"objects": [{"a": 1}]}, "objects": []}', []),
        # A key given twice: the last one, as a whole parse takes it.
        (b'{"objects": [{"a": 1}, {"b": 2}], "objects": [{"c": 3}]}', [{"c": 3}]),
        (b'{"objects": [{"a": 1}, {"b": 2}], "obj\\u0065cts": [{"c": 3}]}', [{"c": 3}]),
        (b'{"obj\\u0065cts": [{"c": 3}], "objects": [{"a": 1}, {"b": 2}]}', [{"a": 1}, {"b": 2}]),
        (b'{"next": "\\"objects\\":[{}]", "objects": [{"a": "]"}, {"b": "},{"}]}', [{"a": "]"}, {"b": "},{"}]),
        (b'{"more": false}', []),
    ],
)
def test_layouts_that_could_mislead_a_cut(body: bytes, expected: list[Any]) -> None:
    for slice_bytes in (1, 5, 20, 10_000):
        assert _read_all(body, slice_bytes)[0] == expected


@pytest.mark.parametrize("body", [b"[]", b'{"objects": {}}', b'{"objects": [{"a": 1},]}', b'{"objects": [{"a": 1}'])
def test_what_is_not_an_envelope_is_refused(body: bytes) -> None:
    with pytest.raises(BadRequest):
        _read_all(body, 3)


def test_a_large_envelope_is_read_in_slices_of_about_the_given_size() -> None:
    objects = [{"type": "indicator", "id": f"indicator--{i}", "description": "x" * 100} for i in range(2_000)]
    body = orjson.dumps({"objects": objects})
    env = Envelope.read(body, 10_000)
    assert env.parsed is None
    assert env.spans is not None
    sizes = [end - start for start, end in env.spans]
    assert len(sizes) == pytest.approx(len(body) / 10_000, rel=0.1)
    assert max(sizes) < 10_000 + 200  # a slice ends at the first object end past the size
    batches = list(env.batches())
    assert len(batches) == len(sizes)
    assert [o for batch in batches for o in batch] == objects
