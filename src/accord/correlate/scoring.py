"""Indicator scores that decay with time since last sighting (the MISP decaying model's polynomial curve).

``score(t) = base * (1 - (t / lifetime) ** (1 / decay_speed))`` for ``t < lifetime`` and 0 after, where ``t``
is the time since the value was last sighted (or since ``valid_from``/``created`` when never sighted). A
``decay_speed`` above 1 makes the score fall fast at first and then level out; below 1 keeps it near ``base``
for most of the lifetime and drops it sharply at the end; 1 is a straight line.

Base score: the mean of the object's STIX ``confidence`` and its source's reliability on the admiralty scale
(the ``admiralty-scale`` taxonomy bundled with pytaxonomies, read offline): a=100, b=80, c=60, d=40, e=20,
f ("cannot be judged") = 50, the neutral middle. When only one of them is known it is the base on its own;
with neither, 50. A source rated g ("deliberately deceptive") always scores 0.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson

from accord.stix.timestamps import timestamp_to_micros

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_MODELS",
    "DEFAULT_THRESHOLD",
    "RELIABILITY_SCORES",
    "DecayModel",
    "base_score",
    "current_score",
    "decay_start_us",
    "indicator_score",
    "is_expired",
    "is_indicator",
    "model_for",
    "reliability_label",
    "reliability_values",
    "score_facts",
    "score_from_facts",
]

DEFAULT_THRESHOLD = 30.0
_US_PER_DAY = 86_400 * 1_000_000
_NEUTRAL = 50.0

# Scores for the taxonomy's source-reliability values; the valid values themselves come from the taxonomy.
RELIABILITY_SCORES = {"a": 100.0, "b": 80.0, "c": 60.0, "d": 40.0, "e": 20.0, "f": _NEUTRAL, "g": 0.0}
_DECEPTIVE = "g"


@dataclass(frozen=True)
class DecayModel:
    """How long a kind of value stays meaningful (days) and the shape of its decline."""

    lifetime_days: float
    decay_speed: float

    def __post_init__(self) -> None:
        if not self.lifetime_days > 0 or not self.decay_speed > 0:
            raise ValueError("lifetime_days and decay_speed must be positive")


# Why these numbers: addresses are re-assigned within weeks (short life, fast early fall); domains are
# re-registered or sinkholed within months (linear); URLs die with their page (in between); a file hash names
# the same bytes forever, so it keeps its score for most of a year and only then drops.
DEFAULT_MODEL = DecayModel(lifetime_days=180, decay_speed=1.0)
DEFAULT_MODELS: dict[str, DecayModel] = {
    "ip": DecayModel(lifetime_days=30, decay_speed=2.0),
    "domain": DecayModel(lifetime_days=90, decay_speed=1.0),
    "url": DecayModel(lifetime_days=60, decay_speed=1.5),
    "hash": DecayModel(lifetime_days=365, decay_speed=0.3),
    "email": DecayModel(lifetime_days=180, decay_speed=1.0),
}


def model_for(kind: str, models: dict[str, DecayModel] | None = None) -> DecayModel:
    """Decay model of an index kind ('hash:sha256' uses the 'hash' model); the default when unlisted."""
    table = DEFAULT_MODELS if models is None else models
    return table.get(kind) or table.get(kind.partition(":")[0]) or DEFAULT_MODEL


@lru_cache(maxsize=1)
def reliability_values() -> frozenset[str]:
    """Valid source-reliability values, read from pytaxonomies' bundled admiralty-scale taxonomy."""
    # Locate the package without importing it: its import costs seconds and is not needed for one file.
    spec = importlib.util.find_spec("pytaxonomies")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pytaxonomies is not installed")
    path = Path(spec.submodule_search_locations[0]) / "data" / "misp-taxonomies" / "admiralty-scale"
    taxonomy = orjson.loads((path / "machinetag.json").read_bytes())
    return frozenset(
        entry["value"]
        for group in taxonomy["values"]
        if group["predicate"] == "source-reliability"
        for entry in group["entry"]
    )


def _reliability_letter(reliability: str) -> str:
    # Accept the bare letter or the machine tag: admiralty-scale:source-reliability="b".
    letter = reliability.rpartition("=")[2].strip().strip('"').lower()
    if letter not in reliability_values() or letter not in RELIABILITY_SCORES:
        raise ValueError(f"unknown source reliability {reliability!r}")
    return letter


