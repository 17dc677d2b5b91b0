"""Issue 22, item 3: only indicators are active indicators, and decay starts from the best date the source gives."""

from __future__ import annotations

from accord.correlate.scoring import decay_start_us, indicator_score
from accord.feeds.misp import event_objects
from accord.stix.timestamps import timestamp_to_micros

NOW = timestamp_to_micros("2026-06-15T00:00:00Z")


def _misp_event() -> dict:
    # A long-running MISP event (dated 2019) to which a domain was added, to_ids, two days ago, and an
    # observable (to_ids false) with no date of its own.
    recent = str(NOW // 1_000_000 - 2 * 86_400)
    return {
        "Event": {
            "uuid": "5c8b2f6e-0000-4000-8000-000000000001",
            "info": "Long-running phishing event",
            "date": "2019-03-01",
            "timestamp": recent,
            "Attribute": [
                {"uuid": "5c8b2f6e-0000-4000-8000-000000000002", "type": "domain", "category": "Network activity",
                 "value": "fresh-phish.net", "to_ids": True, "timestamp": recent},
                {"uuid": "5c8b2f6e-0000-4000-8000-000000000003", "type": "domain", "category": "Network activity",
                 "value": "just-seen.net", "to_ids": False, "timestamp": recent},
            ],
        }
    }  # fmt: skip


def test_a_recent_to_ids_attribute_of_an_old_event_is_active():
    _creator, objects = event_objects(_misp_event(), None)
    (indicator,) = [o for o in objects if o["type"] == "indicator"]
    assert indicator["valid_from"].startswith("2019-03-01")  # what the feed reader gives: the event's date
    score, expired = indicator_score(indicator, "domain", None, NOW)
    assert score > 45  # two days into a 90-day linear decay of the neutral base 50
    assert expired is False


def test_an_observable_is_never_an_active_indicator():
    _creator, objects = event_objects(_misp_event(), None)
    (observable,) = [o for o in objects if o["type"] == "domain-name"]
    assert indicator_score(observable, "domain", None, NOW) == (0.0, True)
    # however recently it was sighted
    assert indicator_score(observable, "domain", NOW, NOW) == (0.0, True)


def test_decay_starts_from_the_later_of_valid_from_and_modified_else_first_seen_or_created():
    later = {
        "valid_from": "2026-01-01T00:00:00Z",
        "modified": "2026-05-01T00:00:00Z",
        "created": "2025-01-01T00:00:00Z",
    }
    assert decay_start_us(later) == timestamp_to_micros("2026-05-01T00:00:00Z")
    assert decay_start_us({"first_seen": "2026-02-01T00:00:00Z"}) == timestamp_to_micros("2026-02-01T00:00:00Z")
    assert decay_start_us({"created": "2026-03-01T00:00:00Z"}) == timestamp_to_micros("2026-03-01T00:00:00Z")
    assert decay_start_us({"name": "no dates"}) is None


def test_expiry_revocation_and_sightings_still_decide():
    base = {"type": "indicator", "valid_from": "2026-06-01T00:00:00Z", "modified": "2026-06-01T00:00:00Z"}
    assert indicator_score(base, "domain", None, NOW)[1] is False
    assert indicator_score({**base, "revoked": True}, "domain", None, NOW)[1] is True
    ended = {**base, "valid_until": "2026-06-10T00:00:00Z"}
    assert indicator_score(ended, "domain", None, NOW)[1] is True
    old = {"type": "indicator", "valid_from": "2025-01-01T00:00:00Z", "modified": "2025-01-01T00:00:00Z"}
    assert indicator_score(old, "domain", None, NOW) == (0.0, True)
    assert indicator_score(old, "domain", NOW - 86_400_000_000, NOW)[1] is False  # sighted yesterday


def test_the_examples_of_docs_exports_md():
    def ind(**dates: str) -> dict:
        return {"type": "indicator", "confidence": 80, **dates}

    june = {"valid_from": "2026-06-01T00:00:00Z", "modified": "2026-06-01T00:00:00Z"}
    january = {"valid_from": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z"}
    sighted = timestamp_to_micros("2026-06-14T00:00:00Z")
    misp = {"valid_from": "2019-03-01T00:00:00Z", "modified": "2026-06-13T00:00:00Z"}
    assert round(indicator_score(ind(**june), "domain", None, NOW)[0], 1) == 67.6
    assert round(indicator_score(ind(**january), "domain", sighted, NOW)[0], 1) == 79.1
    assert indicator_score(ind(**january), "domain", None, NOW) == (0.0, True)
    assert round(indicator_score(ind(**misp), "domain", None, NOW)[0], 1) == 78.2
