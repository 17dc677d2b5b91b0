"""Organisation and group names compare by one key, whatever the database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.core.names import name_key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ÄRGER CERT", "ärger cert"),
        ("ÄRGER CERT", "A\u0308rger Cert"),  # a decomposed umlaut
        ("Straße CERT", "STRASSE cert"),
        ("  CERT\tAlpha  ", "cert alpha"),
        ("CERT\u00a0Alpha", "cert alpha"),  # a no-break space
        ("ＣＥＲＴ Alpha", "cert alpha"),  # full-width letters
        ("CERT Al\u200bpha", "cert alpha"),  # a zero-width space
        ("ΣΟΦΙΑ", "σοφια"),
    ],
)
def test_spellings_of_one_name_have_one_key(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize(("a", "b"), [("CERT Alpha", "CERT Alpha 2"), ("Ärger", "Arger"), ("CERT-A", "CERT A")])
def test_different_names_have_different_keys(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


@given(st.text(max_size=60))
def test_the_key_is_its_own_key(name: str) -> None:
    key = name_key(name)
    assert name_key(key) == key
    assert key == key.strip()
    assert "  " not in key
