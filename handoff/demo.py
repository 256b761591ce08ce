"""The demo configuration `handoff up` loads, so anyone can try a real form in a minute:
open `<capture>/v1/forms/demo/page`, fill it in, and the lead is on `lead.captured.v1`."""

from __future__ import annotations

import httpx

DEMO_FORM_ID = "demo"
DEMO_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "country",
    "phone",
    "consent",
)
DEMO_FORM = {
    "name": "Request a demo",
    "field_mapping": {field: field for field in DEMO_FIELDS},
    "required_fields": ["email"],
    "allowed_origins": ["*"],
    "thank_you_url": None,  # capture's own thank-you and error pages
    "error_url": None,
    "consent_required": True,
    "consent_text": "I agree that Handoff may contact me about this demo request and store my "
    "details for that purpose. I can withdraw this consent at any time.",
    "consent_version": "demo-2026-01",
    "default_source": "demo",
    "default_campaign": None,
    "default_region": None,
    "honeypot_field": "website",
}


def load_demo(capture_url: str, admin_key: str) -> None:
    """Create or replace the demo form through capture's admin API."""
    answer = httpx.put(
        f"{capture_url.rstrip('/')}/v1/forms/{DEMO_FORM_ID}",
        json=DEMO_FORM,
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=10.0,
    )
    answer.raise_for_status()
