"""Feedback's CPU per lead event, handled in consumer-sized batches, a baseline commit's code beside
the working tree's, in one run.

    .venv/bin/python bench/feedback_bulk.py --baseline <commit> [--leads 400] [--sizes 1,10,100]

Starts an embedded PostgreSQL, migrates it (the working tree's migrations), unpacks the
baseline's `shared/` and `services/` with `git archive`, then for each side and batch size runs a
worker process with that side's code: it makes `--leads` leads' events as the pipeline makes them
(lead.captured, lead.scored, lead.mql, lead.assigned), cuts each topic's events into batches of
the size, and handles each batch in one transaction as the consumer runner does (the type's batch
use case if the side's `SPEC.batch_handlers` has one, else its one-event handler per event), the
commit included (the aggregates are written then). It reports the worker's own CPU (process time:
Python, SQLAlchemy, asyncpg; not PostgreSQL's) and the statements sent, per event, after a
warm-up on other leads. The runner's own work (claiming event ids, offsets) is the same on both
sides and not included. Not part of the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baseline import unpack  # bench/baseline.py (the script's folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent


def make_events(leads: int) -> list[list[Any]]:
    """Each topic's events, in the order a lead goes through them."""
    from shared.events import (
        Attribution,
        Consent,
        Contact,
        FiredRule,
        LeadAssigned,
        LeadAssignedEvent,
        LeadCaptured,
        LeadCapturedEvent,
        LeadMql,
        LeadMqlEvent,
        LeadScored,
        LeadScoredEvent,
        RoutingProfile,
    )

    now = datetime.now(UTC)
    topics: list[list[Any]] = [[], [], [], []]
    for n in range(leads):
        lead, correlation = uuid.uuid4(), uuid.uuid4()
        at = now + timedelta(milliseconds=n)
        common = {"lead_id": lead, "correlation_id": correlation}
        touch = Attribution(form_id="bench", source="ads", utm_source="google", utm_campaign="q4")
        topics[0].append(
            LeadCapturedEvent(
                producer="capture",
                occurred_at=at,
                payload=LeadCaptured(
                    merged=False,
                    contact=Contact(
                        email=f"{lead.hex[:10]}@example.com",
                        first_name="Ada",
                        last_name="Lovelace",
                        company="Engines Ltd",
                        country="GB",
                    ),
                    consent=Consent(given=True),
                    first_touch=touch,
                    last_touch=touch,
                ),
                **common,
            )
        )
        topics[1].append(
            LeadScoredEvent(
                producer="scoring",
                occurred_at=at + timedelta(milliseconds=5),
                payload=LeadScored(
                    total_score=70,
                    fit_score=50,
                    grade="B",
                    engagement_score=20,
                    model_version="m1",
                    threshold=60,
                    explanation=[FiredRule(rule="title_head", points=40)],
                ),
                **common,
            )
        )
        topics[2].append(
            LeadMqlEvent(
                producer="scoring",
                occurred_at=at + timedelta(milliseconds=6),
                payload=LeadMql(
                    score=70,
                    grade="B",
                    model_version="m1",
                    threshold=60,
                    profile=RoutingProfile(country="GB"),
                ),
                **common,
            )
        )
        topics[3].append(
            LeadAssignedEvent(
                producer="routing",
                occurred_at=at + timedelta(milliseconds=9),
                payload=LeadAssigned(
                    rep_id=f"rep-{n % 20}",
                    rep_email=f"rep{n % 20}@example.com",
                    team_id="bench",
                    rule="fallback",
                    strategy="least_loaded",
                    attempt=1,
                    follow_up_due=at + timedelta(hours=1),
                ),
                **common,
            )
        )
    return topics


async def handle(sessions: Any, uow_of: Any, topics: list[list[Any]], size: int) -> None:
    from services.feedback.app import SPEC

    many = {t.model_fields["event_type"].default: h for t, h in SPEC.batch_handlers.items()}
    one = {t.model_fields["event_type"].default: h for t, h in SPEC.handlers.items()}
    for events in topics:
        for first in range(0, len(events), size):
            batch = events[first : first + size]
            async with sessions() as session, session.begin():
                uow = uow_of(session)
                bulk = many.get(batch[0].event_type) if size > 1 else None
                if bulk is not None:
                    await bulk(batch, uow)
                else:
                    for event in batch:
                        await one[event.event_type](event, uow)


