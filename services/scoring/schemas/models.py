"""What scoring's API answers about scoring models: a model, its approvals and history."""

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
