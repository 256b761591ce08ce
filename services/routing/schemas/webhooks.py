"""Webhook subscriptions, their deliveries, and the hosts admins allow them to reach."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.routing.webhooks.rules import EVENT_TYPES


class WebhookIn(BaseModel):
    model_config = {"extra": "forbid"}

    url: str = Field(max_length=2000, examples=["https://crm.example/hooks/handoff"])
    event_types: list[str] = Field(
        min_length=1, max_length=len(EVENT_TYPES), examples=[["lead.assigned"]]
    )
    active: bool = True


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret (whsec_...); shown only this once.")


class DeliveryOut(BaseModel):
    id: int
    webhook_id: uuid.UUID
    message_id: str
    lead_id: uuid.UUID | None
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    log: list[dict[str, Any]]
    created_at: datetime


class AllowList(BaseModel):
    model_config = {"extra": "forbid"}

    hosts: list[str] = Field(max_length=100, examples=[["crm.internal.example"]])
