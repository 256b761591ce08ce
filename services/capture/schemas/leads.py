"""The lead API's request and response models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from services.capture.schemas.fields import FUTURE_TOLERANCE, Text, Url, Version, clean_text
from shared.events import Attribution, Consent, Contact

# GDPR applies from this day: consent said to be older is no consent capture can stand behind
# (and 0001-01-01 or the Unix epoch is a client's placeholder, not a date).
EARLIEST_CONSENT = datetime(2018, 5, 25, tzinfo=UTC)


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    given: bool = Field(description="The person agreed to be contacted.")
    text_version: Version | None = Field(None, examples=["2026-01"])
    given_at: AwareDatetime | None = Field(
        None,
        description="When consent was given, from 2018-05-25 to 5 minutes from now; now when "
        "absent; ignored when not given.",
    )

    @field_validator("given_at")
    @classmethod
    def _when_it_could_have_been_given(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(UTC) + FUTURE_TOLERANCE:
            raise PydanticCustomError("future", "is more than 5 minutes in the future")
        if value is not None and value < EARLIEST_CONSENT:
            raise PydanticCustomError(
                "past", "is before 2018-05-25, the earliest consent capture records"
            )
        return value


class AttributionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Text | None = None
    utm_source: Text | None = None
    utm_medium: Text | None = None
    utm_campaign: Text | None = None
    utm_term: Text | None = None
    utm_content: Text | None = None
    referrer: Url | None = None
    landing_page: Url | None = None


class LeadIn(BaseModel):
    """A lead sent by a server-side integration; contact fields are cleaned before storage."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, examples=["ada@example.com"])
    first_name: str | None = Field(None, max_length=400)
    last_name: str | None = Field(None, max_length=400)
    phone: str | None = Field(None, max_length=50)
    job_title: str | None = Field(None, max_length=400)
    company: str | None = Field(None, max_length=400)
    company_size: str | None = Field(None, max_length=50)
    industry: str | None = Field(None, max_length=400)
    country: str | None = Field(None, max_length=100)
    language: str | None = Field(None, max_length=50)
    default_region: str | None = Field(
        None, min_length=2, max_length=2, description="Region for phone numbers without +prefix."
    )
    consent: ConsentIn = ConsentIn(given=False)
    attribution: AttributionIn = AttributionIn()


class LeadAccepted(BaseModel):
    lead_id: uuid.UUID
    merged: bool = Field(description="True when the lead merged into an existing one.")


# ---- reading and erasing a lead ---------------------------------------------------------------


class LeadChangeOut(BaseModel):
    source: str = Field(description="What sent the submission that changed the lead, e.g. api.")
    changed_at: AwareDatetime
    changes: dict[str, list[Any]] = Field(
        description="Each changed field as [old value, new value]."
    )


class LeadOut(BaseModel):
    lead_id: uuid.UUID
    contact: Contact = Field(description="Cleaned contact details, newest non-empty values.")
    consent: Consent = Field(description="The latest consent given, with version and source.")
    first_touch: Attribution = Field(description="Where the lead came from the first time.")
    last_touch: Attribution = Field(description="Where its latest submission came from.")
    created_at: AwareDatetime
    updated_at: AwareDatetime
    history: list[LeadChangeOut] = Field(description="Merges that changed it, oldest first.")


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, clean_text(500)] | None = Field(
        None,
        description="Why, e.g. the person's request.",
        examples=["GDPR article 17 request"],
    )


class Erased(BaseModel):
    lead_id: uuid.UUID
    erased: bool = Field(True, description="The person's data is gone from capture.")
