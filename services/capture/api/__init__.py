"""Capture's routes, one module per resource."""

from fastapi import APIRouter

from services.capture.api import leads

router = APIRouter()
router.include_router(leads.router)
