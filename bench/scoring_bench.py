"""Scoring: CPU time to score one lead with a 100-rule model (target: under 1 ms), and the scoring
consumer's events per second against a raw aiokafka consume of the same topic (target: >= 50 %).

    .venv/bin/python bench/scoring_bench.py [--scores 5000] [--leads 1000] [--activities 4]
        [--batch-sizes 100]   # e.g. 1,100: the consumer part once per consumer_batch_size

1. **score one lead** (`score_lead`, pure): a model of 50 fit rules (every kind) and 50 engagement
   rules (half with a property condition), a full profile and 20 activities of mixed types and
   ages. CPU time (`time.process_time`) over all calls, and wall time per call for p50/p99.
2. **consumer**: an embedded PostgreSQL and Tansu broker, every migration, the topics (3
   partitions) and the demo model active. `--leads` leads are produced, each a lead.captured.v1
   and `--activities` lead.activity.v1 events (keyed by lead, so per-lead order holds), and one
   sales.capacity.v1 state. Then, in the same run and on the same records:
   - **raw**: an aiokafka consumer (assign, from the beginning, no group) reads every record of
     the two lead topics and does nothing with them;
   - **scoring**: the scoring service in-process (its consumer group, handlers, outbox; its relay
     publishes what it writes) handles them all.
   Events/s for raw runs from the seek to the last record; for scoring from the first record
   handled to the last, by `processed_events.processed_at` (so the group join is not counted).
   A third figure, **one commit per event**: the same number of transactions on the same
   PostgreSQL, each inserting one row and committing, nothing else. The platform's consumer
   commits once per event (the event id with the state change), so this is its ceiling here.
   With `--batch-sizes 1,100` part 2 runs once per `consumer_batch_size` (records of a partition
   per transaction; 1 is a transaction per record: the one-event handlers; above 1 scoring's
   batch use cases), each on a fresh database and broker, and each batch size's scoring figure
   is also given against the first size's.
3. **the CPU floor per event**, measured in the same run: the bench process's CPU time
   (`time.process_time`: aiokafka, parsing, handlers, SQLAlchemy/asyncpg, logging, the relay)
   over the scoring consume divided by the events, beside its pure parts measured alone —
   `parse_event` of the produced records and `score_lead` with the demo model — and the SQL
   statements the process sent per event (a SQLAlchemy `before_cursor_execute` counter; an
   executemany is one), so the distance to the raw consume can be explained with numbers.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.engine import Engine

from handoff.brokers import TANSU_FETCH_MAX_WAIT_MS
from handoff.demo_scoring import DEMO_MODEL
from handoff.embedded import EmbeddedBroker, EmbeddedPostgres
from handoff.topics import create_topics
from services.scoring.domain.document import model_from_data, parse_model
from services.scoring.domain.scoring import Activity, Profile, score_lead
from services.scoring.repository import install_active_model
from shared.db import create_engine
from shared.events import (
    ActivityProperties,
    ActivityType,
    Attribution,
    Consent,
    Contact,
    Envelope,
    LeadActivity,
    LeadActivityEvent,
    LeadCaptured,
    LeadCapturedEvent,
    SalesCapacity,
    SalesCapacityEvent,
    parse_event,
)
from shared.migrations import upgrade_all
from shared.settings import Settings

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
KINDS = [a.value for a in ActivityType]


def hundred_rule_model() -> Any:
    fit: list[dict[str, Any]] = []
    makers = [
        lambda i: {"kind": "job_title", "keywords": [f"word{i}", "head", "director", "vp"]},
        lambda i: {"kind": "company_size", "bands": ["51-200", f"b{i}"]},
        lambda i: {"kind": "industry", "industries": ["software", f"ind{i}"]},
        lambda i: {"kind": "country", "countries": ["GB", "DE", "FR"]},
        lambda i: {"kind": "competitor_domain", "domains": [f"rival{i}.example", "x.example"]},
        lambda i: {"kind": "consent", "given": bool(i % 2)},
        lambda i: {"kind": "free_mail"},
        lambda i: {"kind": "disposable_email"},
    ]
    for i in range(50):
        fit.append({"id": f"fit_{i}", "points": (i % 11) - 3, **makers[i % len(makers)](i)})
    engagement: list[dict[str, Any]] = []
    for i in range(50):
        rule: dict[str, Any] = {
            "id": f"eng_{i}",
            "activity": KINDS[i % len(KINDS)],
            "points": 1 + i % 9,
            "cap": 30,
            "half_life_days": 7 + i % 30,
        }
        if i % 2:
            rule["when"] = {"property": "url", "match": "contains", "value": f"/p{i % 5}"}
        engagement.append(rule)
    document = {
        "version": "bench-100",
        "fit_rules": fit,
        "engagement_rules": engagement,
        "grades": {"A": 40, "B": 25, "C": 10},
        "threshold": {"floor": 30, "base": 60, "ceiling": 80},
        "recycle": {"cooldown_days": 30, "max_recycles": 2},
    }
    return model_from_data(document)


def bench_scoring(count: int) -> dict[str, float]:
    model = hundred_rule_model()
    assert len(model.fit_rules) + len(model.engagement_rules) == 100
    rng = random.Random(1)
    profile = Profile(
        job_title="Head of Platform Engineering",
        company="Analytical Engines",
        company_size="51-200",
        industry="software",
        country="GB",
        language="en",
        email_domain="analytical.example",
        consent_given=True,
    )
    activities = [
        Activity(
            rng.choice(KINDS),
            NOW - timedelta(days=rng.uniform(0, 90)),
            {"url": f"https://x.example/p{rng.randrange(5)}/page"},
        )
        for _ in range(20)
    ]
    for _ in range(200):  # warm-up
        score_lead(model, profile, activities, NOW)
    gc.collect()
    walls = []
    cpu0 = time.process_time()
    for _ in range(count):
        t0 = time.perf_counter()
        score_lead(model, profile, activities, NOW)
        walls.append(time.perf_counter() - t0)
    cpu = (time.process_time() - cpu0) / count
    q = statistics.quantiles(walls, n=100, method="inclusive")
    return {"cpu_us_per_lead": cpu * 1e6, "p50_us": q[49] * 1e6, "p99_us": q[98] * 1e6}


def bench_pure_parts(events: list[Envelope]) -> dict[str, float]:
    """CPU per event of the pure parts a scoring event needs: parsing it, and scoring a lead with
    the demo model (its profile, with the activities of the stream)."""
    values = [event.to_bytes() for event in events]
    for value in values[:200]:
        parse_event(value)
    cpu0 = time.process_time()
    for value in values:
        parse_event(value)
    parse = (time.process_time() - cpu0) / len(values)
    model = parse_model(DEMO_MODEL)
    profile = Profile(job_title="Head of IT", company_size="51-200", industry="software")
    acts = [
        Activity(e.payload.activity_type.value, e.payload.happened_at, {"url": "/pricing"})
        for e in events
        if isinstance(e, LeadActivityEvent)
    ][:4]
    now = datetime.now(UTC)
    cpu0 = time.process_time()
    for _ in range(2000):
        score_lead(model, profile, acts, now)
    score = (time.process_time() - cpu0) / 2000
    return {"parse_us": parse * 1e6, "score_us": score * 1e6}


class Statements:
    """Counts the SQL statements every engine of the process sends (an executemany is one)."""

    def __init__(self) -> None:
        self.count = 0
        sa_event.listen(Engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.count += 1

    def close(self) -> None:
        sa_event.remove(Engine, "before_cursor_execute", self._seen)


def stream(leads: int, activities: int) -> list[Envelope]:
    rng = random.Random(2)
    events: list[Envelope] = [
        SalesCapacityEvent(
            producer="routing",
            payload=SalesCapacity(
                team_id="emea",
                reps_available=5,
                total_capacity=50,
                open_load=10,
                free_slots=40,
                queue_length=0,
            ),
        )
    ]
    now = datetime.now(UTC)
    for i in range(leads):
        lead_id = uuid.uuid4()
        events.append(
            LeadCapturedEvent(
                producer="capture",
                lead_id=lead_id,
                correlation_id=lead_id,
                payload=LeadCaptured(
                    merged=False,
                    contact=Contact(
                        email=f"p{i}@bench.example",
                        job_title=rng.choice(["Head of IT", "Analyst", "VP Sales", None]),
                        company_size=rng.choice(["1-10", "51-200", "5001+"]),
                        industry=rng.choice(["software", "retail"]),
                        country=rng.choice(["GB", "US", "JP"]),
                    ),
                    consent=Consent(given=True),
                    first_touch=Attribution(),
                    last_touch=Attribution(),
                ),
            )
        )
        for _ in range(activities):
            events.append(
                LeadActivityEvent(
                    producer="capture",
                    lead_id=lead_id,
                    correlation_id=lead_id,
                    payload=LeadActivity(
                        activity_type=ActivityType(rng.choice(KINDS[:8])),
                        happened_at=now - timedelta(days=rng.uniform(0, 30)),
                        properties=ActivityProperties(url="https://x.example/pricing"),
                    ),
                )
            )
    return events


async def produce(bootstrap: str, settings: Settings, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for event in events:
            await producer.send(settings.topic(event.topic), event.to_bytes(), key=event.key())
        await producer.flush()
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, topics: list[str], expected: int) -> float:
    """Events/s of a bare aiokafka consumer reading the same records."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        if not partitions:
            for _topic in topics:
                await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        seen, first = 0, time.perf_counter()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            seen += sum(len(records) for records in batches.values())
        return seen / (time.perf_counter() - first)
    finally:
        await consumer.stop()


