"""A lead for capture's lead API, and reading capture's tables with plain SQL in tests."""

from __future__ import annotations

from sqlalchemy import text

from shared.db import create_engine
from shared.settings import Settings

JSON = {"Content-Type": "application/json"}

LEAD = {
    "email": "Ada.Lovelace@Example.COM",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "Analytical Engines",
    "country": "gb",
    "phone": "+44 20 7123 4567",
    "consent": {"given": True, "text_version": "2026-01"},
    "attribution": {"utm_source": "newsletter", "utm_campaign": "launch"},
}


async def count_rows(settings: Settings, table: str, where: str = "true", **params) -> int:
    return await sql(settings, f"SELECT count(*) FROM capture.{table} WHERE {where}", **params)


async def sql(settings: Settings, statement: str, **params):
    """Run one statement in its own committed transaction; the first column of the first row."""
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()
