"""Phone numbers in clean_contact: E.164, refused or kept as typed, and phone_verified."""

import json
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from services.capture.cleaning import InvalidLead, clean_contact
from services.capture.domain import merge_contact
from shared.events import Attribution, Consent, Contact, LeadCaptured, LeadCapturedEvent
from tests.capture.cleaning_helpers import cleaned, only_problem


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