def base_score(confidence: int | None, reliability: str | None) -> float:
    """Score 0-100 from a STIX confidence and an admiralty-scale source reliability (a-g)."""
    if confidence is not None and not 0 <= confidence <= 100:
        raise ValueError("confidence must be between 0 and 100")
    if reliability is None:
        return _NEUTRAL if confidence is None else float(confidence)
    letter = _reliability_letter(reliability)
    if letter == _DECEPTIVE:
        return 0.0
    rel = RELIABILITY_SCORES[letter]
    return rel if confidence is None else (confidence + rel) / 2


def current_score(base: float, last_seen_us: int, now_us: int, model: DecayModel) -> float:
    """The base score decayed by the time since `last_seen_us` (epoch µs); 0 once past the lifetime."""
    elapsed_days = max(0, now_us - last_seen_us) / _US_PER_DAY
    if elapsed_days >= model.lifetime_days:
        return 0.0
    fraction: float = (elapsed_days / model.lifetime_days) ** (1.0 / model.decay_speed)
    return base * (1.0 - fraction)


def is_expired(score: float, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Whether a score has fallen below the threshold at which an indicator stops counting."""
    return score < threshold


# ------------------------------------------------------------------------------------------ indicator-ness
# What counts as an active indicator (exports, lookups): only objects that say a value should be detected
# (STIX indicators; a MISP attribute with to_ids becomes one). An observable (SCO) only says a value was seen:
# it never scores as an active indicator. Decay starts from the best date the source gives.

_RELIABILITY_TAG = "admiralty-scale:source-reliability="


def is_indicator(obj: dict[str, object]) -> bool:
    """Whether an object asks for detection (a STIX indicator), not merely records an observation."""
    return obj.get("type") == "indicator"


def reliability_label(obj: dict[str, object]) -> str | None:
    """The object's admiralty-scale source-reliability label, if it carries one."""
    labels = obj.get("labels")
    for label in labels if isinstance(labels, list) else ():
        if isinstance(label, str) and label.lower().startswith(_RELIABILITY_TAG):
            return label
    return None


def decay_start_us(obj: dict[str, object]) -> int | None:
    """Where decay starts: the later of `valid_from` and `modified` (a new version re-asserts the indicator, as
    MISP's decaying model counts from an attribute's last change), else `first_seen` or `created`; None without.
    """
    latest = [us for us in (_micros(obj.get("valid_from")), _micros(obj.get("modified"))) if us is not None]
    if latest:
        return max(latest)
    return _micros(obj.get("first_seen")) or _micros(obj.get("created"))


def _micros(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return timestamp_to_micros(value)
    except ValueError:
        return None


def score_facts(obj: dict[str, object]) -> tuple[float, int | None, int | None, bool]:
    """What an indicator's score depends on besides the value's kind, its sightings and the time:
    (base score, decay start µs, valid_until µs, revoked). Stored per indicator version for exports
    (accord.correlate.indicator_values), so that the score is computed from them by `score_from_facts`.
    """
    confidence = obj.get("confidence")
    conf = confidence if isinstance(confidence, int) and 0 <= confidence <= 100 else None
    try:
        base = base_score(conf, reliability_label(obj))
    except ValueError:
        base = base_score(conf, None)
    return base, decay_start_us(obj), _micros(obj.get("valid_until")), obj.get("revoked") is True


def score_from_facts(
    base: float,
    start_us: int | None,
    until_us: int | None,
    revoked: bool,
    kind: str,
    last_sighting_us: int | None,
    now_us: int,
) -> tuple[float, bool]:
    """(current score, expired) of an indicator's value of `kind` from its `score_facts`: the one formula."""
    last = max(start_us if start_us is not None else now_us, last_sighting_us or 0)
    score = current_score(base, last, now_us, model_for(kind))
    expired = is_expired(score) or revoked
    if until_us is not None and until_us <= now_us and (last_sighting_us is None or last_sighting_us <= until_us):
        expired = True
    return score, expired


def indicator_score(obj: dict[str, object], kind: str, last_sighting_us: int | None, now_us: int) -> tuple[float, bool]:
    """(current score, expired) of an object for a value of `kind`; a non-indicator is (0, expired)."""
    if not is_indicator(obj):
        return 0.0, True
    return score_from_facts(*score_facts(obj), kind, last_sighting_us, now_us)
