"""A seeded synthetic data set with a known truth, for the learning tests and benchmark.

The truth: a lead's chance of being good (accepted or won by sales) is a logistic function of
who it is. Two facts are planted against what the starting model believes:

- every lead from the UTM campaign `BAD_CAMPAIGN` is truly bad (−2.5 log-odds), although the
  model gives that campaign +10 points;
- a job title with the word `GOOD_KEYWORD` is truly good (+2.5 log-odds), although the model
  gives it only +5.

Seniority, company size and a demo request help a little, as the model says; industry and
country do nothing. Same seed, same leads, same verdicts.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from shared.events import (
    ActivityProperties,
    ActivityType,
    Attribution,
    Consent,
    Contact,
    LeadActivity,
    LeadActivityEvent,
    LeadCaptured,
    LeadCapturedEvent,
    LeadFeedback,
    LeadFeedbackEvent,
    ReasonCode,
    Verdict,
)

BAD_CAMPAIGN = "blast-2026"
GOOD_KEYWORD = "architect"
CAMPAIGNS = (BAD_CAMPAIGN, "newsletter", "webinar-q4", "partner")
TITLES = (
    "Head of Platform",
    "VP Engineering",
    "Director of IT",
    "Software Engineer",
    "Solutions Architect",
    "Enterprise Architect",
    "Marketing Manager",
    "Analyst",
)
SIZES = ("1-10", "11-50", "51-200", "201-500", "1001-5000")
INDUSTRIES = ("software", "retail", "finance", "education")
SOURCES = ("website", "paid", "partner")

MODEL = f"""
version: synthetic-1
fit_rules:
  - {{id: senior_title, kind: job_title, points: 20, keywords: [head, vp, director]}}
  - {{id: architect_title, kind: job_title, points: 5, keywords: [{GOOD_KEYWORD}]}}
  - {{id: target_size, kind: company_size, points: 15, bands: ["51-200", "201-500"]}}
  - {{id: target_industry, kind: industry, points: 10, industries: [software]}}
  - {{id: blast_campaign, kind: campaign, points: 10, campaigns: [{BAD_CAMPAIGN}]}}
engagement_rules:
  - {{id: demo_request, activity: demo_request, points: 30, cap: 30, half_life_days: 30}}
grades: {{A: 40, B: 25, C: 10}}
threshold: {{floor: 30, base: 60, ceiling: 80}}
recycle: {{cooldown_days: 30, max_recycles: 2}}
"""


@dataclass(frozen=True)
class SyntheticLead:
    lead_id: uuid.UUID
    job_title: str
    company_size: str
    industry: str
    country: str
    campaign: str
    source: str
    demo: bool
    good: bool  # the truth, drawn once

    @property
    def truth(self) -> float:
        return truth(self.job_title, self.company_size, self.campaign, self.demo)


def truth(job_title: str, company_size: str, campaign: str, demo: bool) -> float:
    words = job_title.lower().split()
    logit = -0.6
    logit += 0.6 if {"head", "vp", "director"} & set(words) else 0.0
    logit += 2.5 if GOOD_KEYWORD in words else 0.0
    logit += 0.4 if company_size in ("51-200", "201-500") else 0.0
    logit -= 2.5 if campaign == BAD_CAMPAIGN else 0.0
    logit += 0.5 if demo else 0.0
    return 1.0 / (1.0 + math.exp(-logit))


def generate(count: int, seed: int = 12) -> list[SyntheticLead]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        title, size = rng.choice(TITLES), rng.choice(SIZES)
        campaign, demo = rng.choice(CAMPAIGNS), rng.random() < 0.3
        p = truth(title, size, campaign, demo)
        out.append(
            SyntheticLead(
                lead_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                job_title=title,
                company_size=size,
                industry=rng.choice(INDUSTRIES),
                country=rng.choice(("GB", "DE", "FR", "US")),
                campaign=campaign,
                source=rng.choice(SOURCES),
                demo=demo,
                good=rng.random() < p,
            )
        )
    return out


def captured(lead: SyntheticLead) -> LeadCapturedEvent:
    touch = Attribution(form_id="demo", source=lead.source, utm_campaign=lead.campaign)
    return LeadCapturedEvent(
        producer="capture",
        lead_id=lead.lead_id,
        correlation_id=lead.lead_id,
        payload=LeadCaptured(
            merged=False,
            contact=Contact(
                email=f"p{lead.lead_id.hex[:10]}@example.com",
                job_title=lead.job_title,
                company=f"Company {lead.lead_id.hex[:6]}",
                company_size=lead.company_size,
                industry=lead.industry,
                country=lead.country,
                language="en",
            ),
            consent=Consent(given=True),
            first_touch=touch,
            last_touch=touch,
        ),
    )


def lead_body(lead: SyntheticLead) -> dict[str, object]:
    """The lead as a server-side integration posts it to capture's `POST /v1/leads`."""
    return {
        "email": f"p{lead.lead_id.hex[:10]}@example.com",
        "job_title": lead.job_title,
        "company": f"Company {lead.lead_id.hex[:6]}",
        "company_size": lead.company_size,
        "industry": lead.industry,
        "country": lead.country,
        "language": "en",
        "consent": {"given": True, "text_version": "2026-01"},
        "attribution": {"source": lead.source, "utm_campaign": lead.campaign},
    }


def activity_bodies(lead: SyntheticLead, lead_id: uuid.UUID) -> list[dict[str, object]]:
    """Its activities as posted to capture's `POST /v1/activities`, for the id capture gave it."""
    return [{"lead_id": str(lead_id), "activity_type": "demo_request"}] if lead.demo else []


def activities(lead: SyntheticLead, at: datetime | None = None) -> list[LeadActivityEvent]:
    if not lead.demo:
        return []
    return [
        LeadActivityEvent(
            producer="capture",
            lead_id=lead.lead_id,
            correlation_id=lead.lead_id,
            payload=LeadActivity(
                activity_type=ActivityType.demo_request,
                happened_at=at or datetime.now(UTC),
                properties=ActivityProperties(),
            ),
        )
    ]


def verdict(lead: SyntheticLead, seed: int = 12, at: datetime | None = None) -> LeadFeedbackEvent:
    """Sales' verdict on the lead, from its truth: good ones accepted (a third won), bad ones
    rejected (a fifth lost). Dated `at`, by default now."""
    rng = random.Random(f"{seed}:{lead.lead_id}")
    when = at or datetime.now(UTC)
    if lead.good:
        won = rng.random() < 1 / 3
        feedback = LeadFeedback(
            verdict=Verdict.won if won else Verdict.accepted,
            deal_value=Decimal(rng.randrange(1_000, 50_000)) if won else None,
            currency="EUR" if won else None,
        )
    else:
        lost = rng.random() < 0.2
        feedback = LeadFeedback(
            verdict=Verdict.lost if lost else Verdict.rejected,
            reason_code=ReasonCode.no_budget if lost else ReasonCode.no_need,
        )
    return LeadFeedbackEvent(
        producer="feedback",
        lead_id=lead.lead_id,
        correlation_id=lead.lead_id,
        occurred_at=when,
        payload=feedback,
    )
