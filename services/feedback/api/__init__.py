"""Feedback's routes, one module per resource, and the pages (`api/pages`)."""

from fastapi import APIRouter

from services.feedback.api import leads, pages, reports, verdicts

router = APIRouter()
router.include_router(verdicts.router)
router.include_router(leads.router)
router.include_router(reports.router)
router.include_router(pages.router)
