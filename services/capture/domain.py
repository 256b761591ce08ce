"""Capture's decisions, without I/O: merge a lead, attribute it, record consent, judge a form's
submission (the origins it may come from are in `origins`).

Problems are named the way the caller named the field (a form's own `work_email`, not
`email`), so a page's script can put each message next to its input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from services.capture.cleaning import (
    ATTRIBUTION_FIELDS,
    CANONICAL_FIELDS,
    TEXT_LIMIT,
    URL_LIMIT,
    Cleaner,
    FieldProblem,
    InvalidLead,
    clean_all,
    clean_contact,
    clean_text,
    identity_email,
)
from services.capture.mail_domains import email_flags
from shared.events import Attribution, Consent, Contact

T = TypeVar("T")
CONSENT_GIVEN = frozenset({"on", "true", "yes", "1", "checked"})


def merge_contact(existing: Contact, incoming: Contact) -> Contact:
    """A later submission over a known lead: its non-empty values win, field by field."""
    if identity_email(existing.email) != identity_email(incoming.email):
        raise ValueError("only submissions from the same email merge")
    newer = incoming.model_dump(
        exclude={"email", "free_mail", "disposable_email", "phone_verified"}, exclude_none=True
    )
    merged = existing.model_dump(exclude={"free_mail", "disposable_email"}) | newer
    if incoming.phone is not None:  # whether the phone was verified goes with the phone
        merged["phone_verified"] = incoming.phone_verified
    return Contact(**merged, **email_flags(existing.email))


def changed_fields(before: Contact, after: Contact) -> dict[str, tuple[object, object]]:
    """What a merge changed, as {field: (old, new)}, for the lead's history."""
    old, new = before.model_dump(), after.model_dump()
    return {name: (old[name], new[name]) for name in old if old[name] != new[name]}


def attribution_from(
    fields: Mapping[str, str],
    query: Mapping[str, str],
    *,
    form_id: str | None,
    default_source: str | None,
    default_campaign: str | None,
    posted_from: str | None,
) -> Attribution:
    """Where a submission came from: the submitted fields first, then the query string, then
    the form's defaults. `posted_from` (the post's Referer header) is the page holding the form,
    so it stands in for the landing page, never for the referrer."""
    fallbacks = {
        "source": default_source,
        "utm_campaign": default_campaign,
        "landing_page": _usable_header(posted_from),
    }
    raw = {
        name: _first_present(fields.get(name), query.get(name), fallbacks.get(name))
        for name in ATTRIBUTION_FIELDS
    } | {"form_id": form_id}
    return Attribution(**clean_all(_ATTRIBUTION_CLEANERS, raw))


_ATTRIBUTION_CLEANERS: Mapping[str, Cleaner] = MappingProxyType(
    {
        name: partial(
            clean_text, limit=URL_LIMIT if name in ("referrer", "landing_page") else TEXT_LIMIT
        )
        for name in (*ATTRIBUTION_FIELDS, "form_id")
    }
)


def _usable_header(value: str | None) -> str | None:
    """A browser may send any header; one that is not clean text is not the person's fault,
    so it is dropped rather than refused."""
    try:
        return clean_text(value, limit=URL_LIMIT) if value else None
    except ValueError:
        return None


def touches(first_touch: Attribution | None, new: Attribution) -> tuple[Attribution, Attribution]:
    """(first, last): the first touch is kept once set; each submission is the new last touch."""
    return (first_touch or new), new


def map_form_fields(submitted: Mapping[str, str], mapping: Mapping[str, str]) -> dict[str, str]:
    """A form's own field names turned into canonical ones (mapping: form name -> canonical);
    fields already named canonically pass through, and a mapped field wins unless it is blank."""
    canonical = {
        name: value
        for name, value in submitted.items()
        if name in CANONICAL_FIELDS and name not in mapping
    }
    for name, value in submitted.items():
        target = mapping.get(name)
        if target and (not _blank(value) or target not in canonical):
            canonical[target] = value
    return canonical


