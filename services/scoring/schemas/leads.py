"""What scoring's API answers about a lead: its score, explained."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class RuleOut(BaseModel):
    rule: str
    kind: str
    points: int
    count: int | None = Field(None, description="Engagement: activities that matched.")
    raw: float | None = Field(None, description="Engagement: points before decay (capped).")
    decayed: float | None = Field(None, description="Engagement: value after decay and cap.")


class ScoreNowOut(BaseModel):
    at: datetime = Field(description="The instant these values are computed for: the request's.")
    total: int
    engagement: int
    rules: list[RuleOut] = Field(
        description="Every engagement rule that fires, with its value decayed to `at`."
    )


class LeadScoreOut(BaseModel):
    lead_id: str
    state: str = Field(examples=["nurture", "held", "mql", "recycled", "exhausted", "disqualified"])
    total: int | None = Field(description="As of `scored_at`, like `fit`, `engagement`, `rules`.")
    fit: int | None
    engagement: int | None
    grade: str | None
    model_version: str | None
    threshold: int | None = Field(description="The MQL threshold in force now.")
    scored_at: datetime | None = Field(description="The last scoring: what `rules` explain.")
    rules: list[RuleOut] = Field(
        description="The rules that fired at the last scoring; engagement decayed to `scored_at`."
    )
    now: ScoreNowOut | None = Field(
        None,
        description="The engagement decayed to this request's instant, recomputed from the stored "
        "activities with the model that scored the lead (fit does not decay); absent before any "
        "scoring or when that model is gone.",
    )
    recycles: int
    cooldown_until: datetime | None
