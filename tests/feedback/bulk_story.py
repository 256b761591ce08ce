"""A random story of leads' events for the batch tests, cut into batches."""

from __future__ import annotations

import random
from datetime import timedelta

from shared.events import ActivityProperties, Envelope, LeadActivity, LeadActivityEvent
from tests.feedback.conftest import T0, Journey, capacity


def activity(lead: Journey, minutes: float) -> LeadActivityEvent:
    at = T0 + timedelta(minutes=minutes)
    return LeadActivityEvent(
        producer="capture",
        lead_id=lead.lead_id,
        correlation_id=lead.correlation_id,
        occurred_at=at,
        payload=LeadActivity(
            activity_type="pricing_page_view",
            happened_at=at,
            properties=ActivityProperties(url="https://example.com/pricing"),
        ),
    )


def random_story(seed: int, people: int = 12, events: int = 140) -> list[list[Envelope]]:
    """Leads' events of every kind, out of order in time (across two days), some leads captured
    twice (merged or not), reassigned, now and then erased (and heard of again after), team
    capacity between; cut into batches of 1 to 15."""
    rng = random.Random(seed)
    journeys = [Journey() for _ in range(people)]
    story: list[Envelope] = []
    for n in range(events):
        lead = rng.choice(journeys)
        if n == events // 2:
            story.append(journeys[0].erased(T0))  # someone erased, and heard of again after
        minutes = rng.uniform(0, 60 * 30)  # into the next day too
        at = T0 + timedelta(minutes=minutes)
        kind = rng.random()
        if kind < 0.18:
            story.append(
                lead.captured(
                    at,
                    source=rng.choice(["ads", "seo"]),
                    form=rng.choice(["demo", "trial"]),
                    merged=rng.random() < 0.3,
                )
            )
        elif kind < 0.33:
            story.append(activity(lead, minutes))
        elif kind < 0.5:
            story.append(
                lead.scored(
                    at,
                    score=rng.randrange(20, 90),
                    threshold=rng.randrange(50, 70),
                    model=rng.choice(["m1", "m2"]),
                )
            )
        elif kind < 0.62:
            story.append(lead.mql(at, threshold=rng.randrange(50, 70), model="m2"))
        elif kind < 0.68:
            story.append(lead.returned(at))
        elif kind < 0.75:
            story.append(lead.queued(at, team=rng.choice(["emea", "apac"])))
        elif kind < 0.93:
            attempt = rng.choice([1, 1, 2, 3])
            story.append(lead.assigned(at, rep=f"rep-{rng.randrange(4)}", attempt=attempt))
        elif kind < 0.97:
            story.append(capacity(at, team=rng.choice(["emea", "apac"]), free=rng.randrange(5)))
        else:
            story.append(lead.erased(at))
    batches, start = [], 0
    while start < len(story):
        size = rng.randrange(1, 16)
        batches.append(story[start : start + size])
        start += size
    return batches
