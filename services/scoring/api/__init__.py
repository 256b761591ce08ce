from fastapi import APIRouter

from services.scoring.api import leads, learning, models, threshold

router = APIRouter()
router.include_router(models.router)
router.include_router(leads.router)
router.include_router(threshold.router)
router.include_router(learning.router)
