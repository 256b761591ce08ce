"""Routing's handler test helpers: read events off a topic, and make a sales verdict."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiokafka import ConsumerRecord

from shared.events import (
    Envelope,
    LeadFeedback,
    LeadFeedbackEvent,
    ReasonCode,
    Verdict,
)
from tests.helpers import wait_for


def values(records: list[ConsumerRecord]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]


def feedback(lead_id: uuid.UUID | None, verdict: Verdict) -> LeadFeedbackEvent:
    reason = ReasonCode.no_budget if verdict in (Verdict.rejected, Verdict.lost) else None
    return LeadFeedbackEvent(
        producer="feedback",
        lead_id=lead_id,
        payload=LeadFeedback(verdict=verdict, reason_code=reason, rep_id=None),
    )


async def _events_of(reader: Any, *events: Envelope) -> dict[str, dict[str, Any]]:
    """Wait until every one of these leads has an event on the reader's topic; by lead id."""
    wanted = {str(e.lead_id) for e in events}

    async def arrived() -> dict[str, dict[str, Any]] | None:
        got = {v["lead_id"]: v for v in values(await reader.poll())}
        return got if wanted <= set(got) else None

    result = await wait_for(arrived, message=f"events of {len(wanted)} leads")
    assert result is not None
    return result


async def _leads_in(reader: Any, count: int) -> list[str] | None:
    """The first `count` distinct leads in the order they arrived (the relay may deliver an
    event twice; consumers dedupe by event id, and so does this)."""
    leads = list(dict.fromkeys(e["lead_id"] for e in values(await reader.poll())))
    return leads[:count] if len(leads) >= count else None
