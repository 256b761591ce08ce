"""Capture's pure rules: cleaning, merging, attribution, form mapping and consent."""

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from services.capture.cleaning import FieldProblem, InvalidLead, clean_contact, identity_email
from services.capture.domain import (
    attribution_from,
    changed_fields,
    consent_from,
    map_form_fields,
    merge_contact,
    missing_required,
    touches,
)
from shared.events import Attribution, Consent, Contact, LeadCaptured, LeadCapturedEvent

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def problems_of(raw: dict, **options) -> list[FieldProblem]:
    with pytest.raises(InvalidLead) as caught:
        clean_contact(raw, **options)
    return caught.value.problems


def only_problem(field: str, value: object, **options) -> FieldProblem:
    problems = problems_of({"email": "ada@example.com", field: value}, **options)
    assert len(problems) == 1 and problems[0].field == field
    return problems[0]


def cleaned(field: str, value: object, **options) -> object:
    return getattr(clean_contact({"email": "ada@example.com", field: value}, **options), field)


# ---- clean_contact: the whole contact ---------------------------------------------------------


def test_a_full_submission_is_cleaned_into_a_contact():
    contact = clean_contact(
        {
            "email": "  Ada.Lovelace@Analytical-Engines.CO.UK ",
            "first_name": " Ada ",
            "last_name": "Lovelace",
            "phone": "020 7123 4567",
            "job_title": "Head  of Engineering",
            "company": "Analytical Engines Ltd",
            "company_size": "120",
            "industry": "software",
            "country": "United Kingdom",
            "language": "English",
        },
        default_region="gb",
    )

    assert contact == Contact(
        email="Ada.Lovelace@analytical-engines.co.uk",
        first_name="Ada",
        last_name="Lovelace",
        phone="+442071234567",
        job_title="Head of Engineering",
        company="Analytical Engines Ltd",
        company_size="51-200",
        industry="software",
        country="GB",
        language="en",
        free_mail=False,
        disposable_email=False,
    )


def test_blank_and_none_values_are_absent_and_unknown_keys_are_ignored():
    contact = clean_contact(
        {
            "email": "ada@example.com",
            "first_name": "   ",
            "phone": "",
            "company": None,
            "favourite_colour": "teal",
        }
    )

    assert contact == Contact(email="ada@example.com")


def test_every_problem_is_reported_together_in_field_order():
    problems = problems_of(
        {
            "first_name": "x" * 101,
            "phone": "020 7123 4567",
            "job_title": "CTO\x00",
            "company_size": "lots",
            "country": "Atlantis",
            "language": "Elvish",
        }
    )

    assert [(p.field, p.reason) for p in problems] == [
        ("email", "is required"),
        ("first_name", "is longer than 100 characters"),
        ("phone", "add the country code"),
        ("job_title", "contains control characters"),
        (
            "company_size",
            "must be a headcount or one of "
            "1-10, 11-50, 51-200, 201-500, 501-1000, 1001-5000, 5001+",
        ),
        ("country", "is not a known country (use a name or an ISO 3166 code)"),
        ("language", "is not a known language (use a name or an ISO 639-1 code)"),
    ]


def test_invalid_lead_names_each_problem_in_its_message():
    error = InvalidLead([FieldProblem("email", "is required"), FieldProblem("phone", "bad")])

    assert str(error) == "email: is required; phone: bad"


# ---- email ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_email_is_required(raw):
    problems = problems_of({"email": raw, "first_name": "Ada"})

    assert problems == [FieldProblem("email", "is required")]


@pytest.mark.parametrize(
    "raw, reason_part",
    [
        ("ada", "@-sign"),
        ("ada@", "after the @-sign"),
        ("@example.com", "before the @-sign"),
        ("ada@example", "should have a period"),
        ("ada..lovelace@example.com", "two periods"),
        ("Ada <ada@example.com>", "display name"),
    ],
)
def test_malformed_emails_are_refused_with_the_validators_reason(raw, reason_part):
    problem = problems_of({"email": raw})[0]

    assert problem.field == "email"
    assert reason_part in problem.reason


