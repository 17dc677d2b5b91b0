"""Free-text search words: the words of an object's name and description, kept in the value index.

Each word is one value-index row of kind WORD (non-correlating: correlation, lookups and exports skip it), written
with the object's other rows in the ingest transaction, so search finds a word with one index range scan on both
SQLite and PostgreSQL. Matching is by whole word, case-insensitive; a query word ending in '*' matches as a prefix.
"""

from __future__ import annotations

import re
from typing import Any

from accord.correlate.indexer import IndexEntry

WORD = "text:word"
TEXT_KEYS = ("name", "description")
# Words are runs of letters and digits (any script); shorter than 2 characters, they say nothing.
_WORD = re.compile(r"\w{2,}", re.UNICODE)
MAX_WORD = 64  # longer runs (hashes, base64) are cut: no word is too long for an index entry
MAX_WORDS = 256  # an object's distinct words kept (a long description's first ones)


def words_of(obj: dict[str, Any]) -> tuple[str, ...]:
    """The distinct search words of an object's name and description, in order of appearance."""
    seen: dict[str, None] = {}
    for key in TEXT_KEYS:
        text = obj.get(key)
        if isinstance(text, str):
            for match in _WORD.finditer(text.casefold()):
                seen[match.group()[:MAX_WORD]] = None
                if len(seen) >= MAX_WORDS:
                    return tuple(seen)
    return tuple(seen)


def word_entries(obj: dict[str, Any]) -> tuple[IndexEntry, ...]:
    """The value-index rows of an object's search words (pure: bulk imports run it in workers)."""
    return tuple((WORD, word, None, None, None, False) for word in words_of(obj))


def query_words(text: str) -> list[tuple[str, bool]]:
    """The words of a search query as (word, is_prefix); each must match (AND)."""
    out: dict[tuple[str, bool], None] = {}
    for match in re.finditer(r"(\w+)(\*?)", text.casefold()):
        word, star = match.group(1)[:MAX_WORD], bool(match.group(2))
        if len(word) >= 2:
            out[(word, star)] = None
    return list(out)
