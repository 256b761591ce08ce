"""Backtests: how a model would have done over a range of stored leads, against the model active
when it was asked for. A request queues one; a background job advances the oldest unfinished one
a page of leads at a time, committing its progress. The figures are `domain.evaluation`'s."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import repository as repo
from services.scoring.domain.document import ScoringModel
from services.scoring.domain.evaluation import (
    Replay,
    Tally,
    add,
    summarize,
    week_of,
    weekly_capacity,
)
from services.scoring.domain.outcomes import GOOD
from services.scoring.domain.scoring import score_lead
from services.scoring.handlers.models import load_model
from shared.problems import Invalid
from shared.uow import UnitOfWork

BACKTEST_PAGE = 2000  # leads read per statement
BACKTEST_BUDGET_S = 2.0  # work per job run before committing progress
MAX_RANGE = timedelta(days=731)


def now() -> datetime:
    return datetime.now(UTC)


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
