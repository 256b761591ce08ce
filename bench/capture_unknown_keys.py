"""A legitimate request's latency while 3,000 posts with unknown API keys arrive (issue 9, item 11),
the code of a baseline commit beside the working tree's, in one run.

    .venv/bin/python bench/capture_unknown_keys.py --baseline <commit> [--flood 3000]

One run starts an embedded PostgreSQL and broker, migrates (the working tree's migrations), creates
the topics and a marketing key, then for each side in turn — `baseline` (the commit's `shared/`
and `services/`, unpacked with `git archive` into a temporary directory) and `current` (this
tree) — starts capture in one uvicorn worker and measures:

1. quiet: `--quiet` legitimate `POST /v1/leads` one after another (a valid key, a new email each);
2. flood: `--flood` posts with a different made-up key each, `--concurrency` at a time from a
   separate process and another address (127.0.0.2), while the legitimate client keeps posting
   one after another until the flood is over.

It prints, per side, the legitimate requests' median, p95 and max latency, the flood's answers by
status, and the lookups of `capture.api_keys` PostgreSQL counted during the flood
(`pg_stat_user_tables` scans), then the current/baseline ratios. Not part of the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

from baseline import unpack  # bench/baseline.py (the script's folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
FLOOD_ADDRESS = "127.0.0.2"  # the legitimate client posts from 127.0.0.1
sys.path.insert(0, str(ROOT))


def start_capture(code_dir: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    from handoff.embedded import free_port

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "services.capture.app:create_app",
        "--app-dir",
        str(code_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    full_env = {**os.environ, **env, "PYTHONPATH": str(code_dir)}
    with open(log, "wb") as out:
        server = subprocess.Popen(
            command, cwd=code_dir, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"capture exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return server, url
        except OSError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError(f"capture not ready: {log.read_text()[-2000:]}")


def lead(run: str, n: int) -> dict[str, object]:
    return {"email": f"bench-{run}-{n}@example.com", "consent": {"given": True}}


def flood(url: str, count: int, concurrency: int, results: multiprocessing.Queue) -> None:
    """Posts with a made-up key each, `concurrency` at a time; puts the count per status."""
    import httpx

    async def run() -> Counter[int]:
        codes: Counter[int] = Counter()
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(count):
            queue.put_nowait(n)
        limits = httpx.Limits(max_connections=concurrency)
        # From another address than the legitimate client's, as an attacker's would be.
        transport = httpx.AsyncHTTPTransport(local_address=FLOOD_ADDRESS, limits=limits)
        async with httpx.AsyncClient(base_url=url, transport=transport, timeout=60) as client:

            async def worker() -> None:
                while not queue.empty():
                    n = queue.get_nowait()
                    key = "hk_" + secrets.token_urlsafe(24)
                    try:
                        answer = await client.post(
                            "/v1/leads",
                            json=lead("flood", n),
                            headers={"Authorization": f"Bearer {key}"},
                        )
                        codes[answer.status_code] += 1
                    except httpx.HTTPError:
                        codes[0] += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return codes

    results.put(dict(asyncio.run(run())))


async def legit(url: str, key: str, run: str, *, count: int | None, until=None) -> list[float]:
    """Latencies (ms) of legitimate posts one after another: `count` of them, or until `until()`."""
    import httpx

    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        n = 0
        while (count is None or n < count) and (until is None or not until()):
            started = time.perf_counter()
            answer = await client.post("/v1/leads", json=lead(run, n))
            latencies.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 202:
                raise RuntimeError(f"a legitimate post got {answer.status_code}: {answer.text}")
            n += 1
    return latencies


async def key_lookups(database_url: str) -> int:
    import asyncpg

    from shared.db import asyncpg_dsn

    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        return int(
            await connection.fetchval(
                "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                "WHERE schemaname = 'capture' AND relname = 'api_keys'"
            )
        )
    finally:
        await connection.close()


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def measure(name: str, url: str, key: str, args: argparse.Namespace, database_url: str) -> dict:
    asyncio.run(legit(url, key, f"{name}-warm", count=20))
    quiet = asyncio.run(legit(url, key, f"{name}-quiet", count=args.quiet))
    results: multiprocessing.Queue = multiprocessing.Queue()
    lookups_before = asyncio.run(key_lookups(database_url))
    flooder = multiprocessing.Process(
        target=flood, args=(url, args.flood, args.concurrency, results)
    )
    started = time.perf_counter()
    flooder.start()
    during = asyncio.run(
        legit(url, key, f"{name}-flood", count=None, until=lambda: not flooder.is_alive())
    )
    flooder.join()
    flood_s = time.perf_counter() - started
    codes = results.get(timeout=10)
    time.sleep(1.5)  # PostgreSQL flushes table statistics at most once a second
    lookups = asyncio.run(key_lookups(database_url)) - lookups_before
    return {
        "quiet": summary(quiet),
        "during_flood": summary(during),
        "flood_answers": dict(sorted(codes.items())),
        "flood_seconds": round(flood_s, 1),
        "key_lookups_during_flood": lookups,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="commit before the change")
    parser.add_argument("--flood", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--quiet", type=int, default=200)
    args = parser.parse_args()

    from handoff.embedded import EmbeddedBroker, EmbeddedPostgres
    from handoff.keys import create_api_key
    from handoff.topics import create_topics
    from shared.auth import Role
    from shared.migrations import upgrade_all

    results = {}
    with tempfile.TemporaryDirectory(prefix="handoff-keys-bench-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)
        baseline_dir = workdir / "baseline"
        baseline_dir.mkdir()
        unpack(args.baseline, baseline_dir)
        postgres = EmbeddedPostgres(workdir / "pgdata")
        broker = EmbeddedBroker(log_path=workdir / "broker.log")
        try:
            database_url = postgres.start()
            bootstrap = broker.start()
            upgrade_all(database_url)
            asyncio.run(create_topics(bootstrap))
            secret = secrets.token_urlsafe(32)
            _, key = asyncio.run(
                create_api_key(database_url, secret, role=Role.marketing, name="bench")
            )
            env = {
                "HANDOFF_DATABASE_URL": database_url,
                "HANDOFF_KAFKA_BOOTSTRAP": bootstrap,
                "HANDOFF_ENVIRONMENT": "development",
                "HANDOFF_SECRET_KEY": secret,
                "HANDOFF_LOG_LEVEL": "WARNING",
            }
            for name, code_dir in (("baseline", baseline_dir), ("current", ROOT)):
                server, url = start_capture(code_dir, env, workdir / f"{name}.log")
                try:
                    print(f"{name}: measuring ({args.flood} unknown-key posts)", flush=True)
                    results[name] = measure(name, url, key, args, database_url)
                finally:
                    server.terminate()
                    server.wait(15)
        finally:
            broker.stop()
            postgres.stop()

    print(f"\nload average now: {os.getloadavg()}")
    for name, result in results.items():
        print(f"\n{name}:")
        for part, figures in result.items():
            print(f"  {part}: {figures}")
    before, after = results["baseline"], results["current"]
    for figure in ("median_ms", "p95_ms", "max_ms"):
        ratio = after["during_flood"][figure] / before["during_flood"][figure]
        print(f"during the flood, {figure} current/baseline: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