async def commits(url: str, count: int) -> float:
    """Transactions/s, each inserting one row and committing."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE bench_commits (id uuid PRIMARY KEY)"))
        started = time.perf_counter()
        for _ in range(count):
            async with engine.begin() as connection:
                await connection.execute(
                    text("INSERT INTO bench_commits VALUES (:id)"), {"id": uuid.uuid4()}
                )
        return count / (time.perf_counter() - started)
    finally:
        await engine.dispose()


async def scoring_consume(settings: Settings, expected: int) -> dict[str, float]:
    """Events/s by `processed_at`; CPU seconds and statements of the process from the first
    poll that sees an event handled to the one that sees them all (polled every 20 ms)."""
    from services.scoring.app import create_app

    app = create_app(settings)
    engine = create_engine(settings.database_url, pool_size=1)
    query = text(
        "SELECT count(*), extract(epoch FROM max(processed_at) - min(processed_at)) "
        "FROM scoring.processed_events"
    )
    statements = Statements()
    try:
        async with app.router.lifespan_context(app):
            deadline = time.monotonic() + 600
            first: tuple[int, float, int] | None = None  # handled, CPU s, statements
            while True:
                async with engine.connect() as connection:
                    count, span = (await connection.execute(query)).one()
                cpu, sent = time.process_time(), statements.count
                if first is None and count > 0:
                    first = (count, cpu, sent)
                if count >= expected:
                    assert first is not None
                    handled = count - first[0]
                    polls = 2  # this poll's statement and the one before, per poll
                    return {
                        "per_s": (count - 1) / float(span),
                        "cpu_us_per_event": (cpu - first[1]) / max(handled, 1) * 1e6,
                        "statements_per_event": (sent - first[2] - polls) / max(handled, 1),
                    }
                if time.monotonic() > deadline:
                    raise SystemExit(f"scoring handled only {count} of {expected} in 600 s")
                await asyncio.sleep(0.02)
    finally:
        statements.close()
        await engine.dispose()


async def bench_consumer(leads: int, activities: int, batch_size: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="scoring-bench-") as folder:
        postgres = EmbeddedPostgres(Path(folder) / "pg")
        url = postgres.start()
        broker = EmbeddedBroker()
        broker.start()
        try:
            upgrade_all(url)
            await install_active_model(url, DEMO_MODEL, by="bench")
            settings = Settings(
                environment="development",
                secret_key="bench-secret-of-at-least-32-characters!",
                database_url=url,
                kafka_bootstrap=broker.bootstrap,
                topic_prefix="bench.",
                log_level="WARNING",
                consumer_batch_size=batch_size,
                consumer_fetch_max_wait_ms=TANSU_FETCH_MAX_WAIT_MS,  # the embedded broker's
            )
            await create_topics(broker.bootstrap, prefix="bench.", partitions=3)
            events = stream(leads, activities)
            await produce(broker.bootstrap, settings, events)
            topics = [settings.topic(t) for t in ("lead.captured.v1", "lead.activity.v1")]
            raw = await raw_consume(broker.bootstrap, topics, len(events) - 1)
            scoring = await scoring_consume(settings, len(events))
            commit = await commits(url, min(len(events), 2000))
            return {
                "events": len(events),
                "raw_per_s": raw,
                "scoring_per_s": scoring["per_s"],
                "cpu_us_per_event": scoring["cpu_us_per_event"],
                "statements_per_event": scoring["statements_per_event"],
                "commits_per_s": commit,
            } | bench_pure_parts(events)
        finally:
            broker.stop()
            postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scores", type=int, default=5000)
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--activities", type=int, default=4)
    parser.add_argument(
        "--batch-sizes", default=str(Settings().consumer_batch_size), help="e.g. 1,100"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    cpu = bench_scoring(args.scores)
    print(
        f"score one lead, 100 rules, 20 activities: {cpu['cpu_us_per_lead']:.0f} µs CPU "
        f"(p50 {cpu['p50_us']:.0f} µs, p99 {cpu['p99_us']:.0f} µs wall); target < 1000 µs: "
        f"{'met' if cpu['cpu_us_per_lead'] < 1000 else 'NOT met'}"
    )
    first: float | None = None
    for size in sizes:
        print(f"consumer_batch_size={size}; load average at the start: {os.getloadavg()}")
        consumed = asyncio.run(bench_consumer(args.leads, args.activities, size))
        ratio = consumed["scoring_per_s"] / consumed["raw_per_s"]
        print(
            f"{consumed['events']} events: raw aiokafka {consumed['raw_per_s']:.0f}/s, scoring "
            f"consumer {consumed['scoring_per_s']:.0f}/s = {ratio:.1%} of raw; target >= 50 %: "
            f"{'met' if ratio >= 0.5 else 'NOT met'}"
        )
        print(
            f"one commit per event, nothing else: {consumed['commits_per_s']:.0f}/s; scoring = "
            f"{consumed['scoring_per_s'] / consumed['commits_per_s']:.0%} of it"
        )
        cpu = consumed["cpu_us_per_event"]
        print(
            f"CPU of the bench process per event handled: {cpu:.0f} µs (a ceiling of "
            f"{1e6 / cpu:.0f} events/s on one core); of it, parse_event "
            f"{consumed['parse_us']:.0f} µs and score_lead (demo model) "
            f"{consumed['score_us']:.0f} µs; SQL statements per event: "
            f"{consumed['statements_per_event']:.2f}; raw aiokafka: "
            f"{1e6 / consumed['raw_per_s']:.1f} µs per event"
        )
        if first is None:
            first = consumed["scoring_per_s"]
        else:
            print(
                f"scoring with batch size {size} = {consumed['scoring_per_s'] / first:.3g}x "
                f"the batch size {sizes[0]} run"
            )
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
