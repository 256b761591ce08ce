"""What capture publishes: lead.captured.v1, lead.activity.v1 and lead.erased.v1."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import AwareDatetime, ConfigDict, Field

from shared.events.envelope import Contract, Envelope


class Contact(Contract):
    email: str = Field(
        description="Normalised email address; identifies the person.", examples=["ada@example.com"]
    )
    first_name: str | None = Field(None, max_length=100, examples=["Ada"])
    last_name: str | None = Field(None, max_length=100, examples=["Lovelace"])
    phone: str | None = Field(
        None,
        description="E.164 when `phone_verified`; otherwise the number as the person typed it.",
        examples=["+442071234567"],
    )
    phone_verified: bool = Field(
        True,
        description="False when `phone` could not be read as a phone number and is kept as "
        "typed (tidied text, not E.164: do not dial or match it as a number). True when `phone` "
        "is E.164 or absent; events from before this field read as true.",
    )
    job_title: str | None = Field(None, max_length=150, examples=["Head of Engineering"])
    company: str | None = Field(None, max_length=200, examples=["Analytical Engines Ltd"])
    company_size: str | None = Field(
        None, description="Employee band, e.g. 51-200", examples=["51-200"]
    )
    industry: str | None = Field(None, max_length=100, examples=["software"])
    country: str | None = Field(None, description="ISO 3166-1 alpha-2", examples=["GB"])
    language: str | None = Field(None, description="ISO 639-1", examples=["en"])
    free_mail: bool = Field(False, description="The email is at a free-mail provider.")
    disposable_email: bool = Field(False, description="The email is at a disposable domain.")


class Consent(Contract):
    given: bool
    text_version: str | None = Field(None, examples=["2026-01"])
    given_at: AwareDatetime | None = None
    source: str | None = Field(
        None, description="Where it was given, e.g. form:demo", examples=["form:demo"]
    )


class Attribution(Contract):
    form_id: str | None = Field(None, examples=["demo"])
    source: str | None = Field(None, examples=["website"])
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    referrer: str | None = None
    landing_page: str | None = None


class LeadCaptured(Contract):
    merged: bool = Field(description="True when the submission merged into an existing lead.")
    contact: Contact
    consent: Consent
    first_touch: Attribution
    last_touch: Attribution


class ActivityType(StrEnum):
    page_view = "page_view"
    pricing_page_view = "pricing_page_view"
    content_download = "content_download"
    webinar_attended = "webinar_attended"
    email_open = "email_open"
    email_click = "email_click"
    demo_request = "demo_request"
    trial_signup = "trial_signup"
    unsubscribe = "unsubscribe"


class ActivityProperties(Contract):
    model_config = ConfigDict(extra="allow", frozen=True)
    url: str | None = Field(None, max_length=2048)
    asset: str | None = Field(None, max_length=300)
    campaign: str | None = Field(None, max_length=300)


class LeadActivity(Contract):
    activity_type: ActivityType
    happened_at: AwareDatetime
    properties: ActivityProperties = ActivityProperties()


class LeadErased(Contract):
    requested_by: str | None = Field(None, description="Who asked for the erasure (key name).")
    reason: str | None = None


class LeadCapturedEvent(Envelope):
    topic: ClassVar[str] = "lead.captured.v1"
    event_type: Literal["lead.captured"] = "lead.captured"
    payload: LeadCaptured


class LeadActivityEvent(Envelope):
    topic: ClassVar[str] = "lead.activity.v1"
    event_type: Literal["lead.activity"] = "lead.activity"
    payload: LeadActivity


class LeadErasedEvent(Envelope):
    topic: ClassVar[str] = "lead.erased.v1"
    event_type: Literal["lead.erased"] = "lead.erased"
    payload: LeadErased
