"""Periodic work a service does besides consuming: decay sweeps, capacity heartbeats, deadlines.

Each `Job` runs on every instance: right after start (a job never done is due), then every
`every_s` seconds, each run in its own transaction committed here, at the edge. A job that must
not run twice at once across instances takes a row lock (`FOR UPDATE SKIP LOCKED`) or an advisory
lock inside its transaction. A failing run is logged and retried at the next tick; it never
stops the service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import metrics
from shared.outbox import Outbox
from shared.settings import Settings
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_s: float
    run: Callable[[UnitOfWork], Awaitable[None]]


class JobRunner:
    def __init__(
        self,
        *,
        service: str,
        jobs: Sequence[Job],
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Outbox,
    ) -> None:
        self._service, self._jobs, self._settings = service, list(jobs), settings
        self._sessions, self._outbox = sessions, outbox
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self.last_run: dict[str, float] = {}  # monotonic time of each job's last good run

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(job), name=f"{self._service}-{job.name}")
            for job in self._jobs
        ]

    async def stop(self, timeout_s: float = 2.0) -> None:
        self._stopping.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()

    async def run_once(self, job: Job) -> None:
        async with self._sessions() as session, session.begin():
            await job.run(UnitOfWork(session, self._outbox, self._settings))

    async def _loop(self, job: Job) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once(job)
                self.last_run[job.name] = time.monotonic()
                metrics.JOB_RUNS.labels(self._service, job.name, "done").inc()
            except Exception as error:
                metrics.JOB_RUNS.labels(self._service, job.name, "failed").inc()
                log.warning("%s: job %s failed: %r", self._service, job.name, error)
            try:
                await asyncio.wait_for(self._stopping.wait(), job.every_s)
            except TimeoutError:
                pass
