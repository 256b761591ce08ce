"""The pages people use: sign-in, `/dashboard`, `/inbox` and `/models`, server-rendered."""

from fastapi import APIRouter

from services.feedback.api.pages import dashboard, inbox, models, signin

router = APIRouter(include_in_schema=False)
router.include_router(signin.router)
router.include_router(dashboard.router)
router.include_router(inbox.router)
router.include_router(models.router)
