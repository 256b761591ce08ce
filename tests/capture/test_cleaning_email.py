"""Email addresses in clean_contact and identity_email: refused, kept, free-mail, disposable."""

import pytest

from services.capture.cleaning import FieldProblem, clean_contact, identity_email
from tests.capture.cleaning_helpers import cleaned, problems_of


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
