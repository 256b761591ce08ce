"""Capture's pure decisions in domain.py: merging a contact, mapping form fields, consent."""

from datetime import UTC, datetime

import pytest

from services.capture.cleaning import FieldProblem, InvalidLead
from services.capture.domain import (
    changed_fields,
    consent_from,
    map_form_fields,
    merge_contact,
    missing_required,
)
from shared.events import Consent, Contact

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


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
