"""One line per event on a lead's timeline: who acted and why, in words both teams read.

The detail kept with each line is the event's own payload, except for a capture, where the
contact and consent stay in the lead's row (the timeline says where the lead came from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.events import (
    Envelope,
    LeadActivity,
    LeadAssigned,
    LeadCaptured,
    LeadFeedback,
    LeadMql,
    LeadQueued,
    LeadReturned,
    LeadScored,
)


@dataclass(frozen=True)
class Entry:
    actor: str
    summary: str
    detail: dict[str, Any]


def entry(event: Envelope, *, actor: str | None = None) -> Entry:
    """The timeline entry for a lead's event; `actor` overrides the producer (a rep's verdict)."""
    payload = event.payload
    detail = payload.model_dump(mode="json", exclude_none=True)
    who = actor or event.producer
    match payload:
        case LeadCaptured():
            touch = payload.first_touch
            detail = {"merged": payload.merged, "first_touch": detail["first_touch"]}
            where = ", ".join(
                f"{name} {value}"
                for name, value in (
                    ("form", touch.form_id),
                    ("source", touch.source),
                    ("campaign", touch.utm_campaign),
                )
                if value
            )
            what = "merged into the known lead" if payload.merged else "captured"
            return Entry(who, f"{what}" + (f" from {where}" if where else ""), detail)
        case LeadActivity():
            return Entry(who, f"{payload.activity_type.value}", detail)
        case LeadScored():
            rules = ", ".join(f"{r.rule} {r.points:+d}" for r in payload.explanation) or "none"
            return Entry(
                who,
                f"scored {payload.total_score} (fit {payload.fit_score}, grade "
                f"{payload.grade.value}, engagement {payload.engagement_score}) by model "
                f"{payload.model_version}, threshold {payload.threshold}; rules: {rules}",
                detail,
            )
        case LeadMql():
            return Entry(
                who,
                f"MQL: score {payload.score} reached threshold {payload.threshold} "
                f"(model {payload.model_version})",
                detail,
            )
        case LeadReturned():
            return Entry(
                who,
                f"returned to nurture: {payload.reason} (criterion {payload.failed_criterion}, "
                f"criteria {payload.criteria_version})",
                detail,
            )
        case LeadQueued():
            team = f" for team {payload.team_id}" if payload.team_id else ""
            return Entry(
                who, f"queued{team} at position {payload.queue_position}: {payload.reason}", detail
            )
        case LeadAssigned():
            again = (
                f", reassigned from {payload.previous_rep_id} (attempt {payload.attempt})"
                if payload.attempt > 1
                else ""
            )
            return Entry(
                who,
                f"assigned to {payload.rep_id} (team {payload.team_id}) by rule {payload.rule}, "
                f"{payload.strategy}{again}; follow-up due {payload.follow_up_due.isoformat()}",
                detail,
            )
        case LeadFeedback():
            parts = [payload.verdict.value]
            if payload.reason_code:
                parts.append(f"reason {payload.reason_code.value}")
            if payload.quality_rating:
                parts.append(f"rated {payload.quality_rating}/5")
            if payload.deal_value is not None:
                parts.append(f"deal {payload.deal_value} {payload.currency}")
            summary = ", ".join(parts) + (f": {payload.note}" if payload.note else "")
            return Entry(who, summary, detail)
    return Entry(who, event.event_type, detail)
