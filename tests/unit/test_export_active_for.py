"""scored.active_for: comparing a value's age with it gives the verdict of scoring the value."""

from __future__ import annotations

import random

from accord.correlate.scoring import score_from_facts
from accord.exports.scored import active_for

DAY = 86_400_000_000
NOW = 1_780_000_000_000_000


def test_the_age_limit_gives_the_scored_verdict():
    rng = random.Random(3)
    verdicts = set()
    for _ in range(4_000):
        base = rng.choice([0.0, 29.9, 30.0, 50.0, 67.5, 80.0, 100.0, rng.uniform(0, 100)])
        kind = rng.choice(["ip", "domain", "url", "hash:md5", "email"])
        min_score = rng.choice([None, 30.0, 55.5, rng.uniform(0, 100)])
        limit = active_for(base, kind, min_score)
        # ages around the limit (to the µs) and anywhere, the future included
        for age in (limit - 1, limit, limit + 1, rng.randint(-DAY, 400 * DAY)):
            score, expired = score_from_facts(base, NOW - age, None, False, kind, None, NOW)
            scored = not expired and (min_score is None or score >= min_score)
            assert (limit >= 0 and age <= limit) == scored, (base, kind, min_score, age)
            verdicts.add(scored)
    assert verdicts == {True, False}
