"""The galaxy alias entries read back from var/cache are the entries built from the bundled clusters."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from accord.core import settings as core_settings
from accord.extract import galaxy


def _forget() -> None:
    for cached in (galaxy._cached, galaxy.entries, galaxy.prefix_matcher):
        cached.cache_clear()


def test_cached_entries_equal_the_built_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_VAR_DIR", str(tmp_path / "var"))
    core_settings.get_settings.cache_clear()
    _forget()
    try:
        built = galaxy._entries()
        assert galaxy.entries() == built  # built and written
        assert len(list((tmp_path / "var" / "cache").glob("galaxy-entries-*"))) == 1
        _forget()
        assert galaxy.entries() == built  # read back
        _forget()
        short = galaxy.prefix_matcher()  # read back alone: its entries are made as they are read
        assert short.entries[5] == built[5]
        assert list(short.entries) == built
        assert short.entries[-1:] == built[-1:]
    finally:
        core_settings.get_settings.cache_clear()
        _forget()


def test_the_short_text_matcher_finds_what_the_long_text_matcher_finds() -> None:
    text = "APT28 (Fancy Bear) used Cobalt Strike and Mimikatz; LockBit ransomware, Cuba ransomware and emotet-loader."
    lowered = text.encode("ascii", "replace").lower()
    quick = galaxy.find_names(text, lowered, galaxy.quick_matcher())
    assert quick
    assert quick == galaxy.find_names(text, lowered, galaxy.matcher())


def test_the_prefix_matcher_finds_what_the_automaton_finds_on_every_corpus_passage() -> None:
    # Texts under galaxy._AUTOMATON_MIN bytes are searched without an automaton: same leftmost-longest matches.
    corpus = Path(__file__).parents[2] / "data" / "extract" / "corpus.jsonl"
    texts = [orjson.loads(line)["text"] for line in corpus.read_text("utf-8").splitlines() if line.strip()]
    texts.append("apt28apt29 Fancy Bear Fancy Bears LockBit 3.0 lockbit cobalt strike beacon Cobalt Strike")
    automaton, prefixes = galaxy.quick_matcher(), galaxy.prefix_matcher()
    found = 0
    for text in texts:
        lowered = text.encode("ascii", "replace").lower()
        expected = [tuple(match) for match in automaton.find(lowered)]
        assert prefixes.find(lowered) == expected
        found += len(expected)
    assert found > 50  # the comparison covered real matches


def test_short_and_long_texts_name_the_same_threats() -> None:
    text = "APT28 (Fancy Bear) used Cobalt Strike and Mimikatz; LockBit ransomware and Cuba ransomware. "
    assert len(text) < galaxy._AUTOMATON_MIN
    short = galaxy.find_names(text, text.encode("ascii", "replace").lower())
    assert {entry.canonical for _, _, entry in short} >= {"APT28", "Cobalt Strike", "Mimikatz"}
    padded = text + " " * galaxy._AUTOMATON_MIN  # the same names, found by the automaton
    assert galaxy.find_names(padded, padded.encode("ascii", "replace").lower()) == short


def test_a_one_text_process_scans_with_the_nfa_below_eight_megabytes(monkeypatch: pytest.MonkeyPatch) -> None:
    # `accord extract` reads one report: the DFA's longer build would not repay itself below _ONE_TEXT_DFA_MIN bytes.
    monkeypatch.setattr(galaxy, "_one_text", False)
    assert galaxy._matcher_for(100) is galaxy.prefix_matcher()
    assert galaxy._matcher_for(galaxy._DFA_MIN - 1) is galaxy.quick_matcher()
    assert galaxy._matcher_for(galaxy._DFA_MIN) is galaxy.matcher()  # a server keeps the DFA for its next texts
    galaxy.one_text_process()
    assert galaxy._matcher_for(galaxy._DFA_MIN) is galaxy.quick_matcher()
    assert galaxy._matcher_for(galaxy._ONE_TEXT_DFA_MIN - 1) is galaxy.quick_matcher()
    assert galaxy._matcher_for(galaxy._ONE_TEXT_DFA_MIN) is galaxy.matcher()
