"""The baseline for bench/capture_throughput.py: capture's lead endpoint with nothing behind it.

One route, `POST /v1/leads`, parsing the request into the very same pydantic model as capture
(`services.capture.schemas.LeadIn`) and answering 202 with a fixed `LeadAccepted` body through the
same response model. No authentication, no cleaning, no database, no outbox: what is left is
the cost of uvicorn + FastAPI + pydantic, i.e. the ceiling any capture endpoint could reach.

    uvicorn --factory bench.bare_app:create_app --workers 1
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI, status

from services.capture.schemas import LeadAccepted, LeadIn

FIXED = LeadAccepted(lead_id=uuid.UUID("00000000-0000-4000-8000-000000000000"), merged=False)


def create_app() -> FastAPI:
    app = FastAPI(title="Handoff bench: bare lead endpoint")

    @app.post("/v1/leads", status_code=status.HTTP_202_ACCEPTED, response_model=LeadAccepted)
    async def post_lead(lead: LeadIn) -> LeadAccepted:
        return FIXED

    return app
