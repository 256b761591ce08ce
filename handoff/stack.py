"""The whole stack on one machine: database, broker, migrations, topics and the four services.

With HANDOFF_DATABASE_URL / HANDOFF_KAFKA_BOOTSTRAP set, the given database and broker are used
(that is how compose and production run it); without them the embedded parts are started, with
PostgreSQL's data under `.handoff/pgdata` and the broker as `handoff.brokers` chooses (Apache
Kafka's data under `.handoff/kafka`, so both survive a restart; or Tansu, in memory).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

from handoff.brokers import (
    BrokerKind,
    LocalBroker,
    broker_state,
    new_broker,
    services_tuning,
    start_broker,
)
from handoff.demo import DEMO_FORM_ID, load_demo
from handoff.demo_routing import load_routing_demo
from handoff.demo_scoring import load_scoring_demo
from handoff.embedded import EmbeddedPostgres, terminate_with_parent
from handoff.keys import create_api_key
from handoff.topics import create_topics
from shared.auth import Role
from shared.migrations import SERVICES, upgrade_all
from shared.settings import Settings

FIRST_PORT = 8001  # capture 8001, scoring 8002, routing 8003, feedback 8004


@dataclass
class Stack:
    home: Path
    partitions: int = 6
    broker_kind: BrokerKind = "kafka"
    host: str = "127.0.0.1"
    first_port: int = FIRST_PORT
    database_url: str = ""
    bootstrap: str = ""
    urls: dict[str, str] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)
    _postgres: EmbeddedPostgres | None = None
    _broker: LocalBroker | None = None
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.home / "stack.json"

    def start_infrastructure(self, settings: Settings) -> None:
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        self.database_url = os.environ.get("HANDOFF_DATABASE_URL", "")
        if not self.database_url:
            self._postgres = EmbeddedPostgres(self.home / "pgdata")
            self.database_url = self._postgres.start()
        self.bootstrap = os.environ.get("HANDOFF_KAFKA_BOOTSTRAP", "")
        if not self.bootstrap:
            self.bootstrap = self._start_broker()
        upgrade_all(self.database_url)
        asyncio.run(
            create_topics(self.bootstrap, prefix=settings.topic_prefix, partitions=self.partitions)
        )
        if settings.environment == "development":
            _, self.extra["admin_key"] = asyncio.run(
                create_api_key(
                    self.database_url,
                    settings.secret_key,
                    role=Role.admin,
                    name="development admin",
                )
            )

    def _start_broker(self) -> str:
        self._broker = new_broker(self.broker_kind, self.home)  # known before it starts,
        return start_broker(self._broker, self.home)  # so `stop` stops it if starting fails

    def start_services(self) -> None:
        env = {
            **services_tuning(self._broker.kind if self._broker else None),
            **os.environ,
            "HANDOFF_DATABASE_URL": self.database_url,
            "HANDOFF_KAFKA_BOOTSTRAP": self.bootstrap,
            # feedback's /models page asks scoring and routing (services/feedback/api/pages)
            **{
                f"HANDOFF_{name.upper()}_URL": f"http://{self.host}:{self.first_port + offset}"
                for offset, name in enumerate(SERVICES)
            },
        }
        for offset, name in enumerate(SERVICES):
            port = self.first_port + offset
            with open(self.home / "logs" / f"{name}.log", "ab") as log:
                self._processes[name] = self._spawn(name, port, env, log)
            self.urls[name] = f"http://{self.host}:{port}"

    def _spawn(
        self, name: str, port: int, env: dict[str, str], log: BinaryIO
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                f"services.{name}.app:create_app",
                "--host",
                self.host,
                "--port",
                str(port),
                "--no-access-log",
                *uvicorn_limits(env),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=terminate_with_parent,
        )

    def wait_until_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        waiting = dict(self.urls)
        while waiting:
            for name, url in list(waiting.items()):
                self._fail_if_exited(name)
                if _answers_200(f"{url}/readyz"):
                    del waiting[name]
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout_s:.0f}s: {', '.join(waiting)}")
            time.sleep(0.1)

    def load_demo(self) -> None:
        """In development, the demo form (with its page), an approved scoring model and a sales
        organisation with approved SQL criteria, so a lead posted at once reaches a rep."""
        if "admin_key" in self.extra:
            load_demo(self.urls["capture"], str(self.extra["admin_key"]))
            load_scoring_demo(self.database_url, Settings().secret_key)
            load_routing_demo(self.database_url, Settings().secret_key)
            self.extra["demo_form"] = f"{self.urls['capture']}/v1/forms/{DEMO_FORM_ID}/page"

    def _fail_if_exited(self, name: str) -> None:
        process = self._processes[name]
        if process.poll() is not None:
            log = (self.home / "logs" / f"{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log}")

    def service_pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self._processes.items()}

    def dead_services(self) -> list[str]:
        return [name for name, process in self._processes.items() if process.poll() is not None]

    def write_state(self) -> None:
        state = {
            "services": self.urls,
            "kafka_bootstrap": self.bootstrap,
            "broker": self.broker_state(),
            "database_url": self.database_url,
            "pid": os.getpid(),
            **self.extra,
        }
        self.state_file.write_text(json.dumps(state, indent=2))

    def broker_state(self) -> dict[str, object]:
        """Which broker runs: kafka (its data folder kept), tansu (memory), or external."""
        return broker_state(self._broker, self.home)

    def stop(self, timeout_s: float = 8.0) -> None:
        """Stop intake first, let the pipeline drain briefly, then everything else.

        Every step runs even if an earlier one fails, so a failure leaves nothing running.
        """
        deadline = time.monotonic() + timeout_s
        broker, postgres = self._broker, self._postgres
        steps: list[Callable[[], object]] = [lambda: self._terminate(["capture"], deadline - 5.0)]
        if broker is not None and not broker.persistent:  # what is not consumed now is lost
            steps.append(lambda: self._drain(deadline - 3.0))
        steps.append(
            lambda: self._terminate([n for n in self._processes if n != "capture"], deadline - 2.0)
        )
        if broker is not None:
            # Kafka's controlled shutdown takes ~0.3 s; Tansu has nothing to save.
            steps.append(lambda: broker.stop(timeout_s=max(deadline - time.monotonic(), 1.0)))
        if postgres is not None:
            steps.append(postgres.stop)
        steps.append(lambda: self.state_file.unlink(missing_ok=True))
        _run_every_step(steps)

    def _terminate(self, names: list[str], deadline: float) -> None:
        running = [self._processes[n] for n in names if n in self._processes]
        for process in running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in running:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def _drain(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if all(_caught_up(url) for name, url in self.urls.items() if name != "capture"):
                return
            time.sleep(0.1)


def _run_every_step(steps: list[Callable[[], object]]) -> None:
    failures = []
    for step in steps:
        try:
            step()
        except Exception as failure:
            failures.append(failure)
    if failures:
        raise ExceptionGroup("stopping the stack", failures)


def _answers_200(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _caught_up(url: str) -> bool:
    """No unsent outbox rows and no consumer lag, as the service's metrics say."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=1.0).text
    except httpx.HTTPError:
        return False  # cannot tell: keep draining until the deadline
    for line in text.splitlines():
        pending = line.startswith(("handoff_consumer_lag{", "handoff_outbox_pending{"))
        if pending and float(line.rsplit(" ", 1)[1]) > 0:
            return False
    return True


def uvicorn_limits(env: Mapping[str, str]) -> list[str]:
    """Each service's limits on its clients. X-Forwarded-For is trusted only from the addresses
    `FORWARDED_ALLOW_IPS` names (uvicorn otherwise trusts 127.0.0.1, so any local client could
    name its own address per request). An idle keep-alive connection closes after 5 s; past
    `HANDOFF_LIMIT_CONCURRENCY` connections and requests (default 500) uvicorn answers 503
    instead of holding more. Uvicorn has no header or body read timeout: see deploy/README.md
    for the ones the ingress in front must set."""
    allowed = env.get("FORWARDED_ALLOW_IPS", "").strip()
    forwarding = ["--forwarded-allow-ips", allowed] if allowed else ["--no-proxy-headers"]
    concurrency = env.get("HANDOFF_LIMIT_CONCURRENCY", "500")
    return [*forwarding, "--timeout-keep-alive", "5", "--limit-concurrency", concurrency]
