"""All of feedback's SQL: the read model (persons, timeline, erasure), lead facts and their
aggregates, the reports."""

from services.feedback.repository.aggregates import add_at_commit
from services.feedback.repository.capacity import capacity, record_capacity
from services.feedback.repository.erasure import erase, is_erased
from services.feedback.repository.facts import Claimed, claim_facts, locked_facts, save_facts
from services.feedback.repository.flow import Threshold, flow, record_thresholds
from services.feedback.repository.pages import latest_scores, rep_leads
from services.feedback.repository.persons import list_leads, person, upsert_persons
from services.feedback.repository.reports import (
    as_decimal,
    reason_sums,
    revenue_sums,
    segment_sums,
    speed_buckets,
)
from services.feedback.repository.timeline import add_to_timeline, events_of

__all__ = [
    "Claimed",
    "Threshold",
    "add_at_commit",
    "add_to_timeline",
    "as_decimal",
    "capacity",
    "claim_facts",
    "erase",
    "events_of",
    "flow",
    "is_erased",
    "latest_scores",
    "list_leads",
    "locked_facts",
    "person",
    "reason_sums",
    "record_capacity",
    "record_thresholds",
    "rep_leads",
    "revenue_sums",
    "save_facts",
    "segment_sums",
    "speed_buckets",
    "upsert_persons",
]
