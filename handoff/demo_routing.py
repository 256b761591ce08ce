"""The demo sales organisation and SQL criteria, and how `handoff up` loads them.

`load_routing_demo(database_url: str, secret_key: str) -> None` writes four teams, their reps
and the routing rules into routing's tables unless a team already exists, and makes the demo SQL
criteria active (approved by marketing and sales, recorded as `demo`) unless some criteria
already are; running it again changes nothing. It needs the migrated database; `secret_key` is
the stack's (it only completes the settings used to open the database).

Every team has someone on duty at every hour of the week, DST included (overlapping 9-10 hour
shifts in three zones), and the rules give every country a team (`global` is the fallback), so a
good lead posted at any moment is assigned at once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.settings import Settings

EMEA = "GB IE DE FR NL BE LU ES PT IT CH AT SE NO DK FI PL CZ AE SA IL ZA NG KE EG"
AMERICAS = "US CA MX BR AR CL CO PE"
APAC = "JP AU NZ SG IN CN HK KR TW ID MY PH TH VN"

TEAMS: list[dict[str, Any]] = [
    {"id": "emea", "name": "EMEA", "strategy": "least_loaded", "sla_minutes": 60,
     "escalation_contact": "emea-lead@demo.example"},
    {"id": "americas", "name": "Americas", "strategy": "weighted_round_robin",
     "sla_minutes": 60, "escalation_contact": "americas-lead@demo.example"},
    {"id": "apac", "name": "APAC", "strategy": "least_loaded", "sla_minutes": 90,
     "escalation_contact": "apac-lead@demo.example"},
    {"id": "global", "name": "Global desk", "strategy": "weighted_round_robin",
     "sla_minutes": 120, "escalation_contact": "sales-ops@demo.example", "fallback": True},
]  # fmt: skip

# (id, name, team, zone, hours, extra)
_REPS: list[tuple[str, str, str, str, str, dict[str, Any]]] = [
    ("ada", "Ada Byron", "emea", "Europe/London", "mon-sun 07:00-16:00", {"languages": []}),
    ("omar", "Omar Haddad", "emea", "Asia/Dubai", "mon-sun 18:00-03:00", {}),
    ("mia", "Mia Chen", "emea", "Australia/Sydney", "mon-sun 09:00-18:00", {}),
    ("grace", "Grace Hopper", "americas", "America/New_York", "mon-sun 08:00-17:00",
     {"weight": 2}),
    ("luis", "Luis Ortega", "americas", "America/Los_Angeles", "mon-sun 13:00-22:00", {}),
    ("rosa", "Rosa Santos", "americas", "Asia/Manila", "mon-sun 12:00-21:00", {}),
    ("kenji", "Kenji Sato", "apac", "Australia/Sydney", "mon-sun 09:00-18:00", {}),
    ("wei", "Wei Lim", "apac", "Asia/Singapore", "mon-sun 14:00-23:00", {}),
    ("priya", "Priya Nair", "apac", "Asia/Kolkata", "mon-sun 19:00-05:00", {"daily_cap": 40}),
    ("sam", "Sam Reyes", "global", "UTC", "always", {"weight": 2}),
    ("noor", "Noor Aziz", "global", "UTC", "always", {}),
]  # fmt: skip

REPS: list[dict[str, Any]] = [
    {
        "id": rep_id,
        "email": f"{rep_id}@demo.example",
        "name": name,
        "team": team,
        "capacity": 10,
        "timezone": zone,
        "working_hours": hours,
    }
    | extra
    for rep_id, name, team, zone, hours, extra in _REPS
]

RULES: list[dict[str, Any]] = [
    {"name": "emea", "team": "emea", "countries": EMEA.split()},
    {"name": "americas", "team": "americas", "countries": AMERICAS.split()},
    {"name": "apac", "team": "apac", "countries": APAC.split()},
]

CRITERIA: dict[str, Any] = {
    "consent_required": True,
    "min_grade": "C",
    "excluded_countries": ["KP", "IR", "SY", "CU"],
    "excluded_industries": ["gambling"],
}


def demo_org() -> dict[str, Any]:
    return {"teams": TEAMS, "reps": REPS, "rules": RULES}


def load_routing_demo(database_url: str, secret_key: str) -> None:
    """Load the demo organisation and criteria unless there already are some; safe to rerun."""
    from shared.settings import Settings

    settings = Settings(database_url=database_url, secret_key=secret_key)
    asyncio.run(load_routing(settings, demo_org(), CRITERIA, by="demo"))


async def load_routing(
    settings: Settings, org: dict[str, Any], criteria: dict[str, Any], *, by: str
) -> None:
    """A sales organisation and SQL criteria both sides agreed (the demo, the latency bench,
    end-to-end tests), each loaded unless routing's database already has one."""
    from services.routing.admin import import_org
    from services.routing.criteria import install_agreed_criteria
    from services.routing.models import platform
    from services.routing.repository import Repository
    from services.routing.schemas.criteria import CriteriaIn
    from services.routing.schemas.org import OrgIn
    from shared.db import create_engine, session_factory
    from shared.outbox import Outbox
    from shared.uow import UnitOfWork

    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with session_factory(engine)() as session, session.begin():
            uow = UnitOfWork(session, Outbox(platform, settings, "routing"), settings)
            repo = Repository(session)
            if not await repo.team_ids():
                await import_org(OrgIn.model_validate(org), uow)
            if await repo.active_criteria() is None:
                await install_agreed_criteria(CriteriaIn.model_validate(criteria), uow, by=by)
    finally:
        await engine.dispose()
