from datetime import UTC, datetime, timedelta

from schemas.events import Quantity
from workers.enrichers.urgency import RECENT_BONUS, score

NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_calm_post_scores_zero():
    assert score("Match report", "The team trained on Monday.", []) == 0.0


def test_breaking_casualties_and_warnings_add_up_and_stay_within_one():
    dead = [Quantity(text="300 killed", value=300, kind="casualties")]
    value = score("BREAKING: blast", "Breaking: officials warn of imminent strikes; evacuate now.", dead, NOW, NOW)
    assert 0.9 <= value <= 1.0


def test_recency_bonus_fades_with_age():
    fresh = score("t", "x", [], NOW, NOW + timedelta(minutes=5))
    old = score("t", "x", [], NOW, NOW + timedelta(hours=7))
    assert (fresh, old) == (RECENT_BONUS, 0.0)


def test_mixed_naive_and_aware_times_are_ignored_not_fatal():
    assert score("t", "x", [], NOW, datetime(2024, 1, 1)) == 0.0