async def worker(database_url: str, leads: int, size: int) -> dict[str, float]:
    from sqlalchemy import Engine, text
    from sqlalchemy import event as sa_event

    from services.feedback.models import platform
    from shared.db import create_engine, session_factory
    from shared.outbox import Outbox
    from shared.settings import Settings
    from shared.uow import UnitOfWork

    settings = Settings(
        database_url=database_url,
        environment="test",
        secret_key="bench-only-secret-of-at-least-32-characters",
    )
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    outbox = Outbox(platform, settings, "feedback")

    def uow_of(session: Any) -> UnitOfWork:
        return UnitOfWork(session, outbox, settings)

    await handle(sessions, uow_of, make_events(max(50, size)), size)  # warm-up
    async with engine.begin() as connection:
        tables = "leads, timeline, lead_facts, segment_day, reason_day, speed_day, flow_day"
        await connection.execute(
            text(f"TRUNCATE {', '.join('feedback.' + t for t in tables.split(', '))}")
        )
    topics = make_events(leads)
    statements = 0

    def seen(*_: Any) -> None:
        nonlocal statements
        statements += 1

    sa_event.listen(Engine, "before_cursor_execute", seen)
    cpu, wall = time.process_time(), time.perf_counter()
    await handle(sessions, uow_of, topics, size)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    sa_event.remove(Engine, "before_cursor_execute", seen)
    await engine.dispose()
    count = sum(len(events) for events in topics)
    return {
        "cpu_ms_per_event": cpu * 1000 / count,
        "wall_ms_per_event": wall * 1000 / count,
        "statements_per_event": statements / count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", help="commit before the change")
    parser.add_argument("--leads", type=int, default=400)
    parser.add_argument("--sizes", default="1,10,100")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # database URL: run one side
    parser.add_argument("--size", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(worker(args.worker, args.leads, args.size))))
        return
    if not args.baseline:
        parser.error("--baseline is required")
    sys.path.insert(0, str(ROOT))
    from handoff.embedded import EmbeddedPostgres
    from shared.migrations import upgrade_all

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="feedback-bulk-") as work:
        baseline = Path(work) / "baseline"
        baseline.mkdir()
        unpack(args.baseline, baseline)
        server = EmbeddedPostgres(Path(work) / "pgdata")
        url = server.start()
        try:
            upgrade_all(url)
            results: dict[tuple[str, int], dict[str, float]] = {}
            for size in [int(s) for s in args.sizes.split(",")]:
                for side, code in (("baseline", baseline), ("current", ROOT)):
                    env = {**os.environ, "PYTHONPATH": str(code)}
                    command = [sys.executable, __file__, "--worker", url]
                    command += ["--leads", str(args.leads), "--size", str(size)]
                    out = subprocess.run(
                        command, env=env, cwd=code, check=False, capture_output=True, text=True
                    )
                    if out.returncode != 0:
                        raise SystemExit(f"{side} worker failed:\n{out.stderr[-3000:]}")
                    results[(side, size)] = json.loads(out.stdout.strip().splitlines()[-1])
                    figures = results[(side, size)]
                    print(
                        f"batch {size:>4} {side:>8}: CPU {figures['cpu_ms_per_event']:.3f} ms"
                        f"/event, {figures['statements_per_event']:.2f} statements/event, "
                        f"wall {figures['wall_ms_per_event']:.3f} ms/event",
                        flush=True,
                    )
                ratio = (
                    results[("current", size)]["cpu_ms_per_event"]
                    / results[("baseline", size)]["cpu_ms_per_event"]
                )
                print(f"batch {size:>4} CPU current/baseline: {ratio:.2f}", flush=True)
        finally:
            server.stop()
    print(
        f"{args.leads} leads x 4 events; load average at start {load:.2f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
