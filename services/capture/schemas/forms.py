"""Web forms' definitions as the admin API takes and gives them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import pycountry
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from services.capture import cleaning, origins
from services.capture.schemas.fields import Text, Version, clean_text, rule


def _iso_region(text: str) -> str:
    region = text.strip().upper()
    if len(region) != 2 or pycountry.countries.get(alpha_2=region) is None:
        raise ValueError("must be an ISO 3166 alpha-2 country code, such as GB")
    return region


if TYPE_CHECKING:
    CanonicalField = str
else:
    CanonicalField = Literal[tuple(sorted(cleaning.CANONICAL_FIELDS))]


def _field_name(text: str) -> str:
    return _not_blank(cleaning.clean_text(text, limit=64))


def _title(text: str) -> str:
    return _not_blank(cleaning.clean_text(text, limit=200))


def _not_blank(text: str) -> str:
    if not text:
        raise ValueError("must not be blank")
    return text


FormFieldName = Annotated[str, rule(_field_name)]
Origin = Annotated[str, StringConstraints(max_length=300), rule(origins.normal_origin)]
PageUrl = Annotated[str, StringConstraints(max_length=2048), rule(origins.absolute_page_url)]
Region = Annotated[str, rule(_iso_region)]


class FormFields(BaseModel):
    name: Annotated[str, rule(_title)] = Field(
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
    consent_text: Annotated[str, clean_text(4000)] | None = Field(
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
    require_valid_phone: bool = Field(
        False,
        description="Refuse a submission whose phone cannot be read as a phone number (422 "
        "naming the field). When false, such a phone is kept as typed and the lead is flagged "
        "`phone_verified: false`, rather than losing the person.",
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
        if value in cleaning.CANONICAL_FIELDS or value in info.data.get("field_mapping", {}):
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