def test_email_domain_is_lower_cased_but_the_local_part_is_kept():
    assert cleaned("email", "Zoë.Smith@Bücher.DE") == "Zoë.Smith@bücher.de"


@pytest.mark.parametrize(
    "email, identity",
    [
        ("Ada.Lovelace@example.com", "ada.lovelace@example.com"),
        (" ADA@EXAMPLE.COM ", "ada@example.com"),
        ("Zoë@bücher.de", "zoë@bücher.de"),
    ],
)
def test_identity_email_is_fully_lower_cased(email, identity):
    assert identity_email(email) == identity


@pytest.mark.parametrize(
    "email, free_mail",
    [
        ("ada@gmail.com", True),
        ("ada@googlemail.com", True),
        ("ada@yahoo.com", True),
        ("ada@yahoo.co.uk", True),
        ("ada@hotmail.fr", True),
        ("ada@outlook.com", True),
        ("ada@live.com.au", True),
        ("ada@gmx.de", True),
        ("ada@gmx.net", True),
        ("ada@icloud.com", True),
        ("ada@proton.me", True),
        ("ada@qq.com", True),
        ("ada@163.com", True),
        ("ada@yandex.ru", True),
        ("ada@web.de", True),
        ("ada@example.com", False),
        ("ada@live.nation.com", False),
        ("ada@yahoo.example.com", False),
        ("ada@gmail.example.com", False),
    ],
)
def test_free_mail_is_flagged(email, free_mail):
    contact = clean_contact({"email": email})

    assert (contact.free_mail, contact.disposable_email) == (free_mail, False)


@pytest.mark.parametrize(
    "email, stored",
    [
        ("ada@mailinator.com", "ada@mailinator.com"),
        ("ADA@MAILINATOR.COM", "ADA@mailinator.com"),
        ("ada@inbox.mailinator.com", "ada@inbox.mailinator.com"),
    ],
)
def test_disposable_addresses_are_accepted_but_flagged(email, stored):
    contact = clean_contact({"email": email})

    assert (contact.email, contact.disposable_email, contact.free_mail) == (stored, True, False)


# ---- phone ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, region, e164",
    [
        ("020 7123 4567", "GB", "+442071234567"),
        ("020 7123 4567", "gb", "+442071234567"),
        ("+44 20 7123 4567", None, "+442071234567"),
        ("+44 (0)20 7123 4567", "DE", "+442071234567"),
        ("00 44 20 7123 4567", "FR", "+442071234567"),
        ("030 12345678", "DE", "+493012345678"),
        ("+1 (202) 555-0143", None, "+12025550143"),
        ("+86 138 0013 8000", None, "+8613800138000"),
    ],
)
def test_phone_numbers_are_stored_in_e164(raw, region, e164):
    assert cleaned("phone", raw, default_region=region) == e164


@pytest.mark.parametrize(
    "raw, region, reason",
    [
        ("020 7123 4567", None, "add the country code"),
        ("020 7123 4567", "ZZ", "add the country code"),
        ("hello", "GB", "is not a phone number"),
        ("+999 1234567", None, "has an unknown country code"),
        ("+44 20 7123 45678", None, "has the wrong number of digits"),
        ("12", "GB", "has the wrong number of digits"),
        ("+44 20 7123", None, "is not a valid phone number"),
    ],
)
def test_unusable_phone_numbers_are_refused(raw, region, reason):
    assert only_problem("phone", raw, default_region=region).reason == reason


@pytest.mark.parametrize(
    "country, phone, region, e164",
    [
        ("FR", "06 12 34 56 78", None, "+33612345678"),
        ("France", "06 12 34 56 78", "GB", "+33612345678"),
        ("US", "(415) 555-0132", None, "+14155550132"),
        ("us", "(415) 555-0132", "GB", "+14155550132"),
        ("AQ", "020 7123 4567", "GB", "+442071234567"),
        ("FR", "+44 20 7123 4567", None, "+442071234567"),
    ],
)
def test_a_national_number_is_read_in_the_submissions_own_country_first(
    country, phone, region, e164
):
    raw = {"email": "ada@example.com", "country": country, "phone": phone}
    assert clean_contact(raw, default_region=region).phone == e164


