"""Capture's CPU work per lead as a count of instructions, which a busy machine does not change.

    .venv/bin/python bench/capture_instructions.py [--leads 480] [--without request-log]
        [--tree DIR] [--runs 1]

`capture_throughput.py` measures requests per second beside a bare endpoint; on a machine where
others are busy its figures move by ±20 % from run to run. This counts, with valgrind's
callgrind, the instructions capture's process executes (user space: Python, pydantic, asyncpg,
the outbox relay; not PostgreSQL, not the kernel) while it takes `--leads` new leads, and
prints them per lead. Two runs of the same code agree within about 2 %.

One run starts an embedded PostgreSQL and broker (outside valgrind), migrates and makes a key,
then runs capture in-process under callgrind (instrumentation off), posts 320 leads to warm up
through raw ASGI calls (no sockets, no uvicorn), switches instrumentation on, posts `--leads`
leads 16 at a time, waits half a second (the relay publishes them), switches it off.

`--tree DIR` measures another checkout of the project (e.g. `git worktree add /tmp/old <rev>`),
so two versions are compared on the same machine. `--without` takes parts out of the request
path to measure what they cost: `request-log` (the JSON line per request), `request-observer`
(request id, that line and the HTTP metrics). Needs valgrind (`apt-get install -y valgrind`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARMUP, CONCURRENCY = 320, 16


def main() -> int:
    args = parse_args()
    if args.drive:
        sys.stderr = open(args.sync / "capture.log", "w")  # noqa: SIM115  (capture's log lines)
        asyncio.run(drive(args))
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed: apt-get install -y valgrind", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from handoff.embedded import EmbeddedBroker, EmbeddedPostgres
    from handoff.keys import create_api_key
    from handoff.topics import create_topics
    from shared.auth import Role
    from shared.migrations import upgrade_all

    with tempfile.TemporaryDirectory(prefix="capture-instructions-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # the embedded PostgreSQL runs as its own user when we are root
        postgres = EmbeddedPostgres(work / "pgdata")
        broker = EmbeddedBroker(log_path=work / "broker.log")
        try:
            url, bootstrap = postgres.start(), broker.start()
            upgrade_all(url)
            asyncio.run(create_topics(bootstrap))
            secret = secrets.token_urlsafe(32)
            _, key = asyncio.run(create_api_key(url, secret, role=Role.marketing, name="bench"))
            stack = {"url": url, "bootstrap": bootstrap, "secret": secret, "key": key}
            (work / "stack.json").write_text(json.dumps(stack))
            for run in range(1, args.runs + 1):
                per_lead = measure(args, work, run)
                print(f"run {run}: {per_lead:,.0f} instructions per lead", flush=True)
        finally:
            broker.stop()
            postgres.stop()
    return 0


def measure(args: argparse.Namespace, work: Path, run: int) -> float:
    """One callgrind run of the driver; instructions per lead while instrumented."""
    out = work / f"callgrind.{run}.out"
    sync = work / f"run{run}"
    sync.mkdir()
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        __file__,
        "--drive",
        "--work",
        str(work),
        "--sync",
        str(sync),
        "--leads",
        str(args.leads),
        "--tree",
        str(args.tree),
        *(["--without", *args.without] if args.without else []),
    ]
    with open(work / f"valgrind.{run}.log", "wb") as log:
        driver = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_file(sync / "ready", driver)
            subprocess.run(["callgrind_control", "-i", "on", str(driver.pid)], check=True)
            (sync / "go").touch()
            wait_for_file(sync / "done", driver)
            subprocess.run(["callgrind_control", "-i", "off", str(driver.pid)], check=True)
            (sync / "stop").touch()
            driver.wait(timeout=120)
        finally:
            if driver.poll() is None:
                driver.kill()
    answers = json.loads((sync / "done").read_text())
    if answers != {"202": WARMUP + args.leads}:
        raise SystemExit(f"capture did not accept every lead: {answers}")
    totals = next(line for line in out.read_text().splitlines() if line.startswith("totals:"))
    return int(totals.split()[1]) / args.leads


def wait_for_file(path: Path, driver: subprocess.Popen, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if driver.poll() is not None:
            raise SystemExit(f"the driver exited with {driver.returncode}; see its log")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {path.name}")
        time.sleep(0.2)


async def drive(args: argparse.Namespace) -> None:
    """Inside valgrind: capture in-process, leads posted by raw ASGI calls."""
    sys.path.insert(0, str(args.tree))
    import logging

    from services.capture.app import create_app
    from shared.settings import Settings

    stack = json.loads((args.work / "stack.json").read_text())
    if "request-observer" in args.without:
        import shared.http

        async def straight_through(self, scope, receive, send):  # type: ignore[no-untyped-def]
            await self.app(scope, receive, send)

        shared.http.RequestObserver.__call__ = straight_through  # type: ignore[method-assign]
    settings = Settings(
        database_url=stack["url"],
        kafka_bootstrap=stack["bootstrap"],
        environment="development",
        secret_key=stack["secret"],
    )
    app = create_app(settings)
    if "request-log" in args.without:
        logging.getLogger("handoff.http").disabled = True
    answers: dict[str, int] = {}
    key = stack["key"].encode()

    async def post_one() -> None:
        body = json.dumps(
            {"email": f"lead-{uuid.uuid4().hex[:12]}@example.com", "company": "Acme"}
        ).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/leads",
            "raw_path": b"/v1/leads",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"authorization", b"Bearer " + key),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        sent = False

        async def receive() -> dict[str, object]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect
            raise AssertionError("unreachable")

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                status = str(message["status"])
                answers[status] = answers.get(status, 0) + 1

        await app(scope, receive, send)

    async def post(leads: int) -> None:
        async def worker(count: int) -> None:
            for _ in range(count):
                await post_one()

        await asyncio.gather(*(worker(leads // CONCURRENCY) for _ in range(CONCURRENCY)))

    async with app.router.lifespan_context(app):
        await post(WARMUP)
        await asyncio.sleep(1.0)  # the relay has published the warm-up's events
        (args.sync / "ready").touch()
        await appears(args.sync / "go")
        await post(args.leads)
        await asyncio.sleep(0.5)  # and the measured ones'
        (args.sync / "done").write_text(json.dumps(answers))
        await appears(args.sync / "stop")


async def appears(path: Path) -> None:
    """Until the controlling process (outside valgrind) creates the file."""
    while not path.exists():  # noqa: ASYNC110, ASYNC240  (another process signals by a file)
        await asyncio.sleep(0.05)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=480, help="measured leads (a multiple of 16)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure")
    parser.add_argument(
        "--without", nargs="+", default=[], choices=["request-log", "request-observer"]
    )
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sync", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.leads % CONCURRENCY:
        parser.error(f"--leads must be a multiple of {CONCURRENCY}")
    return args


if __name__ == "__main__":
    sys.exit(main())
