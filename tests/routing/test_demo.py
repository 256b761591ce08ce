"""The demo sales organisation: someone on duty in every team at every hour, every country
routed, and loading it twice changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pycountry
import pytest

from handoff.demo_routing import demo_org, load_routing_demo
from services.routing.admin import rep_row
from services.routing.domain.eligibility import on_duty
from services.routing.domain.org import Lead, Rep
from services.routing.domain.rules import Rule, match_rule
from services.routing.repository import Repository, to_rep
from services.routing.schemas.org import OrgIn
from shared.settings import Settings
from tests.routing.conftest import Routing

ORG = OrgIn.model_validate(demo_org())


def _reps() -> dict[str, list[Rep]]:
    """The demo reps as the domain sees them, by team, without a database."""
    live = {"open_load": 0, "assigned_day": None, "assigned_today": 0, "rr_pass": 0.0, "share": 1.0}
    by_team: dict[str, list[Rep]] = {}
    for rep in ORG.reps:
        row = SimpleNamespace(**(rep_row(rep) | live))
        by_team.setdefault(rep.team, []).append(to_rep(row))  # type: ignore[arg-type]
    return by_team


@pytest.mark.parametrize(
    "week_of",
    [
        datetime(2026, 3, 23, tzinfo=UTC),  # Europe springs forward on the 29th
        datetime(2026, 4, 1, tzinfo=UTC),  # Sydney falls back on the 5th
        datetime(2026, 10, 19, tzinfo=UTC),  # Europe falls back on the 25th
        datetime(2026, 10, 30, tzinfo=UTC),  # the US falls back on 1 November
        datetime(2027, 3, 8, tzinfo=UTC),  # the US springs forward on the 14th
    ],
)
def test_every_team_has_someone_on_duty_at_every_minute_of_the_week(week_of: datetime) -> None:
    teams = _reps()
    assert set(teams) == {t.id for t in ORG.teams}
    for step in range(0, 8 * 24 * 60, 15):
        at = week_of + timedelta(minutes=step)
        for team_id, reps in teams.items():
            assert any(on_duty(r, at) for r in reps), f"nobody in {team_id} at {at}"


def test_every_country_has_a_team() -> None:
    rules = [
        Rule(r.name, r.team, i, countries=frozenset(r.countries))
        for i, r in enumerate(ORG.rules or [])
    ]
    fallback = next(t.id for t in ORG.teams if t.fallback)
    for country in pycountry.countries:
        lead = Lead(score=80, grade="A", country=country.alpha_2)
        assert match_rule(rules, lead, fallback).team_id is not None
    assert match_rule(rules, Lead(score=80, grade="A", country="GB"), fallback).team_id == "emea"


@pytest.mark.asyncio
async def test_loading_twice_changes_nothing(routing: Routing, settings: Settings) -> None:
    load = lambda: load_routing_demo(settings.database_url, settings.secret_key)  # noqa: E731
    await asyncio.to_thread(load)
    await asyncio.to_thread(load)
    async with routing.sessions() as session:
        repo = Repository(session)
        assert len(await repo.reps()) == len(ORG.reps)
        criteria = await repo.active_criteria()
        assert criteria is not None and criteria.version == 1
        assert len(await repo.criteria_versions()) == 1