def test_an_unknown_country_is_its_own_problem_not_the_phones():
    raw = {"email": "ada@example.com", "country": "Atlantis", "phone": "020 7123 4567"}
    with pytest.raises(InvalidLead) as refused:
        clean_contact(raw, default_region="GB")
    assert [problem.field for problem in refused.value.problems] == ["country"]


@pytest.mark.parametrize(
    "raw, region, kept",
    [
        ("020 7123 4567", None, "020 7123 4567"),
        (" 06  12 34 56 78 ", None, "06 12 34 56 78"),
        ("hello, call me", "GB", "hello, call me"),
        ("+999 1234567", None, "+999 1234567"),
        ("+44 20 7123", None, "+44 20 7123"),
    ],
)
def test_an_unreadable_phone_is_kept_as_typed_and_unverified_when_allowed(raw, region, kept):
    raw_contact = {"email": "ada@example.com", "phone": raw}
    contact = clean_contact(raw_contact, default_region=region, keep_unverified_phone=True)
    assert (contact.phone, contact.phone_verified) == (kept, False)


def test_a_readable_phone_is_verified_when_unverified_ones_are_allowed():
    raw = {"email": "ada@example.com", "phone": "020 7123 4567"}
    contact = clean_contact(raw, default_region="GB", keep_unverified_phone=True)
    assert (contact.phone, contact.phone_verified) == ("+442071234567", True)
    assert clean_contact({"email": "ada@example.com"}, keep_unverified_phone=True).phone_verified


@pytest.mark.parametrize(
    "raw, reason",
    [("06 12\x0034", "contains control characters"), ("1" * 51, "is longer than 50 characters")],
)
def test_a_phone_kept_as_typed_must_still_be_text_of_bounded_length(raw, reason):
    assert only_problem("phone", raw, keep_unverified_phone=True).reason == reason


def test_an_old_event_without_the_flag_reads_its_phone_as_verified():
    old = {"email": "ada@example.com", "phone": "+442071234567"}
    assert Contact.model_validate(old).phone_verified is True


phones = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(["+442071234567", "020 7123 4567", "call me"]), st.booleans()),
)


@given(existing=phones, incoming=phones)
def test_the_verified_flag_goes_with_the_phone_that_wins_a_merge(existing, incoming):
    def contact(phone: tuple[str, bool] | None) -> Contact:
        number, verified = phone or (None, True)
        return Contact(email="ada@example.com", phone=number, phone_verified=verified)

    merged = merge_contact(contact(existing), contact(incoming))

    winner = incoming or existing
    assert (merged.phone, merged.phone_verified) == (winner or (None, True))


# ---- country and language ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, code",
    [
        ("GB", "GB"),
        ("gb", "GB"),
        ("GBR", "GB"),
        ("gbr", "GB"),
        ("United Kingdom", "GB"),
        ("united kingdom", "GB"),
        ("UK", "GB"),
        ("Germany", "DE"),
        ("DEU", "DE"),
        ("de", "DE"),
        ("Côte d'Ivoire", "CI"),
        ("  france ", "FR"),
    ],
)
def test_countries_are_stored_as_alpha_2(raw, code):
    assert cleaned("country", raw) == code


@pytest.mark.parametrize("raw", ["Atlantis", "XX", "ZZZ", "Englandshire"])
def test_unknown_countries_are_refused(raw):
    assert only_problem("country", raw).reason.startswith("is not a known country")


@pytest.mark.parametrize(
    "raw, code",
    [
        ("en", "en"),
        ("EN", "en"),
        ("eng", "en"),
        ("English", "en"),
        ("french", "fr"),
        ("de", "de"),
        ("ger", "de"),
        ("pt-BR", "pt"),
        ("en_GB", "en"),
        ("zh-Hant-TW", "zh"),
    ],
)
def test_languages_are_stored_as_iso_639_1(raw, code):
    assert cleaned("language", raw) == code


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("xx", "is not a known language (use a name or an ISO 639-1 code)"),
        ("Elvish", "is not a known language (use a name or an ISO 639-1 code)"),
        ("Klingon", "Klingon has no two-letter ISO 639-1 code"),
        ("haw", "Hawaiian has no two-letter ISO 639-1 code"),
    ],
)
def test_unknown_languages_are_refused(raw, reason):
    assert only_problem("language", raw).reason == reason


