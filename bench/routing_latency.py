"""Form post -> lead.assigned.v1 latency through the whole embedded stack at a steady rate.

    PYTHONPATH=. .venv/bin/python bench/routing_latency.py [--rate 200] [--seconds 20]
        [--warmup 30] [--broker auto|kafka|tansu] [--partitions 6] [--timeline] [--young-tables]

Starts what `handoff up` starts (embedded PostgreSQL, the broker `--broker` names — `auto`, as
`handoff up` does, is Apache Kafka where Java is present, else Tansu — the four services as
uvicorn processes), loads the demo scoring model and, for routing, one fallback team of 20 reps
with room for every lead of the run (so what is measured is the pipeline, not a full sales
team), plus the demo SQL criteria, and a form like the demo form (with company size and
industry). Then, open loop at `--rate` leads a second: each lead is a visitor's form post
(`POST /v1/forms/bench/submissions`, JSON; a good fit with consent: senior title, target size,
industry and country — 50 points, over the floor, so with capacity to spare it qualifies at
once), and its latency is from the start of that post to the moment a reader assigned to every
partition of lead.assigned.v1 sees it. One client posts everything, so the form's per-client and
per-form allowances are lifted for the run (`UNLIMITED`).
Leads of the first `--warmup` seconds are not counted: a stack just started is slower for about
half a minute (Kafka's JVM compiles its hot paths; the services fill their statement caches),
and halfway through them every table is analysed (`take_statistics`).
Prints where the leads ended up (scoring's states, routing's outcomes), p50/p90/p99/max and how
many were assigned (with `--timeline`, also the median and the slowest by the second each lead
was posted in, to tell a slow stretch from a slow steady state), and the CPU per lead of each
service, PostgreSQL, the broker, the load generator and the whole machine while the counted
leads are posted and delivered (not in the warm-up); stops everything it started. Run from the
repository root with `PYTHONPATH=.` (it reads topics with tests/helpers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition

from handoff.brokers import choose_broker
from handoff.demo import DEMO_FIELDS, DEMO_FORM
from handoff.demo_routing import CRITERIA, load_routing
from handoff.demo_scoring import load_scoring_demo
from handoff.embedded import port_is_free
from handoff.keys import create_api_key
from handoff.stack import Stack
from shared.auth import Role
from shared.db import create_engine
from shared.settings import Settings
from tests.helpers import partitions_of

BENCH_ORG = {
    "teams": [{"id": "bench", "name": "Bench", "fallback": True, "sla_minutes": 60}],
    "reps": [
        {
            "id": f"rep-{i:02d}",
            "email": f"rep{i}@bench.example",
            "name": f"Rep {i}",
            "team": "bench",
            "capacity": 10_000,
            "timezone": "UTC",
            "working_hours": "always",
        }
        for i in range(20)
    ],
    "rules": [],
}


FORM_ID = "bench"
# One client posts every lead: the per-client and per-form allowances must not be what is measured.
UNLIMITED = {
    "HANDOFF_FORM_RATE_PER_IP_PER_MINUTE": "1000000",
    "HANDOFF_FORM_RATE_PER_FORM_PER_MINUTE": "1000000",
}


def free_ports(count: int, start: int = 18300) -> int:
    port = start
    while not all(port_is_free(port + i) for i in range(count)):
        port += count
    return port


class Arrivals:
    """Reads a topic from the start of every partition and notes, per lead, when its first event
    came (perf_counter) and when it was written (the envelope's occurred_at, epoch seconds)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.seen: dict[str, float] = {}
        self.written: dict[str, float] = {}
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=10
        )

    async def run(self) -> None:
        partitions = await partitions_of(self.bootstrap, self.topic)
        await self.consumer.start()
        self.consumer.assign([TopicPartition(self.topic, p) for p in partitions])
        await self.consumer.seek_to_beginning()
        while True:
            batches = await self.consumer.getmany(timeout_ms=20)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value)
                    if event["lead_id"] not in self.seen:
                        self.seen[event["lead_id"]] = now
                        written = datetime.fromisoformat(event["occurred_at"]).timestamp()
                        self.written[event["lead_id"]] = written


BENCH_FORM = {
    **DEMO_FORM,
    "name": "Bench form",
    "field_mapping": {field: field for field in (*DEMO_FIELDS, "company_size", "industry")},
}


async def create_form(capture: str, admin_key: str) -> None:
    async with httpx.AsyncClient(base_url=capture, timeout=30) as client:
        answer = await client.put(
            f"/v1/forms/{FORM_ID}",
            headers={"Authorization": f"Bearer {admin_key}"},
            json=BENCH_FORM,
        )
        answer.raise_for_status()


