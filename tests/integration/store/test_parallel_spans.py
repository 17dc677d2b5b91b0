"""Parallel import by byte spans: whatever the cuts hit, the objects are exactly the whole-file parse's."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.core.errors import BadRequest
from accord.correlate.warninglists import active_matcher
from accord.store import parallel
from accord.store.prepare import NUL_REASON, prepare_all
from accord.store.sources import Source, read_objects
from tests.builders import bundle, make_indicator, make_malware

MAX = 1_000_000


def _source(path: Path) -> Source:
    return Source(path.name, path, path.stat().st_size)


def _spanned(path: Path, span_bytes: int, monkeypatch: pytest.MonkeyPatch, *, reread: bool = True) -> list[Any]:
    """Prepared objects of a parallel import; with reread=False, failing if the file was read whole instead."""
    with monkeypatch.context() as m:
        m.setattr(parallel, "SPAN_BYTES", span_bytes)
        m.setattr(parallel, "FIRST_SPAN_BYTES", max(1, span_bytes // 3))  # the first span is smaller
        if not reread:
            m.setattr(parallel, "_in_process", None)
        spans = parallel.prepared_spans(_source(path), batch=50, max_bytes=MAX, workers=2)
        return [item for items in spans for item in items]


def _whole(path: Path) -> list[Any]:
    return prepare_all(list(read_objects(_source(path))), MAX, wl=active_matcher())


def _awkward(n: int) -> list[dict[str, Any]]:
    """Objects whose bytes hold element boundaries that are not the bundle's: nested lists and strings."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        refs = [{"source_name": f"src-{k}", "url": f"https://example.org/{i}/{k}"} for k in range(i % 5)]
        phases = [{"kill_chain_name": "lockheed", "phase_name": p} for p in ("recon", "delivery")]
        text = ['a},{"type":"indicator"', 'x}, {"id": "y"', "}]},{[", "plain", '\\"},{\\"'][i % 5]
        if i % 7 == 3:
            text += "\u0000"  # a NUL: refused, whichever span holds it
        elif i % 7 == 5:
            text += "\\u0000"  # a backslash and the text u0000: no NUL
        if i % 3 == 0:
            out.append(make_malware(description=text, external_references=refs, kill_chain_phases=phases))
        else:
            out.append(make_indicator(description=text, x_nested=[{"a": [{"b": text}]}, {"c": refs}]))
    out.insert(n // 2, {"type": "bundle", "not": "a STIX object"})  # refused, in place
    out.insert(n // 3, "a scalar element")
    return out


def test_the_first_span_is_cut_smaller_than_the_rest():
    data = b"[" + b",".join(b'{"type":"x","n":%d}' % i for i in range(2000)) + b"]"
    spans = parallel.cut(data, 1, len(data) - 1, 4000, first=1000)
    sizes = [stop - start for start, stop in spans]
    assert 1000 <= sizes[0] < 1100
    assert all(4000 <= size < 4100 for size in sizes[1:-1])
    parsed = [obj for start, stop in spans for obj in orjson.loads(b"[" + data[start:stop] + b"]")]
    assert [obj["n"] for obj in parsed] == list(range(2000))


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("span_bytes", [64, 700, 5000])
def test_spans_give_the_whole_file_objects_in_order(tmp_path, monkeypatch, indent, span_bytes):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(*_awkward(60)), indent=indent))
    whole = _whole(path)
    assert any(getattr(item, "reason", None) == NUL_REASON for item in whole)  # objects holding a NUL are refused
    assert _spanned(path, span_bytes, monkeypatch, reread=False) == whole


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    extras=st.lists(
        st.recursive(
            st.text(alphabet='{}[],:"\\ ab', max_size=12) | st.integers(),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("xyz", max_size=3), inner, max_size=3),
            max_leaves=8,
        ),
        min_size=1,
        max_size=12,
    ),
    span_bytes=st.integers(1, 400),
    indent=st.sampled_from([None, 1]),
)
def test_any_content_and_any_cut_size_give_the_same_objects(tmp_path, monkeypatch, extras, span_bytes, indent):
    path = tmp_path / "b.json"
    objects = [make_indicator(x_extra=extra) for extra in extras]
    path.write_text(json.dumps(bundle(*objects), indent=indent))
    assert _spanned(path, span_bytes, monkeypatch, reread=False) == _whole(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (lambda b: b[:-7], "not valid JSON"),  # truncated
        (lambda b: b[:-1] + b", garbage}", "not valid JSON"),
        (lambda b: b + b"]", "not valid JSON"),
        (lambda b: b.replace(b'"objects":[{', b'"objects":[{,', 1), "not valid JSON"),
        (lambda b: b.replace(b'"type":"bundle"', b'"type":"report"', 1), "not a STIX bundle"),
        (lambda b: b.replace(b'"type":"bundle"', b'"type":"bundle","spec_version":"2.0"', 1), "STIX 2.0 bundle"),
        (lambda b: b.replace(b"Indicator", b"Indic\xffator"), "not valid JSON"),
        (lambda b: b"", "not valid JSON"),
        (lambda b: b"[" + b + b"]", "not a STIX bundle"),
    ],
)
def test_a_broken_file_gives_the_whole_file_reason(tmp_path, monkeypatch, content, reason):
    path = tmp_path / "b.json"
    path.write_bytes(content(orjson.dumps(bundle(*[make_indicator() for _ in range(40)]))))
    with pytest.raises(BadRequest) as whole:
        _whole(path)
    with pytest.raises(BadRequest) as spanned:
        _spanned(path, 300, monkeypatch)
    assert reason in whole.value.message
    assert spanned.value.message == whole.value.message