# ---- company size -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, band",
    [
        ("1-10", "1-10"),
        ("11 - 50", "11-50"),
        ("51\u2013200", "51-200"),
        ("5001+", "5001+"),
        ("1", "1-10"),
        ("10", "1-10"),
        ("11", "11-50"),
        ("200", "51-200"),
        ("201", "201-500"),
        ("1000", "501-1000"),
        ("1001", "1001-5000"),
        ("5000", "1001-5000"),
        ("5001", "5001+"),
        ("1,200", "1001-5000"),
        ("250000", "5001+"),
        (42, "11-50"),
    ],
)
def test_company_size_is_normalised_to_a_band(raw, band):
    assert cleaned("company_size", raw) == band


@pytest.mark.parametrize("raw", ["0", "-5", "lots", "10-20", "5000+", "12.5", "1,20"])
def test_other_company_sizes_are_refused(raw):
    assert only_problem("company_size", raw).reason.startswith("must be a headcount or one of")


# ---- names and other text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Zoë",
        "李",
        "Ólafur",
        "محمد",
        "Дмитрий",
        "Nguyễn Thị",
        "Ngũgĩ wa Thiong'o",
        "O'Brien-Smith",
        "José María",
        "さくら",
        "Σωκράτης",
        "מרים",
    ],
)
def test_names_in_any_script_are_kept_intact(name):
    contact = clean_contact({"email": "ada@example.com", "first_name": name, "last_name": name})

    assert (contact.first_name, contact.last_name) == (name, name)


def test_text_is_nfc_normalised_and_inner_whitespace_collapsed():
    contact = clean_contact(
        {
            "email": "ada@example.com",
            "first_name": "Zoe\u0308",
            "company": "  Analytical \t Engines\nLtd  ",
        }
    )

    assert (contact.first_name, contact.company) == ("Zoë", "Analytical Engines Ltd")


@pytest.mark.parametrize(
    "field, limit",
    [
        ("first_name", 100),
        ("last_name", 100),
        ("job_title", 150),
        ("company", 200),
        ("industry", 100),
    ],
)
def test_text_fields_are_bounded(field, limit):
    assert cleaned(field, "é" * limit) == "é" * limit
    assert cleaned(field, "e\u0301" * limit) == "é" * limit  # length is counted after NFC
    assert only_problem(field, "é" * (limit + 1)).reason == f"is longer than {limit} characters"


@pytest.mark.parametrize("raw", ["Ada\x00", "\x1b[31mAda", "Ada\x7f", "Ada\x1fLovelace"])
def test_control_characters_are_refused(raw):
    assert only_problem("first_name", raw).reason == "contains control characters"


@pytest.mark.parametrize(
    "field, raw",
    [("first_name", True), ("company", ["AE Ltd"]), ("company_size", 12.5), ("phone", {"n": "1"})],
)
def test_values_that_are_not_text_are_refused(field, raw):
    assert only_problem(field, raw).reason == "must be text"


# ---- merging ----------------------------------------------------------------------------------


def test_merge_takes_the_newest_non_empty_value_field_by_field():
    existing = Contact(
        email="Ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        company="Old Co",
        country="GB",
    )
    incoming = Contact(
        email="ada@EXAMPLE.com", first_name="Augusta", phone="+442071234567", company="New Co"
    )

    merged = merge_contact(existing, incoming)

    assert merged == Contact(
        email="Ada@example.com",
        first_name="Augusta",
        last_name="Lovelace",
        phone="+442071234567",
        company="New Co",
        country="GB",
    )


def test_merge_recomputes_the_flags_from_the_email():
    stale = Contact(email="ada@gmail.com", free_mail=False, disposable_email=True)

    merged = merge_contact(stale, Contact(email="ada@gmail.com", free_mail=False))

    assert (merged.free_mail, merged.disposable_email) == (True, False)


