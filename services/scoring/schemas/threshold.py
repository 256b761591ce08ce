"""What scoring's API answers about the MQL threshold in force and the capacity behind it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


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
