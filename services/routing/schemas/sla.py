"""The SLA report: on-time verdicts and breaches per rep."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SlaRow(BaseModel):
    team_id: str
    rep_id: str
    on_time: int
    breaches: int
    on_time_rate: float | None = Field(description="On-time verdicts over judged assignments.")
    mean_time_to_first_verdict_s: float | None
