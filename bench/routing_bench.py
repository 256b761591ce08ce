"""Routing decision time with 1,000 reps and 50 rules (target: p99 under 5 ms).

    .venv/bin/python bench/routing_bench.py [--decisions 5000] [--db-decisions 1000]

1. **pure decision** (`match_rule` + `place`, no I/O): 50 ordered rules (49 by country, the last
   by grade), the matched team holding all 1,000 reps with mixed zones, hours, territories,
   languages, loads, out-of-office periods and inactive reps; each strategy. Baseline in the same
   run: the same decision over a 10-rep team. Wall-clock and CPU (`time.thread_time`) percentiles:
   on a shared 2-core machine the wall-clock tail is mostly waiting for a core.
2. **decision in PostgreSQL** (`route_mql` in one transaction on an embedded PostgreSQL, the way the
   consumer calls it, minus the broker): criteria, rules, the team's reps, the account lookup, the
   conditional UPDATE claim, the assignment, the decision and the outbox row; committed. Each
   assignment is closed again (outside the timing) so reps keep room. Same two team sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from handoff.embedded import EmbeddedPostgres
from services.routing.admin import import_org
from services.routing.domain.decision import place
from services.routing.domain.hours import Period
from services.routing.domain.hours_text import parse_hours
from services.routing.domain.org import Lead, Rep, Strategy, Team
from services.routing.domain.rules import Rule, match_rule
from services.routing.handlers.mqls import route_mql
from services.routing.models import platform
from services.routing.schemas.org import OrgIn
from shared.db import create_engine, session_factory
from shared.events import Grade, LeadMql, LeadMqlEvent, RoutingProfile
from shared.migrations import upgrade
from shared.outbox import Outbox
from shared.service import YOUNG_GENERATION_THRESHOLD
from shared.settings import Settings
from shared.uow import UnitOfWork

COUNTRIES = ["GB", "DE", "FR", "US", "CA", "JP", "AU", "IN", "BR", "NL", "ES", "IT", "SE"]
ZONES = ["Europe/London", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]
HOURS = ["mon-fri 08:00-18:00", "always", "mon-sun 07:00-16:00", "sun-thu 09:00-17:00"]
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday


def rep_fields(i: int, team: str, rng: random.Random) -> dict[str, Any]:
    capacity = rng.randint(5, 30)
    return {
        "id": f"rep-{team}-{i:04d}",
        "email": f"rep{i}@bench.example",
        "name": f"Rep {i}",
        "team": team,
        "capacity": capacity,
        "weight": rng.randint(1, 4),
        "territories": rng.sample(COUNTRIES, rng.randint(0, 4)),
        "languages": rng.choice([[], ["en"], ["en", "de"]]),
        "timezone": rng.choice(ZONES),
        "working_hours": rng.choice(HOURS),
        "active": rng.random() > 0.05,
        "out_of_office": (
            [{"start": "2026-11-01T00:00:00Z", "end": "2026-12-31T00:00:00Z"}]
            if rng.random() < 0.05
            else []
        ),
    }


def rules(team: str) -> list[dict[str, Any]]:
    """49 rules that the bench leads never match (so all 50 are evaluated), then the team's."""
    found = [
        {"name": f"r{i:02d}", "team": team, "countries": [f"X{chr(65 + i % 26)}"]}
        for i in range(49)
    ]
    return [*found, {"name": "graded", "team": team, "grades": ["A", "B", "C"]}]


