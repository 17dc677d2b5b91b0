"""The key that names of organisations and sharing groups are unique by and looked up by."""

from __future__ import annotations

import unicodedata

NAME_KEY_MAX = 1000


def name_key(name: str) -> str:
    """The comparison key of a name: NFKC, case-folded, invisible format characters dropped, spaces collapsed."""
    # Unicode's NFKC_Casefold, near enough: the second NFKC re-composes what case folding decomposed, and the
    # format characters (zero-width spaces and joiners, bidi marks) are what makes two names look the same.
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return " ".join(visible.split())
