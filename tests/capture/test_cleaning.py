"""clean_contact on a whole contact, and on names and other free text."""

import pytest

from services.capture.cleaning import FieldProblem, InvalidLead, clean_contact
from shared.events import Contact
from tests.capture.cleaning_helpers import cleaned, only_problem, problems_of


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
