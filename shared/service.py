"""What every service's app shares: lifespan (engine, outbox relay, consumer), health and metrics.

A service's `app.py` describes itself with a `ServiceSpec` (name, tables, the table of event
handlers, periodic jobs, routers) and calls `create_service_app`; everything that is the same for
all four services lives here, including the request edge: `UowDep` gives a route one unit of work
whose transaction commits after the route returns, before the answer is sent.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import metrics
from shared.auth import KeyRing
from shared.broker import BrokerProbe, new_producer
from shared.consumer import ConsumerRunner
from shared.db import PlatformTables, StatementPool, create_engine, session_factory
from shared.errors import install_error_handlers
from shared.events import Envelope
from shared.http import BodySizeLimit, RequestObserver
from shared.jobs import Job, JobRunner
from shared.logs import configure_logging
from shared.outbox import Outbox
from shared.relay import OutboxRelay
from shared.settings import Settings
from shared.uow import BatchHandler, Handler, UnitOfWork

log = logging.getLogger(__name__)

YOUNG_GENERATION_THRESHOLD = 20_000  # CPython's default is 700
STOP_BUDGET_S = 6.0
ROUTE_EXIT_STACK = "fastapi_function_astack"  # closed after the route, before the answer


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    tables: PlatformTables  # the service's outbox, processed events and API keys
    handlers: Mapping[type[Envelope], Handler] = field(default_factory=dict)
    # beside a type's one-event handler: its batch use case (see `shared.batches`)
    batch_handlers: Mapping[type[Envelope], BatchHandler] = field(default_factory=dict)
    jobs: Sequence[Job] = ()
    routers: Sequence[APIRouter] = ()
    description: str = ""
    small_body_paths: Sequence[str] = ()  # path prefixes open to anyone: the small body limit
    # How long the broker may hold a fetch to gather records (see `ConsumerRunner`); 0 for a
    # service on the way from form post to rep, which takes each record as soon as it arrives.
    gather_ms: int = 0


@dataclass
class Runtime:
    """The live parts of a running service, kept on `app.state.runtime`."""

    spec: ServiceSpec
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tables: PlatformTables
    outbox: Outbox
    relay: OutboxRelay
    consumer: ConsumerRunner | None
    jobs: JobRunner
    broker: BrokerProbe
    keys: KeyRing
    statements: StatementPool

    async def start(self) -> None:
        await self.relay.start()
        await self.jobs.start()
        if self.consumer is not None:
            await self._start_consumer()

    async def _start_consumer(self) -> None:
        # The broker may still be coming up; keep trying instead of failing the whole service.
        assert self.consumer is not None
        while True:
            try:
                await self.consumer.start()
                return
            except Exception as error:
                log.warning("%s: consumer cannot start yet: %s", self.spec.name, error)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        """Within STOP_BUDGET_S: `handoff up` and orchestrators give a service about 10 s."""
        if self.consumer is not None:
            await self.consumer.stop(timeout_s=STOP_BUDGET_S / 2)
        await self.jobs.stop(timeout_s=STOP_BUDGET_S / 6)
        await self.relay.stop(timeout_s=STOP_BUDGET_S / 3)
        await self.broker.close()
        await self.statements.close()
        await self.engine.dispose()


def build_runtime(spec: ServiceSpec, settings: Settings) -> Runtime:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    sessions = session_factory(engine)
    tables = spec.tables
    outbox = Outbox(tables, settings, spec.name)
    relay = OutboxRelay(
        service=spec.name,
        settings=settings,
        tables=tables,
        sessions=sessions,
        producer_factory=lambda: new_producer(settings),
    )
    consumer = None
    if spec.handlers:
        consumer = ConsumerRunner(
            service=spec.name,
            settings=settings,
            tables=tables,
            sessions=sessions,
            outbox=outbox,
            handlers=spec.handlers,
            batch_handlers=spec.batch_handlers,
            gather_ms=spec.gather_ms,
        )
    return Runtime(
        spec,
        settings,
        engine,
        sessions,
        tables,
        outbox,
        relay,
        consumer,
        JobRunner(
            service=spec.name, jobs=spec.jobs, settings=settings, sessions=sessions, outbox=outbox
        ),
        BrokerProbe(settings.kafka_bootstrap),
        KeyRing(tables, settings.secret_key),
        StatementPool(settings.database_url, settings.database_pool_size),
    )


def create_service_app(spec: ServiceSpec, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(spec.name, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(spec, settings)
        app.state.runtime = runtime
        starting = asyncio.create_task(runtime.start())
        # What exists now lives as long as the process: keep it out of the collector's scans,
        # and collect the young generation less often (each request allocates a few hundred
        # short-lived objects, freed by reference counting anyway). Measured in bench/.
        gc.freeze()
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD)
        try:
            yield
        finally:
            starting.cancel()
            await runtime.stop()

    app = FastAPI(title=f"Handoff {spec.name}", description=spec.description, lifespan=lifespan)
    app.include_router(health_router)
    for router in spec.routers:
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_body_bytes,
        small_limit=settings.max_form_body_bytes,
        small_paths=spec.small_body_paths,
    )
    app.add_middleware(RequestObserver, service=spec.name)  # outermost: sees every answer
    return app


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    async with runtime.sessions() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_uow(request: Request) -> UnitOfWork:
    """The request's unit of work: its transaction commits after the route returns and before
    the answer is sent, or rolls back if the route raised. It opens its session at first use
    only, so a route that refuses early or sends one lone statement pays for no session.

    Ended by FastAPI's per-route exit stack, as a `yield` dependency with scope="function"
    would be, but without the context manager and cancel scopes FastAPI wraps such a
    generator in: measured in bench/, those cost capture about 4 % of its CPU per lead."""
    runtime: Runtime = request.app.state.runtime  # not RuntimeDep: one dependency level less
    uow = UnitOfWork.on_demand(
        runtime.sessions, runtime.outbox, runtime.settings, runtime.statements
    )
    ending = request.scope.get(ROUTE_EXIT_STACK)
    if not isinstance(ending, AsyncExitStack):
        raise RuntimeError(f"FastAPI no longer gives each route {ROUTE_EXIT_STACK!r}")
    ending.push_async_exit(uow)
    return uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]

health_router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool]  # database, broker, outbox_relay, and consumer where there is one


NOT_READY = "Not ready: a check failed (the body says which); send no traffic here yet."


@health_router.get("/healthz")
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@health_router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": NOT_READY}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Database and broker reachable and consumers running; 503 otherwise."""
    checks = {
        "database": await _database_ok(runtime),
        "broker": await runtime.broker.reachable(),
        "outbox_relay": runtime.relay.healthy,
    }
    if runtime.consumer is not None:
        checks["consumer"] = runtime.consumer.running
    ready = all(checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


async def _database_ok(runtime: Runtime) -> bool:
    try:
        await asyncio.wait_for(_select_one(runtime.engine), 2.0)
        return True
    except Exception:
        return False


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


@health_router.get("/metrics", response_class=PlainTextResponse)  # documented as text/plain
async def prometheus_metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text format."""
    try:
        metrics.OUTBOX_PENDING.labels(runtime.spec.name).set(await runtime.relay.pending())
        if runtime.consumer is not None:
            await runtime.consumer.refresh_lag()
    except Exception as error:  # metrics must answer even while the database or broker is away
        log.warning("outbox pending count or consumer lag unavailable: %s", error)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
