"""Learning use cases: calibration, proposals into a draft, backtests (a background job) and
drift (also a Prometheus gauge). The decisions are in `domain.learning` / `domain.evaluation`."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository as repo
from services.scoring.domain.document import ScoringModel, model_from_data
from services.scoring.domain.drift import Drift, drift, month_start
from services.scoring.domain.evaluation import (
    Replay,
    Tally,
    add,
    summarize,
    week_of,
    weekly_capacity,
)
from services.scoring.domain.learning import GOOD, Calibration, calibrate, points_per_logit
from services.scoring.domain.scoring import score_lead
from services.scoring.handlers.models import CreateModel, create_model
from shared.problems import Conflict, Invalid, NotFound, Problem
from shared.uow import UnitOfWork

BACKTEST_PAGE = 2000  # leads read per statement
BACKTEST_BUDGET_S = 2.0  # work per job run before committing progress
MAX_RANGE = timedelta(days=731)

SEPARATION = Gauge(
    "handoff_scoring_separation_auc",
    "ROC AUC of the score at verdict time, per source / UTM campaign and month.",
    ["dimension", "key", "month"],
)
DEGRADED = Gauge(
    "handoff_scoring_separation_degraded",
    "1 when this month's AUC fell more than the drift margin below last month's.",
    ["dimension", "key"],
)


def now() -> datetime:
    return datetime.now(UTC)


async def load_model(session: AsyncSession, version: str) -> ScoringModel:
    row = await repo.model_row(session, version)
    if row is None:
        raise NotFound.of(f"no model {version}", "version", "is unknown")
    return model_from_data(row.document)


async def calibration(session: AsyncSession, version: str) -> Calibration:
    model = await load_model(session, version)
    rules: dict[str, tuple[int, int]] = {r.id: (r.points, -1000) for r in model.fit_rules}
    rules |= {r.id: (r.points, 1) for r in model.engagement_rules}
    scale = points_per_logit(model.threshold.floor, model.threshold.ceiling)
    return calibrate(rules, await repo.outcomes_of(session, version), now(), scale=scale)


@dataclass(frozen=True)
class Propose:
    version: str
    new_version: str | None
    rules: list[str] | None  # None: every rule with a proposal
    by: str


async def propose(command: Propose, uow: UnitOfWork) -> str:
    """The proposals become a new draft, which still needs both approvals."""
    found = await calibration(uow.session, command.version)
    proposed = {r.rule: r.proposed_points for r in found.rules if r.proposed_points is not None}
    if command.rules is not None:
        known = {r.rule: r for r in found.rules}
        problems = [
            Problem(
                f"rules.{i}",
                "is not a rule of this model"
                if rule not in known
                else f"has no proposal: {known[rule].note}",
            )
            for i, rule in enumerate(command.rules)
            if rule not in proposed
        ]
        if problems:
            raise Invalid("some chosen rules have no proposal", problems)
        proposed = {rule: proposed[rule] for rule in command.rules}
    if not proposed:
        raise Conflict.of(
            f"model {command.version} has no proposals",
            "rules",
            "no rule has enough evidence against its current points",
        )
    model = await load_model(uow.session, command.version)
    new_version = command.new_version or f"{command.version[:50]}-p{uuid.uuid4().hex[:6]}"
    await create_model(CreateModel(apply(model, proposed, new_version), command.by), uow)
    await repo.record_history(
        uow.session, new_version, f"proposed-from:{command.version}"[:32], command.by
    )
    return new_version


def apply(model: ScoringModel, points: dict[str, int], version: str) -> ScoringModel:
    data: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    data["version"] = version
    for rule in [*data["fit_rules"], *data["engagement_rules"]]:
        if rule["id"] in points:
            rule["points"] = points[rule["id"]]
            if "cap" in rule:
                rule["cap"] = max(rule["cap"], rule["points"])
    return model_from_data(data)


@dataclass(frozen=True)
class RequestBacktest:
    version: str
    start: datetime
    end: datetime
    by: str


async def request_backtest(command: RequestBacktest, uow: UnitOfWork) -> uuid.UUID:
    await load_model(uow.session, command.version)
    if command.end <= command.start:
        raise Invalid.of("the range is empty", "to", "must be after from")
    if command.end - command.start > MAX_RANGE:
        raise Invalid.of("the range is too long", "to", "at most two years after from")
    active = await repo.active_model(uow.session)
    return await repo.add_backtest(
        uow.session,
        version=command.version,
        baseline=active.version if active else None,
        range_from=command.start,
        range_to=command.end,
        requested_by=command.by,
    )


async def run_backtests(uow: UnitOfWork, budget_s: float = BACKTEST_BUDGET_S) -> bool:
    """One job run: advance the oldest unfinished backtest for about `budget_s`. True when one
    was advanced."""
    session = uow.session
    job = await repo.claim_backtest(session)
    if job is None:
        return False
    models = {"version": await load_model(session, job.version)}
    if job.baseline:
        models["baseline"] = await load_model(session, job.baseline)
    # begun before migration 0005, in lead-id order without a replay: start it again
    again = job.cursor is not None and job.cursor_at is None
    tally: dict[str, Tally] = {name: {} if again else job.tally.get(name, {}) for name in models}
    replays = {
        name: Replay() if again else Replay.from_data(job.replay.get(name, {})) for name in models
    }
    states = await repo.recorded_states(session, job.range_to)
    cursor = None if again or job.cursor is None else (job.cursor_at, job.cursor)
    done = first = 0 if again else job.done
    deadline = time.monotonic() + budget_s
    finished = False
    while not finished and (done == first or time.monotonic() < deadline):  # a page at least
        page = await repo.replay_page(session, cursor, job.range_from, job.range_to, BACKTEST_PAGE)
        if len(page) < BACKTEST_PAGE:
            finished = True
        for row, acts, stage, judged_at in page:
            as_of = judged_at or min(job.range_to, now())
            seen = [a for a in acts if a.happened_at <= as_of]
            good = None if stage is None else stage in GOOD
            profile = repo.profile_of(row)
            for name, model in models.items():
                score = score_lead(model, profile, seen, as_of).total
                add(tally[name], row.created_at, score, good)
                replays[name].lead(model.threshold, states, row.created_at, score)
        if page:
            cursor, done = (page[-1][0].created_at, page[-1][0].lead_id), done + len(page)
    if finished:
        for replay in replays.values():
            replay.catch_up(states, job.range_to, inclusive=False)
    values: dict[str, Any] = {
        "tally": tally,
        "replay": {name: r.to_data() for name, r in replays.items()},
        "cursor_at": cursor[0] if cursor else None,
        "cursor": cursor[1] if cursor else None,
        "done": done,
        "status": "running",
    }
    if finished:
        values |= {
            "status": "done",
            "finished_at": now(),
            "result": await _result(session, job, models, tally, replays),
        }
    await repo.change_backtest(session, job.id, **values)
    return True


async def _result(
    session: AsyncSession,
    job: Any,
    models: dict[str, ScoringModel],
    tally: dict[str, Tally],
    replays: dict[str, Replay],
) -> dict[str, Any]:
    weeks = set()
    day = week_of(job.range_from)
    while day < job.range_to.date():
        weeks.add(day)
        day += timedelta(days=7)
    capacity = weekly_capacity(await repo.capacity_states(session, job.range_to), weeks)
    out: dict[str, Any] = {}
    for name, model in models.items():
        figures = summarize(tally[name], model.threshold.base, capacity, replays[name].mqls)
        out[name] = {"version": model.version, **figures.__dict__}
    return out


async def drifts(session: AsyncSession) -> list[Drift]:
    """This month against last, per source and per campaign; the gauges follow."""
    at = now()
    since = month_start(month_start(at) - timedelta(days=1))
    rows = await repo.recent_outcomes(session, since)
    found = drift("source", ((r.source, r.occurred_at, r.total, r.stage in GOOD) for r in rows), at)
    found += drift(
        "utm_campaign",
        ((r.utm_campaign, r.occurred_at, r.total, r.stage in GOOD) for r in rows),
        at,
    )
    for d in found:
        for month, value in (("this", d.this_month), ("last", d.last_month)):
            if value is not None:
                SEPARATION.labels(d.dimension, d.key, month).set(value)
        DEGRADED.labels(d.dimension, d.key).set(1.0 if d.degraded else 0.0)
    return found


async def refresh_drift(uow: UnitOfWork) -> None:
    await drifts(uow.session)