class Visitors:
    """Keep-alive HTTP/1.1 connections to capture, written to and read by hand: a general client
    (httpx) costs more CPU per post than capture does to take it, and on 2 cores the load
    generator's CPU is the stack's loss."""

    def __init__(self, url: str, connections: int = 64) -> None:
        parts = httpx.URL(url)
        self.host, self.port = parts.host, parts.port or 80
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self.connections = connections

    async def open(self) -> None:
        for _ in range(self.connections):
            self.idle.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def close(self) -> None:
        while not self.idle.empty():
            _, writer = self.idle.get_nowait()
            writer.close()

    async def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        reader, writer = await self.idle.get()
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json"
                f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            return status, await reader.readexactly(length)
        finally:
            self.idle.put_nowait((reader, writer))


async def one_lead(visitors: Visitors, i: int) -> tuple[str, float, float]:
    """One visitor's form post, as a JSON submission; a good fit, so it qualifies at once."""
    body = json.dumps(
        {
            "email": f"head{i}-{uuid.uuid4().hex[:8]}@company{i % 997}.example",
            "job_title": "Head of Engineering",
            "company": f"Company {i % 997}",
            "company_size": "51-200",
            "industry": "software",
            "country": "GB",
            "consent": "yes",
        }
    ).encode()
    started, started_epoch = time.perf_counter(), time.time()
    status, answer = await visitors.post_json(f"/v1/forms/{FORM_ID}/submissions", body)
    if status != 202:
        raise RuntimeError(f"{status}: {answer[:200]!r}")
    return json.loads(answer)["lead_id"], started, started_epoch


async def offer(capture: str, rate: float, seconds: float) -> list[tuple[str, float, float]]:
    done: list[tuple[str, float, float] | BaseException]
    visitors = Visitors(capture)
    await visitors.open()
    try:
        begin = time.perf_counter()
        tasks = []
        for i in range(int(rate * seconds)):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one_lead(visitors, i)))
        done = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await visitors.close()
    failed = [d for d in done if isinstance(d, BaseException)]
    if failed:
        print(f"{len(failed)} leads not posted, e.g. {failed[0]!r}")
    return [d for d in done if not isinstance(d, BaseException)]


async def measure(stack: Stack, settings: Settings, args: argparse.Namespace) -> None:
    reader = Arrivals(stack.bootstrap, settings.topic("lead.assigned.v1"))
    mqls = Arrivals(stack.bootstrap, settings.topic("lead.mql.v1"))
    readers = [asyncio.create_task(r.run()) for r in (reader, mqls)]
    try:
        if args.warmup > 0:
            statistics_taken = asyncio.create_task(take_statistics(stack, args, args.warmup / 2))
            await offer(stack.urls["capture"], args.rate, args.warmup)
            await statistics_taken
        cpu_before, machine_before = service_cpu_s(stack), machine_cpu_s()
        infrastructure_before = infrastructure_cpu_s()
        own_before = sum(os.times()[:2])
        sent = await offer(stack.urls["capture"], args.rate, args.seconds)
        for _ in range(300):  # the stragglers: up to 30 s
            if all(lead in reader.seen for lead, _, _ in sent):
                break
            await asyncio.sleep(0.1)
        cpu = {name: s - cpu_before[name] for name, s in service_cpu_s(stack).items()}
        infrastructure = infrastructure_cpu_s()
        cpu |= {name: s - infrastructure_before[name] for name, s in infrastructure.items()}
        cpu["this load generator"] = sum(os.times()[:2]) - own_before
        cpu["whole machine"] = machine_cpu_s() - machine_before
    finally:
        for task in readers:
            task.cancel()
        await reader.consumer.stop()
        await mqls.consumer.stop()
    print("where the leads are:", await whereabouts(stack.database_url))
    print(
        "CPU ms per lead posted after the warm-up (services; PostgreSQL; the broker; the load "
        "generator; the whole machine, others' work included):",
        {name: round(s * 1000 / max(len(sent), 1), 2) for name, s in cpu.items()},
    )
    counted = sent
    latencies = [(reader.seen[lead] - t) * 1000 for lead, t, _ in counted if lead in reader.seen]
    missing = len(counted) - len(latencies)
    stages = [  # (post -> MQL written, MQL written -> assignment written), wall clock
        (mqls.written[lead] - epoch, reader.written[lead] - mqls.written[lead])
        for lead, _, epoch in counted
        if lead in reader.seen and lead in mqls.written
    ]
    q = statistics.quantiles(sorted(latencies), n=100, method="inclusive")
    print(
        f"rate {args.rate:.0f} leads/s for {args.seconds:.0f} s (+{args.warmup:.0f} s warm-up); "
        f"on {args.broker}, {args.partitions} partitions per topic; "
        f"load average at start {args.load:.2f} on {os.cpu_count()} cores"
    )
    print(
        f"form post -> lead.assigned.v1 ms: p50 {q[49]:.1f}  p90 {q[89]:.1f}  "
        f"p99 {q[98]:.1f}  max {max(latencies):.1f}  "
        f"(assigned {len(latencies)}/{len(counted)}, missing {missing})"
    )
    if args.timeline:
        print_timeline(counted, reader.seen)
    if stages:
        to_mql = statistics.median(a for a, _ in stages) * 1000
        routing = statistics.median(b for _, b in stages) * 1000
        print(
            f"medians: form post -> lead.mql.v1 written {to_mql:.1f} ms; "
            f"lead.mql.v1 written -> lead.assigned.v1 written (routing) {routing:.1f} ms"
        )