def test_objects_key_elsewhere_and_empty_arrays(tmp_path, monkeypatch):
    ind = make_indicator(description='"objects":[1,2]', x_objects={"objects": [{"a": 1}]})
    doc = {"id": "bundle--0e0e0e0e-0000-4000-8000-000000000000", "objects": [ind] * 3, "type": "bundle"}
    path = tmp_path / "b.json"
    path.write_bytes(orjson.dumps(doc))
    assert _spanned(path, 100, monkeypatch) == _whole(path)
    doc = {"x_meta": {"objects": [ind]}, "type": "bundle", "objects": [ind, ind], "x_tail": {"k": [2]}}
    path.write_bytes(orjson.dumps(doc))
    assert [p.id for p in _spanned(path, 100, monkeypatch)] == [ind["id"]] * 2
    path.write_bytes(b'{"type": "bundle", "objects": [ ]}')
    assert _spanned(path, 100, monkeypatch) == []
    path.write_bytes(b'{"type": "bundle", "x": [1], "objects": [], "y": [2]}')
    assert _spanned(path, 100, monkeypatch) == []


def test_gzip_files_are_spanned_too(tmp_path, monkeypatch):
    path = tmp_path / "b.json.gz"
    path.write_bytes(gzip.compress(json.dumps(bundle(*_awkward(40))).encode()))
    assert _spanned(path, 500, monkeypatch, reread=False) == _whole(path)  # spans of a decompressed copy
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(BadRequest) as whole:
        _whole(path)
    with pytest.raises(BadRequest) as spanned:
        _spanned(path, 500, monkeypatch)
    assert "unreadable input" in whole.value.message
    assert spanned.value.message == whole.value.message


_REAL_PREPARE_SPAN = parallel._prepare_span
_NICENESS_LOG: list[Path] = []


def _recording_prepare_span(args: Any) -> Any:
    """parallel._prepare_span, noting the worker's pid and niceness (module level: the pool pickles it by name)."""
    with _NICENESS_LOG[-1].open("a") as out:
        out.write(f"{os.getpid()} {os.nice(0)}\n")
    return _REAL_PREPARE_SPAN(args)


def test_workers_run_at_a_lower_priority_than_the_writer(tmp_path, monkeypatch):
    seen = tmp_path / "niceness"
    _NICENESS_LOG.append(seen)
    monkeypatch.setattr(parallel, "_prepare_span", _recording_prepare_span)
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(*_awkward(40))))
    assert _spanned(path, 300, monkeypatch, reread=False) == _whole(path)
    # The writer prepares a merged span itself when a cut fell inside an object; the rest are the workers'.
    by_pid = dict(line.split() for line in seen.read_text().splitlines())
    writer = by_pid.pop(str(os.getpid()), None)
    assert by_pid
    assert set(by_pid.values()) == {str(min(19, os.nice(0) + parallel.WORKER_NICENESS))}
    assert writer in (None, str(os.nice(0)))
    assert os.nice(0) < parallel.WORKER_NICENESS  # the writer itself is not lowered


_WRITER_PID: list[int] = []


def _failing_in_helpers(args: Any) -> Any:
    """parallel._prepare_span, failing in every helper process (inherited by the fork) but not in the writer."""
    if os.getpid() != _WRITER_PID[-1]:
        raise RuntimeError("this helper fails")
    return _REAL_PREPARE_SPAN(args)


def test_a_failing_helper_leaves_its_spans_to_the_writer(tmp_path, monkeypatch, caplog):
    _WRITER_PID.append(os.getpid())
    monkeypatch.setattr(parallel, "_prepare_span", _failing_in_helpers)
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(*_awkward(40))))
    assert _spanned(path, 300, monkeypatch, reread=False) == _whole(path)
    assert "a helper process failed" in caplog.text  # the helpers were asked, and failed