def test_merge_refuses_two_different_people():
    with pytest.raises(ValueError):
        merge_contact(Contact(email="ada@example.com"), Contact(email="bob@example.com"))


def test_changed_fields_lists_old_and_new_values():
    before = Contact(email="ada@example.com", first_name="Ada", company="Old Co")
    after = merge_contact(
        before, Contact(email="ada@example.com", company="New Co", country="GB", first_name="Ada")
    )

    assert changed_fields(before, after) == {
        "company": ("Old Co", "New Co"),
        "country": (None, "GB"),
    }
    assert changed_fields(after, after) == {}


# ---- attribution ------------------------------------------------------------------------------


def attribution(fields=None, query=None, **options) -> Attribution:
    defaults = dict(
        form_id="demo", default_source="website", default_campaign=None, posted_from=None
    )
    return attribution_from(fields or {}, query or {}, **(defaults | options))


def test_submitted_fields_win_over_the_query_string_and_the_defaults():
    result = attribution(
        fields={
            "utm_source": "linkedin",
            "utm_campaign": "spring",
            "source": "partner",
            "referrer": "https://a.example/",
        },
        query={
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "winter",
            "landing_page": "https://handoff.example/demo?utm_source=google",
        },
        default_campaign="always-on",
        posted_from="https://header.example/",
    )

    assert result == Attribution(
        form_id="demo",
        source="partner",
        utm_source="linkedin",
        utm_medium="cpc",
        utm_campaign="spring",
        referrer="https://a.example/",
        landing_page="https://handoff.example/demo?utm_source=google",
    )


def test_the_posting_page_and_form_defaults_fill_what_was_not_submitted():
    result = attribution(
        fields={"utm_term": "  lead routing  ", "utm_campaign": " "},
        query={"utm_content": "hero"},
        default_campaign="always-on",
        posted_from="https://www.example.com/demo?utm_content=hero",
    )

    assert result == Attribution(
        form_id="demo",
        source="website",
        utm_term="lead routing",
        utm_content="hero",
        utm_campaign="always-on",
        landing_page="https://www.example.com/demo?utm_content=hero",
    )
    assert result.referrer is None, "the page holding the form is not where the visitor came from"


def test_urls_and_other_values_are_bounded_and_all_problems_reported():
    long_url = "https://handoff.example/" + "a" * 2030
    with pytest.raises(InvalidLead) as caught:
        attribution(
            fields={
                "utm_source": "s" * 301,
                "landing_page": long_url,
                "referrer": "https://r.example/" + "r" * 2031,
            },
            query={"utm_medium": "cpc\x00"},
        )

    assert caught.value.problems == [
        FieldProblem("utm_source", "is longer than 300 characters"),
        FieldProblem("utm_medium", "contains control characters"),
        FieldProblem("referrer", "is longer than 2048 characters"),
        FieldProblem("landing_page", "is longer than 2048 characters"),
    ]


def test_values_at_the_limits_are_accepted():
    url = "https://handoff.example/" + "a" * (2048 - 24)
    result = attribution(fields={"utm_source": "s" * 300, "landing_page": url})

    assert (len(result.utm_source), result.landing_page) == (300, url)


@pytest.mark.parametrize(
    "header",
    ["https://r.example/" + "r" * 2048, "https://r.example/\x85", "https://r.example/\udc80"],
    ids=["over-long", "control-character", "lone-surrogate"],
)
def test_a_referer_header_that_is_not_clean_text_is_dropped_not_refused(header):
    result = attribution(posted_from=header)

    assert result.landing_page is None


def test_first_touch_is_kept_and_last_touch_replaced():
    first = Attribution(form_id="ebook", utm_source="google")
    second = Attribution(form_id="demo", utm_source="linkedin")
    third = Attribution(form_id="pricing")

    assert touches(None, first) == (first, first)
    assert touches(first, second) == (first, second)
    assert touches(first, third) == (first, third)


# ---- form fields ------------------------------------------------------------------------------


