"""The exported values of stored indicator rows (`indicator_value`): their kinds, scores, activity and warninglists.

Shared by every reader of the table (accord.exports.source: the items of CSV and MISP, the indicators of the
blocklist, RPZ and Suricata): the score is the one formula (`scoring.score_from_facts`) over the facts the store
recorded, and a value's warninglists are those recorded while the active lists are still those.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from accord.correlate.indicator_values import LIST_SEPARATOR
from accord.correlate.indicator_values import export_kind as kind_of
from accord.correlate.scoring import current_score, is_expired, model_for, score_from_facts
from accord.correlate.warninglists import WarninglistMatcher
from accord.stix.timestamps import timestamp_to_micros

# The indicator_value columns a version's rows are read with, head (ord 0) first.
IV_COLUMNS = ("ord", "kind", "value", "base", "start_us", "until_us", "revoked", "rev", "name", "listed", "listed_by")


@dataclass(slots=True)
class Value:
    """One value of an exported object, with what an export decides on."""

    kind: str  # export kind
    value: str
    score: float
    active: bool  # an indicator's value that has not decayed, expired or been revoked
    listed: tuple[str, ...]  # warninglists holding it


@dataclass(slots=True)
class Indicator:
    """One readable indicator version as the exports of active values (blocklist, RPZ, Suricata) see it."""

    seq: int
    id: str
    name: str  # what a Suricata rule's msg names it by (its name, else its id)
    rev: int  # its Suricata rule revision (accord.correlate.indicator_values.rule_rev)
    values: list[Value] = field(default_factory=list)


def index_kinds(kinds: Iterable[str]) -> list[str]:
    """The index kinds whose rows may have these export kinds (ip -> ip; cidr -> ip; md5 -> hash:md5, ...)."""
    out = set()
    for kind in kinds:
        out |= {kind, f"hash:{kind}"}
        if kind == "cidr":
            out.add("ip")
    return sorted(out)


# The values of one version, and of versions stored together, mostly share their facts: each is scored once.
score = lru_cache(maxsize=4_096)(score_from_facts)


def micros(stamp: Any) -> int | None:
    """A last-seen timestamp (value_index.lo of a sighting) in µs; None when there is none or it is no date."""
    if not stamp:
        return None
    try:
        return timestamp_to_micros(stamp) or None
    except ValueError:
        return None


def listed_names(kind: str, value: str, listed: str | None, stored: bool, wl: WarninglistMatcher) -> tuple[str, ...]:
    """The warninglists holding a value: those recorded with it (`stored`: while the active lists are those the
    version was matched against), else matched now."""
    if stored:
        return tuple(listed.split(LIST_SEPARATOR)) if listed else ()
    return tuple(wl.hits(kind, value, url_host=False))


def scored_values(
    ivs: list[tuple[Any, ...]],
    last_sighting_us: int | None,
    kinds: frozenset[str] | None,
    omit_listed: bool,
    min_score: float | None,
    now_us: int,
    wl: WarninglistMatcher,
) -> list[Value]:
    """The exported values of an indicator version from its indicator_value rows (IV_COLUMNS, head first): what
    source.json_values computes from its JSON, with the same scoring formula (scoring.score_from_facts) and the
    warninglists matched when it was stored while the active lists are those."""
    _, _, _, base, start_us, until_us, revoked, _rev, _name, _, by = ivs[0]
    base, revoked = float(base), bool(revoked)
    stored = by is not None and by == getattr(wl, "fingerprint", None)
    values = []
    for _, kind, value, *_rest, listed, _by in ivs[1:]:
        xk = kind_of(kind, value)
        if kinds is not None and xk not in kinds:
            continue
        names = listed_names(kind, value, listed, stored, wl)
        if names and omit_listed:
            continue
        sc, expired = score(base, start_us, until_us, revoked, kind, last_sighting_us, now_us)
        if min_score is not None and sc < min_score:
            continue
        values.append(Value(xk, value, round(sc, 1), not expired, names))
    return values


@lru_cache(maxsize=1_024)
def active_for(base: float, kind: str, min_score: float | None = None) -> int:
    """How long (µs) after it was last asserted a value of an index `kind` with this base score stays active and
    scores at least `min_score`: the largest elapsed time for which `score_from_facts` neither expires it by decay
    nor scores it under min_score (the score falls as time passes); -1 when it never is.

    Exports of active values compare each value's age with it instead of scoring each value: the same verdict.
    """
    model = model_for(kind)

    def holds(elapsed_us: int) -> bool:
        value = current_score(base, 0, elapsed_us, model)
        return not is_expired(value) and (min_score is None or value >= min_score)

    if not holds(0):
        return -1
    low, high = 0, int(model.lifetime_days * 86_400_000_000) + 1  # holds(low); not holds(high): a score of 0
    while high - low > 1:
        middle = (low + high) // 2
        if holds(middle):
            low = middle
        else:
            high = middle
    return low
