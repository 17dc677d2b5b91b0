"""The suffix trie answers exactly what tldextract answers, for every rule of its bundled list."""

from __future__ import annotations

import random
import string

from accord.correlate.matching import _domain_shape, is_public_suffix
from accord.correlate.observables import _idna, _tld_extractor, public_suffix_size, registered_domain


def _names() -> set[str]:
    rng = random.Random(5)

    def label() -> str:
        return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(rng.randint(1, 8)))

    names = {"localhost", "a.unknowntld", "x.y.ck", "a.b.www.ck", "www.ck", "foo.github.io", "co.uk", "ex.futurecms.at"}
    for rule in _tld_extractor().tlds:
        labels = [label() if part == "*" else part for part in rule.lstrip("!").split(".")]
        if not rule.isascii():
            labels = [part if part.isascii() else (_idna(part) or "") for part in labels]
        name = ".".join(labels)
        if name and ".." not in name and not name.startswith("."):
            names |= {name, f"{label()}.{name}", f"{label()}.{label()}.{name}", name.partition(".")[2]}
    return {n for n in names if n}


def test_every_rule_of_the_bundled_list_answers_like_tldextract() -> None:
    extract = _tld_extractor()
    names = _names()
    assert len(names) > 20_000
    for name in names:
        parts = extract(name)
        size = len(parts.suffix.split(".")) if parts.suffix else 0
        if parts.suffix and parts.domain:
            assert public_suffix_size(name.split(".")) == size, name
            assert registered_domain(name) == f"{parts.domain}.{parts.suffix}", name
            shape = _domain_shape.__wrapped__(name)
            assert shape[2] is True, name
            assert shape[1][-1:] in ((), (f"{parts.domain}.{parts.suffix}",)), name
        else:
            assert registered_domain(name) is None, name
            assert is_public_suffix(name) == bool(parts.suffix), name


def test_idn_suffixes_match_in_their_ascii_form() -> None:
    assert registered_domain("xn--80ak6aa92e.xn--p1ai") == "xn--80ak6aa92e.xn--p1ai"  # a .рф name
    assert is_public_suffix("xn--p1ai")


def test_the_trie_read_back_from_var_cache_answers_like_the_built_one(tmp_path, monkeypatch) -> None:
    from accord.core import settings as core_settings
    from accord.correlate import observables

    monkeypatch.setenv("ACCORD_VAR_DIR", str(tmp_path / "var"))
    core_settings.get_settings.cache_clear()
    observables._suffix_trie.cache_clear()
    try:
        built = observables._suffix_trie()  # built, then written
        assert [p.name.split("-")[:2] for p in (tmp_path / "var" / "cache").iterdir()] == [["suffix", "trie"]]
        observables._suffix_trie.cache_clear()
        assert observables._suffix_trie() == built  # read back
        extract = _tld_extractor()
        for name in sorted(_names())[::20]:
            parts = extract(name)
            if parts.suffix and parts.domain:
                assert registered_domain(name) == f"{parts.domain}.{parts.suffix}", name
    finally:
        observables._suffix_trie.cache_clear()
        core_settings.get_settings.cache_clear()