def domain_reps(count: int, rng: random.Random) -> list[Rep]:
    result = []
    for i in range(count):
        f = rep_fields(i, "t", rng)
        away = tuple(
            Period(datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"]))
            for p in f["out_of_office"]
        )
        result.append(
            Rep(
                id=f["id"],
                email=f["email"],
                name=f["name"],
                team_id="t",
                capacity=f["capacity"],
                hours=parse_hours(f["timezone"], f["working_hours"]),
                weight=f["weight"],
                territories=frozenset(f["territories"]),
                languages=frozenset(f["languages"]),
                out_of_office=away,
                active=f["active"],
                open_load=rng.randint(0, f["capacity"]),
                rr_pass=rng.random() * 10,
            )
        )
    return result


def settle() -> None:
    """As the service does after start-up (shared/service.py): what exists now is long-lived,
    and the young generation is collected less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": q[49] * 1000, "p99": q[98] * 1000, "max": ordered[-1] * 1000}


def lead(rng: random.Random) -> Lead:
    return Lead(score=rng.randint(40, 99), grade="B", country=rng.choice(COUNTRIES), language="en")


def pure(decisions: int, team_size: int, strategy: Strategy) -> dict[str, float]:
    rng = random.Random(7)
    reps = domain_reps(team_size, rng)
    team = Team("t", "T", strategy)
    rule_set = [
        Rule(r["name"], r["team"], i, countries=frozenset(r.get("countries", ())),
             grades=frozenset(r.get("grades", ())))
        for i, r in enumerate(rules("t"))
    ]  # fmt: skip
    leads = [lead(rng) for _ in range(decisions)]
    settle()
    samples, cpu = [], []
    placed = 0
    for item in leads:
        started, started_cpu = time.perf_counter(), time.thread_time()
        match = match_rule(rule_set, item, None)
        placement = place(item, match, team, reps, NOW)
        cpu.append(time.thread_time() - started_cpu)
        samples.append(time.perf_counter() - started)
        placed += bool(placement.ranked)
        assert match.rule == "graded"
    cpu_p = {f"cpu {k}": v for k, v in percentiles(cpu).items() if k != "max"}
    return percentiles(samples) | cpu_p | {"placed %": 100 * placed / decisions}


async def in_database(url: str, decisions: int, team_size: int) -> dict[str, float]:
    rng = random.Random(11)
    settings = Settings(database_url=url)
    engine = create_engine(url, pool_size=2)
    sessions = session_factory(engine)
    outbox = Outbox(platform, settings, "routing")
    team = f"t{team_size}"
    org = OrgIn.model_validate(
        {
            "teams": [{"id": team, "name": team, "strategy": "least_loaded"}],
            "reps": [
                rep_fields(i, team, rng) | {"working_hours": "always"} for i in range(team_size)
            ],
            "rules": rules(team),
        }
    )
    async with sessions() as session, session.begin():
        await import_org(org, UnitOfWork(session, outbox, settings))
    settle()
    samples = []
    for _ in range(decisions):
        event = LeadMqlEvent(
            producer="bench",
            lead_id=uuid.uuid4(),
            correlation_id=uuid.uuid4(),
            payload=LeadMql(
                score=rng.randint(40, 99),
                grade=Grade.B,
                model_version="bench",
                threshold=50,
                profile=RoutingProfile(
                    country=rng.choice(COUNTRIES), language="en", consent_given=True,
                    company_domain=f"c{rng.randint(0, 500)}.example",
                ),
            ),
        )  # fmt: skip
        started = time.perf_counter()
        async with sessions() as session, session.begin():
            await route_mql(event, UnitOfWork(session, outbox, settings))
        samples.append(time.perf_counter() - started)
        async with sessions() as session, session.begin():  # keep room: close it again
            await _close(session, event.lead_id)
    await engine.dispose()
    return percentiles(samples)


async def _close(session: Any, lead_id: uuid.UUID) -> None:
    from sqlalchemy import text

    await session.execute(
        text(
            "WITH closed AS (UPDATE routing.assignments SET status = 'closed'"
            " WHERE lead_id = :lead AND status <> 'closed' RETURNING rep_id)"
            " UPDATE routing.reps SET open_load = open_load - 1"
            " WHERE id IN (SELECT rep_id FROM closed)"
        ),
        {"lead": lead_id},
    )
    await session.execute(
        text("DELETE FROM routing.queue WHERE lead_id = :lead"), {"lead": lead_id}
    )
    await session.execute(text("DELETE FROM routing.outbox"))


def show(title: str, row: dict[str, float]) -> None:
    cells = "  ".join(f"{k} {v:8.3f}" for k, v in row.items())
    print(f"{title:<44} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--db-decisions", type=int, default=1000)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    print("pure decision (ms):")
    for strategy in Strategy:
        base = pure(args.decisions, 10, strategy)
        big = pure(args.decisions, 1000, strategy)
        show(f"  {strategy}, 10 reps (baseline)", base)
        show(f"  {strategy}, 1,000 reps, 50 rules", big)
        print(f"  {'':<42} p99 ratio 1,000/10 reps: {big['p99'] / base['p99']:.1f}x")
    with tempfile.TemporaryDirectory(prefix="routing-bench-") as data:
        server = EmbeddedPostgres(Path(data) / "pg")
        url = server.start()
        try:
            upgrade("routing", url)
            print("route_mql in one committed transaction (ms):")
            base = asyncio.run(in_database(url, args.db_decisions, 10))
            big = asyncio.run(in_database(url, args.db_decisions, 1000))
            show("  10 reps (baseline)", base)
            show("  1,000 reps, 50 rules", big)
            print(f"  {'':<42} p99 ratio 1,000/10 reps: {big['p99'] / base['p99']:.1f}x")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
