"""What a use case raises when it refuses: a typed error with every problem named.

Pure (no web framework): domain code and use cases raise these, `shared.errors` maps each one,
once, to the HTTP answer `{"detail": ..., "errors": [{"field", "reason"}]}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Problem:
    """One field's problem, named the way the caller named the field."""

    field: str
    reason: str


class ServiceError(Exception):
    """A refusal the caller can act on; `status` is the HTTP status it maps to."""

    status: ClassVar[int] = 400

    def __init__(
        self,
        detail: str,
        problems: Iterable[Problem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = list(problems)
        self.headers = dict(headers or {})

    @classmethod
    def of(cls, detail: str, field: str, reason: str) -> ServiceError:
        """The common case: one field and its reason."""
        return cls(detail, [Problem(field, reason)])


class Invalid(ServiceError):
    status = 422


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Gone(ServiceError):
    status = 410


class TooLarge(ServiceError):
    status = 413


class UnsupportedMediaType(ServiceError):
    status = 415


class TooManyRequests(ServiceError):
    status = 429
