"""Capture's request and response models."""

from __future__ import annotations

import uuid

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ConsentIn(BaseModel):
    given: bool = Field(description="The person agreed to be contacted.")
    text_version: str | None = Field(None, max_length=50, examples=["2026-01"])
    given_at: AwareDatetime | None = None


class AttributionIn(BaseModel):
    source: str | None = Field(None, max_length=300)
    utm_source: str | None = Field(None, max_length=300)
    utm_medium: str | None = Field(None, max_length=300)
    utm_campaign: str | None = Field(None, max_length=300)
    utm_term: str | None = Field(None, max_length=300)
    utm_content: str | None = Field(None, max_length=300)
    referrer: str | None = Field(None, max_length=2048)
    landing_page: str | None = Field(None, max_length=2048)


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
    default_region: str | None = Field(None, min_length=2, max_length=2,
                                       description="Region for phone numbers without +prefix.")
    consent: ConsentIn = ConsentIn(given=False)
    attribution: AttributionIn = AttributionIn()


class LeadAccepted(BaseModel):
    lead_id: uuid.UUID
    merged: bool = Field(description="True when the lead merged into an existing one.")
