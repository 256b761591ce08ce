"""Scoring's use cases: one table of the events it consumes, the periodic jobs, and the model
commands (in `models`)."""

from services.scoring.handlers.leads import (
    apply_feedback,
    apply_return,
    erase,
    record_activity,
    record_capacity,
    record_capture,
    rescore,
    sweep_decay,
)
from shared.events import (
    LeadActivityEvent,
    LeadCapturedEvent,
    LeadErasedEvent,
    LeadFeedbackEvent,
    LeadReturnedEvent,
    SalesCapacityEvent,
)
from shared.jobs import Job

HANDLERS = {
    LeadCapturedEvent: record_capture,
    LeadActivityEvent: record_activity,
    LeadFeedbackEvent: apply_feedback,
    LeadReturnedEvent: apply_return,
    SalesCapacityEvent: record_capacity,
    LeadErasedEvent: erase,
}

JOBS = [
    Job("decay-sweep", 300.0, sweep_decay),
    Job("rescore-after-activation", 2.0, rescore),
]
