"""Free-text search words: the words of an object's name and description, kept in the value index.

Each word is one value-index row of kind WORD (non-correlating: correlation, lookups and exports skip it), written
with the object's other rows in the ingest transaction, so search finds a word with one index range scan on both
SQLite and PostgreSQL. Matching is by whole word, case-insensitive; a query word ending in '*' matches as a prefix.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accord.correlate.indexer import IndexEntry

WORD = "text:word"
MAX_WORD = 64  # longer runs (hashes, base64) are cut: no word is too long for an index entry
MAX_WORDS = 256  # an object's distinct words kept (a long description's first ones)
# Words are runs of letters and digits (any script); shorter than 2 characters, they say nothing. The group is
# a run's first MAX_WORD characters: the rest of the run is matched, and left out.
_WORD = re.compile(rf"(\w{{2,{MAX_WORD}}})\w*", re.UNICODE)


def words_of(obj: dict[str, Any]) -> tuple[str, ...]:
    """The distinct search words of an object's name and description, in order of appearance."""
    name, description = obj.get("name"), obj.get("description")
    found = _WORD.findall(name.casefold()) if isinstance(name, str) else []
    if isinstance(description, str):
        found += _WORD.findall(description.casefold())
    return tuple(islice(dict.fromkeys(found), MAX_WORDS)) if found else ()


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