def print_timeline(counted: list[tuple[str, float, float]], seen: dict[str, float]) -> None:
    """Latency by the second the lead was posted in: when a run goes slow, and for how long."""
    first = min(t for _, t, _ in counted)
    print(f"  second 0 began at {min(epoch for _, _, epoch in counted):.3f} (Unix time)")
    by_second: dict[int, list[float]] = {}
    for lead, t, _ in counted:
        if lead in seen:
            by_second.setdefault(int(t - first), []).append((seen[lead] - t) * 1000)
    for second, latencies in sorted(by_second.items()):
        latencies.sort()
        median = latencies[len(latencies) // 2]
        print(
            f"  second {second:3d}: {len(latencies):4d} leads, p50 {median:7.1f}"
            f"  max {latencies[-1]:7.1f} ms"
        )


def machine_cpu_s() -> float:
    """CPU seconds every core has spent busy so far (Linux /proc/stat): on a quiet machine, what
    the whole stack, PostgreSQL and the broker included, cost."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def service_cpu_s(stack: Stack) -> dict[str, float]:
    """User + system CPU seconds each service's process has used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in stack.service_pids().items():
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        used[name] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return used


def infrastructure_cpu_s() -> dict[str, float]:
    """User + system CPU seconds PostgreSQL's processes (those alive now) and the broker's (the
    Tansu binary, or Kafka's JVM) have used so far."""
    used = {"postgresql": 0.0, "broker": 0.0}
    for process in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        name, command = process.info["name"] or "", " ".join(process.info["cmdline"] or ())
        if name.startswith("postgres"):
            kind = "postgresql"
        elif name.startswith("tansu") or "kafka.Kafka" in command:
            kind = "broker"
        else:
            continue
        used[kind] += process.info["cpu_times"].user + process.info["cpu_times"].system
    return used


async def take_statistics(stack: Stack, args: argparse.Namespace, after_s: float) -> None:
    """ANALYZE every table halfway through the warm-up, unless `--young-tables`.

    PostgreSQL keeps one generic plan for a statement prepared on a long-lived connection (the
    relay's, the services' pools). Plans made while the tables were a few seconds old and tiny
    scan whole tables (the relay's mark-sent UPDATE, scoring's held-lead count), and they stay
    until the table's first ANALYZE, which autovacuum runs about a minute after start-up: in
    this bench's measured window unless taken here. A database older than its first minute
    has its statistics, so this measures what a running deployment sees."""
    if args.young_tables:
        return
    await asyncio.sleep(after_s)
    from sqlalchemy import text

    engine = create_engine(stack.database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


async def whereabouts(database_url: str) -> dict[str, int]:
    """Scoring's lead states and routing's outcomes, to tell where missing leads stopped."""
    from sqlalchemy import text

    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            states = await connection.execute(
                text("SELECT 'scoring:' || state, count(*) FROM scoring.leads GROUP BY state")
            )
            outcomes = await connection.execute(
                text(
                    "SELECT 'routing:' || outcome || coalesce(' '"
                    " || (explanation->'criteria'->>'failed_criterion'), ''), count(*)"
                    " FROM routing.decisions GROUP BY 1"
                )
            )
            return {name: n for name, n in [*states, *outcomes]}
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--broker", choices=["auto", "kafka", "tansu"], default="auto")
    parser.add_argument("--partitions", type=int, default=6, help="per topic, as handoff up")
    parser.add_argument(
        "--timeline", action="store_true", help="also latency by the second each lead was posted"
    )
    parser.add_argument(
        "--young-tables",
        action="store_true",
        help="measure without the ANALYZE halfway through the warm-up (see take_statistics)",
    )
    args = parser.parse_args()
    args.broker, _ = choose_broker(args.broker)
    args.load = os.getloadavg()[0]
    os.environ.update(UNLIMITED)  # the services inherit it
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="routing-latency-") as home:
        stack = Stack(
            home=Path(home),
            broker_kind=args.broker,
            first_port=free_ports(4),
            partitions=args.partitions,
        )
        try:
            stack.start_infrastructure(settings)
            load_scoring_demo(stack.database_url, settings.secret_key)
            asyncio.run(
                load_routing(
                    Settings(database_url=stack.database_url), BENCH_ORG, CRITERIA, by="bench"
                )
            )
            _, admin_key = asyncio.run(
                create_api_key(
                    stack.database_url, settings.secret_key, role=Role.admin, name="bench"
                )
            )
            stack.start_services()
            stack.wait_until_ready(timeout_s=120)
            asyncio.run(create_form(stack.urls["capture"], admin_key))
            asyncio.run(measure(stack, settings, args))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
