"""Capture's decisions, without I/O: clean a submitted lead, merge it, attribute it, record consent.

Every check reports the field and a reason a person can act on, and a submission is judged as a
whole: `InvalidLead` lists every problem at once, so a form can show them all in one round trip.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from types import MappingProxyType
from urllib.parse import urlsplit

import email_validator
import phonenumbers
import pycountry
from disposable_email_domains import blocklist as disposable_domains

from shared.events import Attribution, Consent, Contact

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
CONSENT_GIVEN = frozenset({"on", "true", "yes", "1", "checked"})
COUNTRY_ALIASES = {"UK": "GB"}  # reserved by ISO for the United Kingdom and typed on forms often

# Free-mail: addresses anyone can open, so they say little about an employer. Exact domains...
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "ymail.com",
        "rocketmail.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "web.de",
        "t-online.de",
        "freenet.de",
        "mail.ru",
        "inbox.ru",
        "list.ru",
        "bk.ru",
        "rambler.ru",
        "proton.me",
        "protonmail.com",
        "protonmail.ch",
        "pm.me",
        "zoho.com",
        "zohomail.com",
        "qq.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "naver.com",
        "daum.net",
        "hanmail.net",
        "rediffmail.com",
        "mail.com",
        "fastmail.com",
        "tutanota.com",
        "tuta.io",
        "hushmail.com",
        "seznam.cz",
        "libero.it",
        "wp.pl",
        "o2.pl",
        "interia.pl",
        "laposte.net",
        "free.fr",
        "orange.fr",
        "wanadoo.fr",
    }
)
# ...and providers that run the same service under many country domains (yahoo.co.uk, gmx.at).
FREE_MAIL_PROVIDERS = frozenset({"yahoo", "hotmail", "outlook", "live", "aol", "gmx", "yandex"})
_COUNTRY_SECOND_LEVELS = frozenset({"co", "com", "net", "org", "ne", "or"})
# Unicode's control characters (category Cc) except tab and line breaks, which are whitespace
# and collapsed below; any other is refused, and so are lone surrogates, which are not text.
_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_LANGUAGE_TAG = re.compile(r"([a-z]{2,3})[-_][a-z0-9_-]+")


@dataclass(frozen=True)
class FieldProblem:
    field: str
    reason: str


class InvalidLead(Exception):
    """A submission that cannot be accepted, with every problem found in it."""

    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in self.problems))


Cleaner = Callable[[str], str]


def clean_contact(raw: Mapping[str, object], *, default_region: str | None = None) -> Contact:
    """The submitted contact fields as a clean `Contact`, or `InvalidLead` with every problem."""
    values = _clean_all(_contact_cleaners(default_region), raw, required={"email"})
    return Contact(**values, **email_flags(values["email"]))


@lru_cache(maxsize=256)  # the region comes from requests: bounded
def _contact_cleaners(default_region: str | None) -> Mapping[str, Cleaner]:
    cleaners: dict[str, Cleaner] = {
        "email": clean_email,
        "phone": partial(clean_phone, default_region=default_region),
        "company_size": clean_company_size,
        "country": clean_country,
        "language": clean_language,
    } | {name: partial(clean_text, limit=limit) for name, limit in TEXT_LIMITS.items()}
    return MappingProxyType({name: cleaners[name] for name in CONTACT_FIELDS})


def clean_email(text: str) -> str:
    # No DNS lookups: a lead must not wait on, or fail with, someone's name servers.
    checked = email_validator.validate_email(text, check_deliverability=False)
    return checked.normalized  # its messages (EmailNotValidError is a ValueError) are readable


def identity_email(email: str) -> str:
    """The key one person is known by: the normalised email, lower-cased whole."""
    return email.strip().lower()


def email_flags(email: str) -> dict[str, bool]:
    domain = _ascii_domain(email)
    return {"free_mail": _is_free_mail(domain), "disposable_email": _is_disposable(domain)}


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
    return language.alpha_2


def clean_company_size(text: str) -> str:
    band = re.sub(r"\s+", "", text).replace("\u2013", "-").replace("\u2014", "-")
    if band in (name for name, _ in COMPANY_SIZE_BANDS):
        return band
    if re.fullmatch(r"\d+|\d{1,3}(,\d{3})+", band) and int(band.replace(",", "")) > 0:
        headcount = int(band.replace(",", ""))
        return next(name for name, top in COMPANY_SIZE_BANDS if top is None or headcount <= top)
    bands = ", ".join(name for name, _ in COMPANY_SIZE_BANDS)
    raise ValueError(f"must be a headcount or one of {bands}")


def clean_text(text: str, *, limit: int) -> str:
    """Any script kept as written: NFC-normalised, inner whitespace collapsed, bounded."""
    if _CONTROL_CHARACTER.search(text):
        raise ValueError("contains control characters")
    if _SURROGATE.search(text):
        raise ValueError("contains characters that are not valid text (lone surrogates)")
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if len(text) > limit:
        raise ValueError(f"is longer than {limit} characters")
    return text


def merge_contact(existing: Contact, incoming: Contact) -> Contact:
    """A later submission over a known lead: its non-empty values win, field by field."""
    if identity_email(existing.email) != identity_email(incoming.email):
        raise ValueError("only submissions from the same email merge")
    newer = incoming.model_dump(
        exclude={"email", "free_mail", "disposable_email"}, exclude_none=True
    )
    merged = existing.model_dump(exclude={"free_mail", "disposable_email"}) | newer
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
    return Attribution(**_clean_all(_ATTRIBUTION_CLEANERS, raw))


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


# ---- forms' settings ---------------------------------------------------------------------------

DEFAULT_PORTS = {"http": 80, "https": 443}


def normal_origin(text: str) -> str:
    """`scheme://host[:port]` as a browser sends it in `Origin`: lower case, no default port."""
    if text == "*":
        return text
    parts = urlsplit(text.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("must be scheme://host[:port] with http or https, or *")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError("must be only scheme://host[:port], without a path or query")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port in (None, DEFAULT_PORTS[parts.scheme]):
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def absolute_page_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    return text


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


def _clean_all(
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


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _first_present(*candidates: object) -> object:
    return next((value for value in candidates if not _blank(value)), None)


def _ascii_domain(email: str) -> str:
    domain = email.rpartition("@")[2].lower()
    try:  # the domain lists are ASCII; Python's IDNA 2003 codec is close enough for a lookup
        return domain.encode("idna").decode()
    except UnicodeError:
        return domain


def _is_free_mail(domain: str) -> bool:
    provider, _, suffix = domain.partition(".")
    labels = suffix.split(".")
    by_country = len(labels) == 1 or (len(labels) == 2 and labels[0] in _COUNTRY_SECOND_LEVELS)
    return domain in FREE_MAIL_DOMAINS or (provider in FREE_MAIL_PROVIDERS and by_country)


def _is_disposable(domain: str) -> bool:
    labels = domain.split(".")  # a subdomain of a disposable domain is disposable too
    return any(".".join(labels[i:]) in disposable_domains for i in range(len(labels) - 1))
