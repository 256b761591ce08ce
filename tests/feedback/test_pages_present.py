"""The pages' words (pages/present.py): a score's explanation, the time left to follow up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.feedback.api.pages.present import explanation, time_left


def test_the_explanation_is_in_plain_words_biggest_effect_first() -> None:
    scored = {
        "explanation": [
            {"rule": "free_mail", "points": -10, "kind": "fit"},
            {"rule": "visited_pricing_twice", "points": 20, "kind": "engagement"},
            {"rule": "demo_request", "points": 30, "kind": "engagement", "decayed_value": 15.2},
        ]
    }
    assert explanation(scored) == [
        "Demo request: +30 (worth +15 now, fading with time)",
        "Visited pricing twice: +20",
        "Free mail: -10",
    ]
    assert explanation(None) == [] and explanation({"explanation": []}) == []


def test_time_left_counts_down_and_then_says_how_late() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert time_left(now + timedelta(hours=2, minutes=5), now) == ("2 h 05 min left", False)
    assert time_left(now + timedelta(seconds=30), now) == ("under a minute left", False)
    assert time_left(now - timedelta(minutes=12), now) == ("overdue by 12 min", True)
    assert time_left(now + timedelta(days=2, hours=3), now) == ("2 d 3 h left", False)
    assert time_left(None, now) == ("", False)
