"""What lead.captured.v1 and lead.activity.v1 set on scoring's lead row: the profile copied from
capture, and the activity kept with the product it shows. The one-event handlers
(`handlers.leads`) and the batch (`handlers.intake`) both read events through these."""

from __future__ import annotations

from typing import Any

from services.scoring.domain.scoring import Activity
from shared.events import LeadActivityEvent, LeadCapturedEvent


def captured_profile(event: LeadCapturedEvent) -> dict[str, Any]:
    """What lead.captured.v1 sets on the lead row (its profile, and that it was captured)."""
    contact, first = event.payload.contact, event.payload.first_touch
    return {
        "job_title": contact.job_title,
        "company": contact.company,
        "company_size": contact.company_size,
        "industry": contact.industry,
        "country": contact.country,
        "language": contact.language,
        "email_domain": contact.email.rpartition("@")[2].lower() or None,
        "free_mail": contact.free_mail,
        "disposable_email": contact.disposable_email,
        "consent_given": event.payload.consent.given,
        "source": _cut(first.source or first.utm_source, 100),
        "utm_campaign": _cut(first.utm_campaign, 200),
        "captured_at": event.occurred_at,
    }


def _cut(text: str | None, length: int) -> str | None:
    return text[:length] if text else None


def activity_of(event: LeadActivityEvent) -> tuple[Activity, dict[str, Any]]:
    """The activity kept, and what it changes on the lead row (the product it shows)."""
    activity = event.payload
    properties = activity.properties.model_dump(exclude_none=True)
    kept = Activity(activity.activity_type.value, activity.happened_at, properties)
    product = properties.get("product")
    return kept, {"product_interest": product[:300]} if isinstance(product, str) else {}
