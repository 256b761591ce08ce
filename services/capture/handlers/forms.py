"""Web forms: define and delete them, and take their submissions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from services.capture import domain, repository
from services.capture.handlers.leads import capture_submission
from services.capture.models import Form
from services.capture.schemas import FormIn, FormOut, LeadAccepted
from shared.problems import NotFound
from shared.uow import UnitOfWork

FORM_SPAM = Counter(
    "handoff_form_spam_total",
    "Form submissions dropped because their honeypot field was filled.",
    ["form"],
)


# ---- forms ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveForm:
    form_id: str
    definition: FormIn


async def save_form(message: SaveForm, uow: UnitOfWork) -> tuple[FormOut, bool]:
    """Create a form or replace its whole definition; True when it is new."""
    values = message.definition.model_dump()
    form, created = await repository.save_form(uow.session, message.form_id, values)
    return FormOut.model_validate(form), created


async def delete_form(form_id: str, uow: UnitOfWork) -> None:
    """Leads it captured stay."""
    if not await repository.delete_form(uow.session, form_id):
        raise unknown_form(form_id)


async def form_to_submit(form_id: str, uow: UnitOfWork) -> Form:
    if (form := await repository.form_to_submit(form_id, uow)) is None:
        raise unknown_form(form_id)
    return form


def unknown_form(form_id: str) -> NotFound:
    return NotFound(f"there is no form {form_id}")


@dataclass(frozen=True)
class SubmitForm:
    """The fields a form was posted with, and where the post came from."""

    form: Form
    fields: dict[str, Any]
    query: dict[str, str]
    posted_from: str | None


async def submit_form(message: SubmitForm, uow: UnitOfWork) -> LeadAccepted:
    """Judge a form's submission as a whole and capture it; spam is answered alike, dropped."""
    form = message.form
    if domain.is_spam(form, message.fields):
        FORM_SPAM.labels(form.id).inc()
        return LeadAccepted(lead_id=uuid.uuid4(), merged=False)
    submission = domain.submission_from(
        form,
        message.fields,
        query=message.query,
        posted_from=message.posted_from,
        now=datetime.now(UTC),
    )
    return await capture_submission(submission, uow)
