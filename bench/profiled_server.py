"""uvicorn with a CPU-time sampling profiler, for `capture_throughput.py --profile`.

    python bench/profiled_server.py OUT.json [uvicorn arguments...]

Sampling starts on SIGUSR1 and stops on SIGUSR2, when the samples are written to OUT, so the
profile covers the measured load only (not imports, start-up or warm-up). No dependency.

Why not a wall-clock profiler (pyinstrument): on a busy 2-core machine the worker often waits for
its core, and a wall clock charges that wait to whatever frame was running - typically a
`socket.send` to PostgreSQL, whose wake-up preempted the worker. Here only CPU time counts:
SIGPROF fires every millisecond of the process's CPU time (`setitimer(ITIMER_PROF)`, user +
system, so idle waits never count), and its handler records the
Python stack it interrupted; time in C code (pydantic-core, a syscall) is charged to the Python
line that called it. SQLAlchemy's asyncio layer runs ORM/Core work in greenlets whose stacks start
fresh; a `greenlet.settrace` hook remembers which coroutine switched into the greenlet, and the
sample is charged to that coroutine's stack followed by the greenlet's.

`render(...)` turns OUT into the text report (`capture_throughput.py` calls it with the number
of requests, for CPU milliseconds per request).
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import time
from collections import Counter
from pathlib import Path

_SITE_MARKERS = ("site-packages/", "dist-packages/", "lib/python3.")


def _short(filename: str) -> str:
    """`fastapi/routing.py`, `asyncio/events.py`, `services/capture/intake.py`..."""
    for marker in _SITE_MARKERS:
        index = filename.rfind(marker)
        if index >= 0:
            rest = filename[index + len(marker):]
            return rest.split("/", 1)[1] if marker == "lib/python3." and "/" in rest else rest
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return filename[len(root):] if filename.startswith(root) else filename


class CpuSampler:
    """SIGPROF every `interval_s` of CPU time; each sample charges the CPU used since the last."""

    def __init__(self, interval_s: float = 0.001) -> None:
        self.interval_s = interval_s
        self.stacks: Counter[tuple[str, ...]] = Counter()
        self.samples = 0
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self._codes: dict[object, str] = {}
        self._greenlet = None  # the greenlet running on the main thread, unless it is the root
        self._started = (0.0, 0.0)

    def _trace(self, event: str, args) -> None:  # greenlet.settrace, on every switch
        origin, target = args
        self._greenlet = None if target.parent is None else target

    def start(self) -> None:
        try:
            import greenlet

            greenlet.settrace(self._trace)
        except ImportError:
            pass
        self._started = (time.monotonic(), time.process_time())
        self._last = self._started[1]
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self.interval_s, self.interval_s)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_IGN)
        self.wall_s = time.monotonic() - self._started[0]
        self.cpu_s = time.process_time() - self._started[1]
        try:
            import greenlet

            greenlet.settrace(None)
        except ImportError:
            pass

    def _key(self, code) -> str:
        key = self._codes.get(code)
        if key is None:
            key = f"{_short(code.co_filename)}:{getattr(code, 'co_qualname', code.co_name)}"
            self._codes[code] = key
        return key

    def _frames(self, frame) -> list[str]:
        keys = []
        while frame is not None:
            keys.append(self._key(frame.f_code))
            frame = frame.f_back
        keys.reverse()
        return keys

    def _sample(self, signum, frame) -> None:
        # Runs on the main thread at the next bytecode boundary after the CPU timer fired: the
        # frame is the Python code that was running (or that called the C code that was).
        stack = self._frames(frame)
        running = self._greenlet
        if running is not None and running.parent is not None:
            parent = running.parent.gr_frame  # the coroutine that awaits this greenlet
            if parent is not None:
                stack = self._frames(parent) + ["<greenlet>"] + stack
        # The kernel delivers the timer on its tick (4 ms with HZ=250), so charge the CPU time
        # actually used since the previous sample rather than the nominal interval.
        now = time.process_time()
        self.stacks[tuple(stack)] += now - self._last
        self._last = now
        self.samples += 1

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({
            "cpu_s": self.cpu_s, "wall_s": self.wall_s, "samples": self.samples,
            "interval_s": self.interval_s,
            "stacks": [[list(stack), seconds] for stack, seconds in self.stacks.items()]}))


# ---- report ------------------------------------------------------------------------------------

# Where a sample goes: the first rule whose marker is on its stack (top of the list wins).
BUCKETS = (
    ("(the profiler's own greenlet hook)",
     ("bench/profiled_server.py:CpuSampler",)),
    ("API-key authentication (auth dependency: session + key lookup)",
     ("shared/auth.py:require.<locals>.authenticate",)),
    ("sync dependency run in the threadpool (anyio hop)",
     ("starlette/concurrency.py:run_in_threadpool",)),
    ("pool checkout incl. pre-ping (BEGIN; SELECT ';'; ROLLBACK)",
     ("sqlalchemy/pool/",)),
    ("BEGIN (asyncpg transaction start)",
     ("AsyncAdapt_asyncpg_connection._start_transaction",)),
    ("email validation (email_validator)",
     ("email_validator/",)),
    ("contact cleaning other than email (phone, country, text...)",
     ("services/capture/domain.py:clean_contact",)),
    ("lead lookup: SELECT ... FOR UPDATE (ORM)",
     ("services/capture/repository.py:lock_lead_by_identity",)),
    ("lead INSERT ... ON CONFLICT DO NOTHING RETURNING",
     ("services/capture/repository.py:insert_lead_if_new",)),
    ("outbox: event model + JSON + INSERT (incl. flush)",
     ("services/capture/intake.py:_publish",)),
    ("rest of post_lead/capture_lead (models, dumps)",
     ("services/capture/api/leads.py:post_lead",)),
    ("session: COMMIT / close (get_session)",
     ("shared/service.py:get_session",)),
    ("request body: JSON parse + LeadIn validation",
     ("fastapi/dependencies/utils.py:request_body_to_args", "starlette/requests.py:Request.json",
      "starlette/requests.py:Request.body")),
    ("response: LeadAccepted validation + JSON",
     ("fastapi/routing.py:serialize_response", "starlette/responses.py:JSONResponse")),
    ("other FastAPI dependency solving",
     ("fastapi/dependencies/utils.py:solve_dependencies",)),
    ("outbox relay (background task: publish + mark sent)",
     ("shared/outbox.py:OutboxRelay",)),
    ("asyncpg protocol outside a request context",
     ("asyncpg/",)),
    ("middleware + routing (starlette/fastapi, app middleware)",
     ("starlette/", "fastapi/", "services/capture/app.py")),
    ("HTTP protocol (uvicorn + h11)",
     ("uvicorn/protocols/", "h11/")),
    ("asyncio event loop and the rest",
     ("",)),
)

# Fine-grained figures across buckets, by a marker on the stack (inclusive).
LANDMARKS = (
    ("SQLAlchemy statement building/compiling (sqlalchemy/sql/)", "sqlalchemy/sql/"),
    ("SQLAlchemy ORM (sqlalchemy/orm/)", "sqlalchemy/orm/"),
    ("SQLAlchemy engine + asyncpg dialect", "sqlalchemy/engine/"),
    ("asyncpg (driver, all)", "asyncpg/"),
    ("pool checkout/pre-ping (pool/)", "sqlalchemy/pool/"),
    ("greenlet-run SQLAlchemy code (all)", "<greenlet>"),
    ("pydantic (python side)", "pydantic/"),
    ("email_validator", "email_validator/"),
    ("phonenumbers", "phonenumbers/"),
    ("pycountry", "pycountry/"),
    ("json stdlib", "json/"),
    ("socket send/recv (asyncio transports)",
     "asyncio/selector_events.py:_SelectorSocketTransport"),
)


def _matches(stack: list[str], marker: str) -> bool:
    return any(marker in frame for frame in stack) if marker else True


def render(path: Path, requests: int) -> str:
    data = json.loads(Path(path).read_text())
    stacks = [(stack, seconds) for stack, seconds in data["stacks"]]
    total = sum(seconds for _, seconds in stacks) or 1e-9
    per_req = lambda s: 1000 * s / max(requests, 1)  # noqa: E731
    lines = [f"CPU profile of the capture worker while measured: {data['cpu_s']:.2f} s CPU in "
             f"{data['wall_s']:.2f} s wall ({100 * data['cpu_s'] / max(data['wall_s'], 1e-9):.0f} "
             f"% of a core), {data['samples']} samples, {requests} requests completed "
             f"-> {per_req(data['cpu_s']):.3f} ms CPU per request", ""]

    buckets: Counter[str] = Counter()
    for stack, seconds in stacks:
        for label, markers in BUCKETS:
            if any(_matches(stack, marker) for marker in markers):
                buckets[label] += seconds
                break
    lines.append(f"{'where (first match, exclusive)':<66} {'share':>6} {'ms/req':>7}")
    for label, _ in BUCKETS:
        if buckets[label]:
            lines.append(f"{label:<66} {100 * buckets[label] / total:5.1f}% "
                         f"{per_req(buckets[label] * data['cpu_s'] / total):7.3f}")
    lines.append("")
    lines.append(f"{'across those (inclusive)':<66} {'share':>6} {'ms/req':>7}")
    for label, marker in LANDMARKS:
        seconds = sum(s for stack, s in stacks if _matches(stack, marker))
        if seconds:
            lines.append(f"{label:<66} {100 * seconds / total:5.1f}% "
                         f"{per_req(seconds * data['cpu_s'] / total):7.3f}")

    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for stack, seconds in stacks:
        for frame in set(stack):
            inclusive[frame] += seconds
        own[stack[-1]] += seconds
    lines += ["", "functions by inclusive CPU (project code and libraries):"]
    for frame, seconds in inclusive.most_common(60):
        lines.append(f"  {100 * seconds / total:5.1f}%  {frame}")
    lines += ["", "functions by own CPU (leaf of the sampled stack):"]
    for frame, seconds in own.most_common(30):
        lines.append(f"  {100 * seconds / total:5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def main() -> None:
    out = Path(sys.argv[1])
    sampler: CpuSampler | None = None

    def start(signum, frame) -> None:
        nonlocal sampler
        if sampler is None:
            sampler = CpuSampler()
            sampler.start()

    def stop(signum, frame) -> None:
        nonlocal sampler
        if sampler is not None:
            sampler.stop()
            sampler.save(out)
            sampler = None

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.argv = ["uvicorn", *sys.argv[2:]]
    sys.path.insert(0, os.getcwd())
    try:
        runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
    finally:
        stop(None, None)


if __name__ == "__main__":
    main()
