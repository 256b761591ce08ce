"""Capture's routes, one module per resource."""

from fastapi import APIRouter

from services.capture.api import activities, forms, leads

router = APIRouter()
router.include_router(leads.router)
router.include_router(activities.router)
router.include_router(forms.router)
