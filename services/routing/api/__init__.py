"""Routing's HTTP API: one module per resource."""

from fastapi import APIRouter

from services.routing.api import (
    assignments,
    criteria,
    leads,
    queue,
    records,
    reps,
    sla,
    teams,
    webhooks,
)

router = APIRouter()
for module in (leads, assignments, records, reps, teams, queue, criteria, sla, webhooks):
    router.include_router(module.router)
