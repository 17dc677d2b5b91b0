"""Decay scoring: base scores from confidence and admiralty-scale reliability, and the decay curve."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.correlate.scoring import (
    DEFAULT_THRESHOLD,
    RELIABILITY_SCORES,
    DecayModel,
    base_score,
    current_score,
    is_expired,
    model_for,
    reliability_values,
)

DAY_US = 86_400 * 1_000_000
models = st.builds(DecayModel, st.floats(0.01, 3650), st.floats(0.05, 20))
bases = st.floats(0, 100)
times = st.integers(0, 10 * 365 * DAY_US)


def test_reliability_values_come_from_the_bundled_taxonomy() -> None:
    assert set("abcdef") <= reliability_values()
    assert set(RELIABILITY_SCORES) == set(reliability_values())


def test_base_score_combinations() -> None:
    assert base_score(None, None) == 50
    assert base_score(80, None) == 80
    assert base_score(None, "a") == 100
    assert base_score(80, "b") == 80
    assert base_score(100, "e") == 60
    assert base_score(90, "F") == 70  # "cannot be judged" is neutral
    assert base_score(100, "g") == 0  # a deliberately deceptive source never counts
    assert base_score(70, 'admiralty-scale:source-reliability="a"') == 85


def test_better_sources_never_score_lower() -> None:
    order = [base_score(60, letter) for letter in "abcde"]
    assert order == sorted(order, reverse=True)


@pytest.mark.parametrize(("confidence", "reliability"), [(101, None), (-1, None), (50, "z"), (50, "")])
def test_base_score_rejects_invalid_input(confidence: int, reliability: str | None) -> None:
    with pytest.raises(ValueError):
        base_score(confidence, reliability)


def test_default_models() -> None:
    assert model_for("ip").lifetime_days == 30
    assert model_for("domain").lifetime_days == 90
    assert model_for("url").lifetime_days == 60
    assert model_for("hash:sha256").lifetime_days == 365
    assert model_for("mutex").lifetime_days == 180
    assert all(0.3 <= model_for(k).decay_speed <= 3 for k in ("ip", "domain", "url", "hash:md5", "mutex"))
    with pytest.raises(ValueError):
        DecayModel(0, 1)


@given(base=bases, model=models, now=times)
def test_score_equals_base_when_just_seen(base: float, model: DecayModel, now: int) -> None:
    assert current_score(base, now, now, model) == base


@given(base=bases, model=models, t1=times, t2=times)
def test_score_never_rises_with_time(base: float, model: DecayModel, t1: int, t2: int) -> None:
    early, late = sorted((t1, t2))
    assert current_score(base, 0, late, model) <= current_score(base, 0, early, model)


@given(base=bases, model=models, now=times)
def test_score_is_bounded_by_base(base: float, model: DecayModel, now: int) -> None:
    assert 0 <= current_score(base, 0, now, model) <= base


@given(base=bases, model=models, extra=st.integers(0, 10 * 365 * DAY_US))
def test_score_is_zero_once_past_the_lifetime(base: float, model: DecayModel, extra: int) -> None:
    lifetime_us = int(model.lifetime_days * DAY_US) + 1
    assert current_score(base, 0, lifetime_us + extra, model) == 0


def test_a_sighting_in_the_future_counts_as_now() -> None:
    assert current_score(80, 10 * DAY_US, 0, model_for("ip")) == 80


def test_linear_model_halves_at_half_life() -> None:
    assert current_score(100, 0, 45 * DAY_US, DecayModel(90, 1)) == pytest.approx(50)


def test_expiry_threshold() -> None:
    assert DEFAULT_THRESHOLD == 30
    assert is_expired(29.9)
    assert not is_expired(30)
    assert is_expired(10, threshold=20)
