from fastapi import APIRouter

from services.scoring.api import backtests, calibration, drift, leads, models, threshold

router = APIRouter()
router.include_router(models.router)
router.include_router(leads.router)
router.include_router(threshold.router)
router.include_router(calibration.router)
router.include_router(backtests.router)
router.include_router(drift.router)
