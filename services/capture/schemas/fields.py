"""Field types the request models share: text cleaned as capture stores it, with plain reasons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from services.capture import cleaning

FUTURE_TOLERANCE = timedelta(minutes=5)


def rule(check: Callable[[str], str | None]) -> AfterValidator:
    """A check whose ValueError message becomes the field's reason, without pydantic's prefix."""

    def validate(value: str) -> str | None:
        try:
            return check(value)
        except ValueError as error:
            raise PydanticCustomError("rule", str(error)) from None

    return AfterValidator(validate)


def clean_text(limit: int) -> AfterValidator:
    """Text as capture stores it (see `cleaning.clean_text`); blank becomes null."""
    return rule(lambda text: cleaning.clean_text(text, limit=limit) or None)


Text = Annotated[str, clean_text(cleaning.TEXT_LIMIT)]
Url = Annotated[str, clean_text(cleaning.URL_LIMIT)]
Version = Annotated[str, clean_text(50)]
