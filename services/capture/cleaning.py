"""Cleaning what a person typed into a lead's contact fields, without I/O.

Every check reports the field and a reason a person can act on, and a submission is judged as a
whole: `InvalidLead` lists every problem at once, so a form can show them all in one round trip.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache, partial
from types import MappingProxyType

import email_validator
import phonenumbers
import pycountry

from services.capture.mail_domains import email_flags
from shared.events import Contact
from shared.problems import Invalid, Problem
from shared.text import clean_text as clean_text  # re-exported: capture cleans text this way

CONTACT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone",
    "job_title",
    "company",
    "company_size",
    "industry",
    "country",
    "language",
)
ATTRIBUTION_FIELDS = (
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "landing_page",
)
CANONICAL_FIELDS = frozenset(CONTACT_FIELDS + ATTRIBUTION_FIELDS + ("consent",))

URL_LIMIT, TEXT_LIMIT = 2048, 300
PHONE_TEXT_LIMIT = 50  # a phone kept as typed (unverified): as long as the lead API takes
TEXT_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "job_title": 150,
    "company": 200,
    "industry": 100,
}
COMPANY_SIZE_BANDS = (
    ("1-10", 10),
    ("11-50", 50),
    ("51-200", 200),
    ("201-500", 500),
    ("501-1000", 1000),
    ("1001-5000", 5000),
    ("5001+", None),
)
COUNTRY_ALIASES = {"UK": "GB"}  # reserved by ISO for the United Kingdom and typed on forms often

_LANGUAGE_TAG = re.compile(r"([a-z]{2,3})[-_][a-z0-9_-]+")


FieldProblem = Problem  # one field's problem, named as the caller named the field


class InvalidLead(Invalid):
    """A submission that cannot be accepted, with every problem found in it."""

    def __init__(self, problems: Iterable[Problem], detail: str = "the lead is invalid") -> None:
        super().__init__(detail, problems)

    def __str__(self) -> str:
        return "; ".join(f"{p.field}: {p.reason}" for p in self.problems)


Cleaner = Callable[[str], str]


def clean_contact(
    raw: Mapping[str, object],
    *,
    default_region: str | None = None,
    keep_unverified_phone: bool = False,
) -> Contact:
    """The submitted contact fields as a clean `Contact`, or `InvalidLead` with every problem.
    A phone number without its country code is read as a number of the submission's own
    country, else of `default_region` (the form's). With `keep_unverified_phone`, a phone that
    still cannot be read as a number is kept as typed (tidied text) with `phone_verified`
    false, rather than refusing the person; without it, it is refused naming `phone`."""
    region = _phone_region(raw.get("country"), raw.get("phone")) or default_region
    values = clean_all(_contact_cleaners(region, keep_unverified_phone), raw, required={"email"})
    if isinstance(phone := values.get("phone"), TypedPhone):
        values["phone"] = str(phone)
        return Contact(**values, phone_verified=False, **email_flags(values["email"]))
    return Contact(**values, **email_flags(values["email"]))


def _phone_region(country: object, phone: object) -> str | None:
    """The submitted country, when a national phone number needs one and it names a region
    phone numbers are known for; only looked up then, so the usual +-prefixed number costs
    nothing more."""
    if not isinstance(phone, str) or phone.lstrip().startswith("+") or not country:
        return None
    try:
        region = clean_country(str(country).strip())
    except ValueError:
        return None  # reported as the country's own problem
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


@lru_cache(maxsize=256)  # the region comes from requests: bounded
def _contact_cleaners(
    default_region: str | None, keep_unverified_phone: bool
) -> Mapping[str, Cleaner]:
    phone = phone_or_typed if keep_unverified_phone else clean_phone
    cleaners: dict[str, Cleaner] = {
        "email": clean_email,
        "phone": partial(phone, default_region=default_region),
        "company_size": clean_company_size,
        "country": clean_country,
        "language": clean_language,
    }
    for name, limit in TEXT_LIMITS.items():
        cleaners[name] = partial(clean_text, limit=limit)
    return MappingProxyType({name: cleaners[name] for name in CONTACT_FIELDS})


def clean_email(text: str) -> str:
    # No DNS lookups: a lead must not wait on, or fail with, someone's name servers.
    checked = email_validator.validate_email(text, check_deliverability=False)
    return checked.normalized  # its messages (EmailNotValidError is a ValueError) are readable


def identity_email(email: str) -> str:
    """The key one person is known by: the normalised email, lower-cased whole."""
    return email.strip().lower()


def clean_phone(text: str, *, default_region: str | None = None) -> str:
    region = default_region.upper() if default_region else None
    if not text.startswith("+") and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("add the country code")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        unknown_code = error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
        raise ValueError(
            "has an unknown country code" if unknown_code else "is not a phone number"
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("has the wrong number of digits")
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class TypedPhone(str):
    """A phone kept as the person typed it (tidied text, not E.164): it could not be read as a
    number, and the form does not require a valid one."""

    __slots__ = ()


def phone_or_typed(text: str, *, default_region: str | None = None) -> str:
    """The number in E.164, else the text as typed (`TypedPhone`); text that is not text at
    all (control characters) or longer than PHONE_TEXT_LIMIT is still refused."""
    try:
        return clean_phone(text, default_region=default_region)
    except ValueError:
        return TypedPhone(clean_text(text, limit=PHONE_TEXT_LIMIT))


def clean_country(text: str) -> str:
    try:
        return pycountry.countries.lookup(COUNTRY_ALIASES.get(text.upper(), text)).alpha_2
    except LookupError:
        raise ValueError("is not a known country (use a name or an ISO 3166 code)") from None


def clean_language(text: str) -> str:
    code = text.lower()
    if tag := _LANGUAGE_TAG.fullmatch(code):  # a locale such as en-GB or pt_BR: its language
        code = tag.group(1)
    try:
        language = (
            pycountry.languages.get(alpha_2=code) if len(code) == 2 else None
        ) or pycountry.languages.lookup(code)
    except LookupError:
        raise ValueError("is not a known language (use a name or an ISO 639-1 code)") from None
    if not hasattr(language, "alpha_2"):
        raise ValueError(f"{language.name} has no two-letter ISO 639-1 code")
    return str(language.alpha_2)


def clean_company_size(text: str) -> str:
    band = re.sub(r"\s+", "", text).replace("\u2013", "-").replace("\u2014", "-")
    if band in (name for name, _ in COMPANY_SIZE_BANDS):
        return band
    if re.fullmatch(r"\d+|\d{1,3}(,\d{3})+", band) and int(band.replace(",", "")) > 0:
        headcount = int(band.replace(",", ""))
        return next(name for name, top in COMPANY_SIZE_BANDS if top is None or headcount <= top)
    bands = ", ".join(name for name, _ in COMPANY_SIZE_BANDS)
    raise ValueError(f"must be a headcount or one of {bands}")


def clean_all(
    cleaners: Mapping[str, Cleaner], raw: Mapping[str, object], *, required: Iterable[str] = ()
) -> dict[str, str]:
    """Run every cleaner, collecting all problems before raising."""
    values, problems = {}, []
    for name, clean in cleaners.items():
        try:
            text = _present(raw.get(name))
            if text is None:
                if name in required:
                    problems.append(FieldProblem(name, "is required"))
                continue
            values[name] = clean(text)
        except ValueError as error:
            problems.append(FieldProblem(name, str(error)))
    if problems:
        raise InvalidLead(problems)
    return values


def _present(value: object) -> str | None:
    """The value as stripped text; None when absent or blank."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be text")
    return str(value).strip() or None