def test_form_fields_are_mapped_to_canonical_names():
    submitted = {
        "work_email": "ada@example.com",
        "fname": "Ada",
        "company": "AE Ltd",
        "utm_source": "google",
        "consent": "on",
        "hidden_token": "x1",
    }

    canonical = map_form_fields(submitted, {"work_email": "email", "fname": "first_name"})

    assert canonical == {
        "email": "ada@example.com",
        "first_name": "Ada",
        "company": "AE Ltd",
        "utm_source": "google",
        "consent": "on",
    }


def test_a_mapped_field_wins_over_a_canonical_one_unless_blank():
    mapping = {"work_email": "email", "organisation": "company"}
    submitted = {
        "email": "old@example.com",
        "work_email": "ada@example.com",
        "company": "AE Ltd",
        "organisation": "  ",
    }

    assert map_form_fields(submitted, mapping) == {"email": "ada@example.com", "company": "AE Ltd"}


def test_a_canonical_name_used_as_a_form_field_follows_the_mapping():
    assert map_form_fields({"company": "AE Ltd"}, {"company": "industry"}) == {"industry": "AE Ltd"}


def test_missing_required_lists_absent_and_blank_fields_in_order():
    canonical = {"email": "ada@example.com", "company": "  ", "phone": ""}

    assert missing_required(canonical, ["company", "email", "first_name", "phone"]) == [
        FieldProblem("company", "is required"),
        FieldProblem("first_name", "is required"),
        FieldProblem("phone", "is required"),
    ]
    assert missing_required(canonical, ["email"]) == []


# ---- consent ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["on", "ON", " true ", "Yes", "1", "checked", True, 1])
def test_consent_is_given_by_a_ticked_box(value):
    consent = consent_from(
        value, required=True, text_version="2026-01", source="form:demo", now=NOW
    )

    assert consent == Consent(given=True, text_version="2026-01", given_at=NOW, source="form:demo")


@pytest.mark.parametrize("value", [None, "", "off", "no", "0", "false", "unchecked", False, 0])
def test_consent_not_given_is_recorded_when_optional(value):
    consent = consent_from(
        value, required=False, text_version="2026-01", source="form:demo", now=NOW
    )

    assert consent == Consent(
        given=False, text_version="2026-01", given_at=None, source="form:demo"
    )


@pytest.mark.parametrize("value", [None, "", "off", False])
def test_required_consent_not_given_refuses_the_lead(value):
    with pytest.raises(InvalidLead) as caught:
        consent_from(value, required=True, text_version=None, source="form:demo", now=NOW)

    assert caught.value.problems == [FieldProblem("consent", "consent is required")]


# ---- lead.captured.v1 with and without phone_verified ------------------------------------------

BEFORE_PHONE_VERIFIED = Path(__file__).with_name(
    "lead.captured.v1.before-phone-verified.schema.json"
)
NOW_SCHEMA = Path(__file__).parents[2] / "docs/events/lead.captured.v1.schema.json"


def _captured(contact: Contact) -> dict:
    event = LeadCapturedEvent(
        producer="capture",
        lead_id=uuid.uuid4(),
        payload=LeadCaptured(
            merged=False,
            contact=contact,
            consent=Consent(given=True),
            first_touch=Attribution(),
            last_touch=Attribution(),
        ),
    )
    return json.loads(event.to_bytes())


def test_an_unverified_phone_event_is_valid_under_the_contract_consumers_were_built_on():
    """Consumers still on the contract before `phone_verified` accept the new events..."""
    new = _captured(Contact(email="ada@example.com", phone="06 12", phone_verified=False))
    Draft202012Validator(json.loads(BEFORE_PHONE_VERIFIED.read_text())).validate(new)


def test_an_event_from_before_phone_verified_is_valid_now_and_reads_as_verified():
    """...and events written before it are valid now, their phone read as verified."""
    old = _captured(Contact(email="ada@example.com", phone="+442071234567"))
    del old["payload"]["contact"]["phone_verified"]
    Draft202012Validator(json.loads(NOW_SCHEMA.read_text())).validate(old)
    assert LeadCapturedEvent.model_validate(old).payload.contact.phone_verified is True
