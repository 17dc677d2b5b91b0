"""Per-type precision and recall of the extractor over the labelled corpus of report passages."""

from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path

import pytest

from accord.extract import extract

CORPUS = Path(__file__).parents[2] / "data" / "extract" / "corpus.jsonl"
TYPES = """ipv4-addr ipv6-addr ipv4-cidr ipv6-cidr domain-name url email-addr md5 sha1 sha256 sha512 file-name
windows-registry-key bitcoin-address asn cve attack-technique threat-actor malware tool""".split()  # noqa: SIM905 - a word list reads better as text
THRESHOLD = 0.98


def _passages() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line.strip()]


@functools.cache
def _scores() -> tuple[Counter, Counter, Counter, list[str]]:
    tp, fp, fn = Counter(), Counter(), Counter()
    misses = []
    for passage in _passages():
        got = {(f.type, f.value) for f in extract(passage["text"])}
        expected = {tuple(e) for e in passage["expected"]}
        for kind, _ in got & expected:
            tp[kind] += 1
        for kind, value in got - expected:
            fp[kind] += 1
            misses.append(f"{passage['id']}: unexpected {kind} {value!r}")
        for kind, value in expected - got:
            fn[kind] += 1
            misses.append(f"{passage['id']}: missed {kind} {value!r}")
    return tp, fp, fn, misses


def test_corpus_is_large_and_varied() -> None:
    passages = _passages()
    assert len(passages) >= 60
    assert {p["style"] for p in passages} >= {"vendor-blog", "cert-advisory", "email", "chat", "table", "trap"}
    labelled = {e[0] for p in passages for e in p["expected"]}
    assert labelled == set(TYPES), set(TYPES) - labelled


def test_corpus_covers_every_defang_form() -> None:
    text = "\n".join(p["text"] for p in _passages())
    for form in (
        "hxxp",
        "hXXps",
        "[.]",
        "(.)",
        "{.}",
        "[dot]",
        "(dot)",
        " dot ",
        "[:]",
        "[://]",
        "[@]",
        "[at]",
        "(at)",
        "[/]",
    ):
        assert form in text, form


@pytest.mark.parametrize("kind", TYPES)
def test_precision_and_recall_per_type(kind: str) -> None:
    tp, fp, fn, misses = _scores()
    precision = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else 1.0
    recall = tp[kind] / (tp[kind] + fn[kind]) if tp[kind] + fn[kind] else 1.0
    detail = [m for m in misses if f" {kind} " in m]
    assert precision >= THRESHOLD, detail
    assert recall >= THRESHOLD, detail
