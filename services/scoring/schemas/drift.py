"""What scoring's API answers about drift."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
