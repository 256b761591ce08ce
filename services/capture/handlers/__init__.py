"""Capture's use cases, one module per resource as in `api/`: each is `async def verb(message,
uow)` over one unit of work (`shared.uow`), which the edge commits; they never do. A refusal is
raised as a `shared.problems` error, which `shared.errors` maps to the answer once."""

from services.capture.handlers.activities import record_activities
from services.capture.handlers.forms import (
    SaveForm,
    SubmitForm,
    delete_form,
    form_to_submit,
    save_form,
    submit_form,
    unknown_form,
)
from services.capture.handlers.leads import (
    PRODUCER,
    Captured,
    CaptureLead,
    EraseLead,
    capture_lead,
    capture_submission,
    erase_lead,
    unknown_lead,
)

__all__ = [
    "PRODUCER",
    "CaptureLead",
    "Captured",
    "EraseLead",
    "SaveForm",
    "SubmitForm",
    "capture_lead",
    "capture_submission",
    "delete_form",
    "erase_lead",
    "form_to_submit",
    "record_activities",
    "save_form",
    "submit_form",
    "unknown_form",
    "unknown_lead",
]
