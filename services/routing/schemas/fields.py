"""Constrained types the routing schemas share: ids, short texts, country and language codes."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", examples=["emea-1"])]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Word = Annotated[str, Field(min_length=1, max_length=100)]


def _country(value: str) -> str:
    value = value.strip().upper()
    if len(value) != 2 or not value.isalpha():
        raise ValueError("must be an ISO 3166-1 alpha-2 code like GB")
    return value


def _language(value: str) -> str:
    value = value.strip().lower()
    if len(value) != 2 or not value.isalpha():
        raise ValueError("must be an ISO 639-1 code like en")
    return value


Country = Annotated[str, AfterValidator(_country)]
Language = Annotated[str, AfterValidator(_language)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
