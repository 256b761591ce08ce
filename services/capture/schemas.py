"""Capture's request and response models."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from services.capture import domain
from shared.errors import FieldError
from shared.events import ActivityProperties, ActivityType, Attribution, Consent, Contact

FUTURE_TOLERANCE = timedelta(minutes=5)


def _rule(check: Callable[[str], str | None]) -> AfterValidator:
    """A check whose ValueError message becomes the field's reason, without pydantic's prefix."""

    def validate(value: str) -> str | None:
        try:
            return check(value)
        except ValueError as error:
            raise PydanticCustomError("rule", str(error)) from None

    return AfterValidator(validate)


def _clean_text(limit: int) -> AfterValidator:
    """Text as capture stores it (see `domain.clean_text`); blank becomes null."""
    return _rule(lambda text: domain.clean_text(text, limit=limit) or None)


Text = Annotated[str, _clean_text(domain.TEXT_LIMIT)]
Url = Annotated[str, _clean_text(domain.URL_LIMIT)]
Version = Annotated[str, _clean_text(50)]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    given: bool = Field(description="The person agreed to be contacted.")
    text_version: Version | None = Field(None, examples=["2026-01"])
    given_at: AwareDatetime | None = Field(
        None, description="When consent was given; now when absent; ignored when not given."
    )

    @field_validator("given_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(UTC) + FUTURE_TOLERANCE:
            raise PydanticCustomError("future", "is more than 5 minutes in the future")
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
    changes: dict[str, list] = Field(description="Each changed field as [old value, new value].")


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

    reason: str | None = Field(
        None,
        max_length=500,
        description="Why, e.g. the person's request.",
        examples=["GDPR article 17 request"],
    )


class Erased(BaseModel):
    lead_id: uuid.UUID
    erased: bool = Field(True, description="The person's data is gone from capture.")


# ---- activities -------------------------------------------------------------------------------

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


# ---- forms ------------------------------------------------------------------------------------


def _iso_region(text: str) -> str:
    region = text.strip().upper()
    if len(region) != 2 or pycountry.countries.get(alpha_2=region) is None:
        raise ValueError("must be an ISO 3166 alpha-2 country code, such as GB")
    return region


CanonicalField = Literal[tuple(sorted(domain.CANONICAL_FIELDS))]  # type: ignore[valid-type]


def _field_name(text: str) -> str:
    return _not_blank(domain.clean_text(text, limit=64))


def _title(text: str) -> str:
    return _not_blank(domain.clean_text(text, limit=200))


def _not_blank(text: str) -> str:
    if not text:
        raise ValueError("must not be blank")
    return text


FormFieldName = Annotated[str, _rule(_field_name)]
Origin = Annotated[str, StringConstraints(max_length=300), _rule(domain.normal_origin)]
PageUrl = Annotated[str, StringConstraints(max_length=2048), _rule(domain.absolute_page_url)]
Region = Annotated[str, _rule(_iso_region)]


class FormFields(BaseModel):
    name: Annotated[str, _rule(_title)] = Field(
        description="What marketing calls the form.", examples=["Demo request"]
    )
    field_mapping: dict[FormFieldName, CanonicalField] = Field(
        default_factory=dict,
        examples=[{"work_email": "email", "fname": "first_name"}],
        description="The form's own field names mapped to canonical lead fields; fields "
        "already named canonically need no entry.",
    )
    required_fields: list[CanonicalField] = Field(
        default_factory=list,
        examples=[["email", "company"]],
        description="Canonical fields a submission must fill (email always must).",
    )
    allowed_origins: list[Origin] = Field(
        default_factory=list,
        max_length=100,
        examples=[["https://www.example.com"]],
        description='Sites whose pages may post the form, as scheme://host[:port], or "*" '
        "for any; capture's own form page always may.",
    )
    thank_you_url: PageUrl | None = Field(
        None, description="Where a browser goes after a submission; null: capture's own page."
    )
    error_url: PageUrl | None = Field(
        None,
        description="Where a browser goes when a submission has problems, with "
        "`error=<field>:<reason>` added per problem; null: capture's own page.",
    )
    consent_required: bool = Field(True, description="Refuse submissions without consent.")
    consent_text: Annotated[str, _clean_text(4000)] | None = Field(
        None, validate_default=True, description="The consent wording shown by the box."
    )
    consent_version: Version | None = Field(
        None,
        validate_default=True,
        examples=["2026-01"],
        description="Version of the consent text, recorded with each consent given.",
    )
    default_source: Text | None = Field(
        None, examples=["website"], description="Source when a submission names none."
    )
    default_campaign: Text | None = Field(
        None, description="UTM campaign when a submission names none."
    )
    default_region: Region | None = Field(
        None,
        examples=["GB"],
        description="ISO 3166 alpha-2 region for phone numbers without a country code.",
    )
    honeypot_field: FormFieldName = Field(
        "website",
        description="A field hidden from people; a submission filling it is "
        "answered as accepted and dropped as spam.",
    )


class FormIn(FormFields):
    """A form definition as the admin API takes it."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("consent_text", "consent_version")
    @classmethod
    def _given_when_consent_is_required(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("consent_required") and not (value and value.strip()):
            raise PydanticCustomError("form_rule", "is required when consent_required is true")
        return value

    @field_validator("honeypot_field")
    @classmethod
    def _not_a_real_field(cls, value: str, info: ValidationInfo) -> str:
        if value in domain.CANONICAL_FIELDS or value in info.data.get("field_mapping", {}):
            raise PydanticCustomError("form_rule", "must not be a field the form uses")
        return value


class FormOut(FormFields):
    """A stored form definition."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["demo"])
    created_at: AwareDatetime
    updated_at: AwareDatetime


class FormList(BaseModel):
    forms: list[FormOut]
