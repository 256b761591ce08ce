"""What scoring's API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field


class ApprovalOut(BaseModel):
    by: str
    at: datetime


class ChangeOut(BaseModel):
    action: str = Field(examples=["approved:sales"])
    by: str
    at: datetime


class RescoringOut(BaseModel):
    done: int = Field(description="Leads scored with this model so far.")
    total: int = Field(description="Leads there are (erased ones aside).")
    finished: bool


class ModelOut(BaseModel):
    version: str
    status: str = Field(examples=["draft", "approved", "active", "retired"])
    document: dict[str, Any]
    approvals: dict[str, ApprovalOut | None]
    missing_approvals: list[str]
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    activated_by: str | None = None
    activated_at: datetime | None = None
    retired_at: datetime | None = None
    history: list[ChangeOut] = []
    rescoring: RescoringOut | None = Field(None, description="For the active model.")


class ModelSummary(BaseModel):
    version: str
    status: str
    missing_approvals: list[str]
    updated_at: datetime


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


class TeamOut(BaseModel):
    team_id: str
    free_slots: int
    queue_length: int
    published_at: datetime


class ThresholdOut(BaseModel):
    floor: int
    base: int
    ceiling: int
    effective: int
    free_slots: int | None = Field(description="k; null while no sales capacity is known.")
    held: int
    released_since_capacity: int
    capacity_team: str | None = Field(description="The team whose state arrived last.")
    capacity_published_at: datetime | None
    capacity_received_at: datetime | None
    teams: list[TeamOut]
    model_version: str
    reason: str = Field(examples=["sales has 3 free slots; the 3rd best held lead scores 62"])


class RateOut(BaseModel):
    outcomes: int = Field(description="Outcomes behind the rate (unweighted).")
    rate: float = Field(description="Posterior mean, recency-weighted, Beta(1, 1) prior.")
    low: float = Field(description="95 % interval, low end.")
    high: float


class RuleCalibrationOut(BaseModel):
    rule: str
    points: int
    outcomes: int = Field(description="Judged leads that fired the rule.")
    acceptance: RateOut
    win: RateOut
    good_when_fired: RateOut
    good_otherwise: RateOut
    proposed_points: int | None = Field(description="Null: no change proposed (see note).")
    change: int | None
    note: str = Field(examples=["not enough evidence: 12 outcomes fired it and 80 did not; ..."])


class BandOut(BaseModel):
    band: str = Field(examples=["A", "60..69"])
    acceptance: RateOut
    win: RateOut


class CalibrationOut(BaseModel):
    version: str
    outcomes: int
    half_life_days: float
    minimum_outcomes: int
    points_per_logit: float = Field(
        description="The model's scale: (ceiling - floor) / ln 81 (floor to ceiling read as "
        "1-in-10 to 9-in-10 odds)."
    )
    rules: list[RuleCalibrationOut]
    grades: list[BandOut]
    score_bands: list[BandOut]


class ProposalIn(BaseModel):
    version: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", description="The new draft's version."
    )
    rules: list[str] | None = Field(None, description="Only these rules; default every proposal.")


class BacktestIn(BaseModel):
    model_config = {"populate_by_name": True}

    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")


class BacktestOut(BaseModel):
    id: str
    version: str
    baseline: str | None = Field(description="The version active when it was asked for.")
    range_from: datetime
    range_to: datetime
    status: str = Field(examples=["queued", "running", "done"])
    done: int
    total: int
    result: dict[str, Any] | None


class DriftOut(BaseModel):
    dimension: str = Field(examples=["source", "utm_campaign"])
    key: str
    this_month: float | None
    last_month: float | None
    counts: dict[str, dict[str, int]]
    degraded: bool
    note: str


class DriftReport(BaseModel):
    margin: float
    minimum_per_class: int
    items: list[DriftOut]
