"""What scoring's API takes and answers about backtests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field


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
