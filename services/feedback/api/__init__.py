"""Feedback's routes, one module per resource."""

from fastapi import APIRouter

from services.feedback.api import leads, reports, verdicts

router = APIRouter()
router.include_router(verdicts.router)
router.include_router(leads.router)
router.include_router(reports.router)
