"""Search words of an object: what the value index holds for free-text search (accord.correlate.words)."""

from __future__ import annotations

from accord.correlate.words import MAX_WORD, MAX_WORDS, WORD, word_entries, words_of


def test_words_are_distinct_case_folded_runs_in_order_name_first():
    obj = {"name": "APT-29 Phishing", "description": "phishing via a Straße domain; apt again", "labels": ["x"]}
    assert words_of(obj) == ("apt", "29", "phishing", "via", "strasse", "domain", "again")


def test_a_long_run_is_cut_and_single_characters_are_no_words():
    run = "ab" * 50
    assert words_of({"name": f"a {run} b"}) == (run[:MAX_WORD],)


def test_an_object_keeps_its_first_distinct_words_only():
    text = " ".join(f"w{i}" for i in range(MAX_WORDS + 50))
    found = words_of({"name": "w0 w1", "description": text})
    assert len(found) == MAX_WORDS
    assert found[:3] == ("w0", "w1", "w2")
    assert found[-1] == f"w{MAX_WORDS - 1}"


def test_objects_without_text_have_no_words():
    assert words_of({"type": "ipv4-addr", "value": "198.51.100.7"}) == ()
    assert words_of({"name": 7, "description": ["not", "text"]}) == ()


def test_word_entries_are_non_correlating_rows_of_kind_word():
    assert word_entries({"name": "Emotet loader"}) == (
        (WORD, "emotet", None, None, None, False),
        (WORD, "loader", None, None, None, False),
    )
