"""What scoring's API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


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


class LeadScoreOut(BaseModel):
    lead_id: str
    state: str = Field(examples=["nurture", "held", "mql", "recycled", "exhausted", "disqualified"])
    total: int | None
    fit: int | None
    engagement: int | None
    grade: str | None
    model_version: str | None
    threshold: int | None = Field(description="The MQL threshold in force now.")
    scored_at: datetime | None
    rules: list[RuleOut]
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
