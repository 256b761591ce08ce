"""Behavioural events' request and response models."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from services.capture import cleaning
from services.capture.schemas.fields import FUTURE_TOLERANCE
from shared.errors import FieldError, validation_errors
from shared.events import ActivityProperties, ActivityType
from shared.problems import Invalid, Problem

MAX_ACTIVITIES = 1000
MAX_PROPERTIES_BYTES = 16 * 1024
EARLIEST_ACTIVITY = datetime(2000, 1, 1, tzinfo=UTC)


class ActivityIn(BaseModel):
    """Something a lead did, identified by exactly one of `lead_id` and `email`."""

    model_config = ConfigDict(extra="forbid")

    lead_id: uuid.UUID | None = Field(None, description="The lead's id; or give `email`.")
    email: str | None = Field(
        None,
        max_length=320,
        description="The lead's email; or `lead_id`.",
        examples=["ada@example.com"],
    )
    activity_type: ActivityType = Field(description="What the lead did.", examples=["page_view"])
    happened_at: AwareDatetime | None = Field(
        None,
        description="RFC 3339 with an offset; now when absent; at most 5 minutes ahead.",
        examples=["2026-03-01T09:30:00+01:00"],
    )
    properties: ActivityProperties = Field(
        ActivityProperties(), description="url, asset, campaign and any other details."
    )

    @field_validator("happened_at", mode="before")
    @classmethod
    def _rfc3339_text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str | datetime):
            raise PydanticCustomError("rfc3339", "must be an RFC 3339 timestamp with an offset")
        return value

    @field_validator("happened_at")
    @classmethod
    def _plausible_time(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value > datetime.now(UTC) + FUTURE_TOLERANCE:
            raise PydanticCustomError("future", "is more than 5 minutes in the future")
        if value < EARLIEST_ACTIVITY:
            raise PydanticCustomError("past", "is before 2000-01-01")
        return value.astimezone(UTC)

    @field_validator("properties")
    @classmethod
    def _bounded_text(cls, value: ActivityProperties) -> ActivityProperties:
        # Every byte ends up in an event; the broker refuses messages over about 1 MB.
        try:
            size = len(value.model_dump_json().encode())
        except UnicodeEncodeError:
            raise PydanticCustomError(
                "text", "contains characters that are not valid text (lone surrogates)"
            ) from None
        if size > MAX_PROPERTIES_BYTES:
            raise PydanticCustomError(
                "size", f"is {size} bytes as JSON; at most {MAX_PROPERTIES_BYTES} are kept"
            )
        return value


class ActivityBatchIn(BaseModel):
    activities: list[ActivityIn] = Field(
        min_length=1,
        max_length=MAX_ACTIVITIES,
        description=f"Up to {MAX_ACTIVITIES} activities; more gets 422 naming `activities`.",
    )


class ActivityResult(BaseModel):
    index: int = Field(description="Position of the item in the request, from 0.")
    lead_id: uuid.UUID | None = Field(None, description="The lead it was recorded for.")
    status: Literal["accepted", "rejected"]
    errors: list[FieldError] | None = Field(None, description="Why it was rejected.")


class ActivitiesAccepted(BaseModel):
    accepted: int = Field(description="How many activities were recorded.")
    results: list[ActivityResult] = Field(description="One per item, in request order.")


# ---- reading a body item by item --------------------------------------------------------------

_activity = TypeAdapter(ActivityIn)


@dataclass
class ActivityItem:
    """One item of a request: the activity and who it names, or why it cannot be recorded."""

    index: int
    activity: ActivityIn | None = None
    identity: str | None = None
    errors: list[FieldError] = field(default_factory=list)


def activity_items(body: object) -> tuple[list[ActivityItem], bool]:
    """Every item parsed on its own, and whether they came as a batch; `Invalid` (422) when
    the body is neither one activity nor a batch of at most MAX_ACTIVITIES."""
    raw_items, batch = _raw_items(body)
    return [_parse(index, raw) for index, raw in enumerate(raw_items)], batch


def _raw_items(body: object) -> tuple[list[object], bool]:
    if not isinstance(body, dict):
        raise _bad_shape("body", 'must be a JSON object: one activity or {"activities": [...]}')
    if "activities" not in body:
        return [body], False
    if unknown := sorted(set(body) - {"activities"}):
        raise _bad_shape(unknown[0], 'is not a field of a batch; send only {"activities": [...]}')
    items = body["activities"]
    if not isinstance(items, list) or not items:
        raise _bad_shape("activities", "must be a non-empty list")
    if len(items) > MAX_ACTIVITIES:
        raise _bad_shape("activities", f"has {len(items)} items; send at most {MAX_ACTIVITIES}")
    return items, True


def _bad_shape(field: str, reason: str) -> Invalid:
    return Invalid("the request is invalid", [Problem(field, reason)])


def _parse(index: int, raw: object) -> ActivityItem:
    try:
        activity = _activity.validate_python(raw)
    except ValidationError as error:
        return ActivityItem(index, errors=validation_errors(error.errors()))
    if (activity.lead_id is None) == (activity.email is None):
        problem = FieldError(field="lead_id", reason="give exactly one of lead_id and email")
        return ActivityItem(index, errors=[problem])
    if activity.email is None:
        return ActivityItem(index, activity)
    try:
        email = cleaning.clean_email(activity.email.strip())
    except ValueError as error:
        return ActivityItem(index, errors=[FieldError(field="email", reason=str(error))])
    return ActivityItem(index, activity, identity=cleaning.identity_email(email))
