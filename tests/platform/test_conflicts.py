"""A transaction PostgreSQL aborts for a conflict with another (deadlock, serialization failure)
wrote nothing: the caller gets 503 with Retry-After, never 500."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from shared.errors import install_error_handlers


def _app(error: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/write")
    async def write() -> None:
        raise error

    return app


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "error",
    [
        asyncpg.DeadlockDetectedError("deadlock detected"),
        asyncpg.SerializationError("could not serialize access"),
    ],
)
async def test_a_conflict_between_transactions_is_503_with_retry_after(error: Exception) -> None:
    transport = httpx.ASGITransport(app=_app(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post("/write")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert "retry" in answer.json()["detail"]


@pytest.mark.asyncio
async def test_other_database_errors_stay_500() -> None:
    """The mapping is narrow: a real bug (here a constraint the code broke) is not hidden."""
    transport = httpx.ASGITransport(
        app=_app(asyncpg.UniqueViolationError("duplicate key")), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post("/write")
    assert answer.status_code == 500