def missing_required(
    canonical: Mapping[str, object], required: Iterable[str]
) -> list[FieldProblem]:
    return [FieldProblem(name, "is required") for name in required if _blank(canonical.get(name))]


def consent_from(
    value: object, *, required: bool, text_version: str | None, source: str, now: datetime
) -> Consent:
    """The consent box as submitted; a form that requires it refuses the lead without it."""
    given = value if isinstance(value, bool) else str(value or "").strip().lower() in CONSENT_GIVEN
    if required and not given:
        raise InvalidLead([FieldProblem("consent", "consent is required")])
    return Consent(
        given=given, text_version=text_version, given_at=now if given else None, source=source
    )


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _first_present(*candidates: object) -> object:
    return next((value for value in candidates if not _blank(value)), None)


# ---- a form's submission ----------------------------------------------------------------------


class FormRules(Protocol):
    """What a form says about the submissions it takes (`models.Form` has it all)."""

    id: str
    field_mapping: dict[str, str]
    required_fields: list[str]
    allowed_origins: list[str]
    consent_required: bool
    consent_version: str | None
    default_source: str | None
    default_campaign: str | None
    default_region: str | None
    require_valid_phone: bool
    honeypot_field: str


@dataclass(frozen=True)
class Submission:
    """A clean lead as submitted once, by a form or the lead API."""

    contact: Contact
    consent: Consent
    attribution: Attribution
    source: str


def is_spam(form: FormRules, fields: Mapping[str, Any]) -> bool:
    """A bot filled the field people never see."""
    value = fields.get(form.honeypot_field)
    return value is not None and not (isinstance(value, str) and not value.strip())


def submission_from(
    form: FormRules,
    fields: Mapping[str, Any],
    *,
    query: Mapping[str, str],
    posted_from: str | None,
    now: datetime,
) -> Submission:
    """The submission as a clean lead, or `InvalidLead` with every problem once."""
    canonical = map_form_fields(fields, form.field_mapping)
    source = f"form:{form.id}"
    attribution_problems: list[FieldProblem] = []
    attribution = _collecting(
        attribution_problems,
        lambda: attribution_from(
            canonical,
            query,
            form_id=form.id,
            default_source=form.default_source,
            default_campaign=form.default_campaign,
            posted_from=posted_from,
        ),
    )
    # Attribution counts as given when it came from the query string or the form's defaults.
    given = canonical | (attribution.model_dump(exclude_none=True) if attribution else {})
    problems = missing_required(given, form.required_fields)
    consent = _collecting(
        problems,
        lambda: consent_from(
            canonical.get("consent"),
            required=form.consent_required,
            text_version=form.consent_version,
            source=source,
            now=now,
        ),
    )
    contact = _collecting(
        problems,
        lambda: clean_contact(
            canonical,
            default_region=form.default_region,
            keep_unverified_phone=not form.require_valid_phone,
        ),
    )
    problems += attribution_problems
    if problems or contact is None or consent is None or attribution is None:
        named = (FieldProblem(form_field_name(form, p.field, fields), p.reason) for p in problems)
        # each problem once, in order
        raise InvalidLead(list(dict.fromkeys(named)), "the submission is invalid")
    return Submission(contact, consent, attribution, source)


def _collecting(problems: list[FieldProblem], step: Callable[[], T]) -> T | None:
    try:
        return step()
    except InvalidLead as error:
        problems.extend(error.problems)
        return None


def form_field_name(form: FormRules, canonical: str, submitted: Iterable[str] = ()) -> str:
    """The form's own name for a canonical field: the one submitted, else the first mapped."""
    submitted = set(submitted)
    if canonical in submitted and canonical not in form.field_mapping:
        return canonical
    names = [name for name, target in form.field_mapping.items() if target == canonical]
    return next((name for name in names if name in submitted), names[0] if names else canonical)
