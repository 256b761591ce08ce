"""Scoring's batch use cases for lead.captured.v1 and lead.activity.v1: a batch of events in a
handful of statements, doing exactly what handling them one by one would (`handlers.leads`
record_capture and record_activity, then `qualify.evaluate`), in event order.

Statements a batch: lock (and create) the batch's leads; read their activities; add the batch's
activities; the ledger with the team sums (locked when a lead may take a slot); the best held
leads, only while sales has free slots and leads are held; write the changed leads; the ledger;
and the outbox, at commit, with the transaction's other events. The active model is cached.

Between the reads and the writes every event is applied in memory, in order, with the pure steps
the one-event path uses (`placement.place` and `changes`, `events.outcomes`,
`release.to_release`): the lead's profile as of that event, its activities up to that event, its
score at the event's own instant, and the released count and held leads as the events before it
left them. So a lead twice in a batch is handled twice, in order, and each lead that qualifies
lowers k for the next.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from services.scoring import repository as repo
from services.scoring.domain.document import ScoringModel, ThresholdPolicy
from services.scoring.domain.scoring import Activity, Profile, Score, score_lead
from services.scoring.domain.threshold import Held, best_first, free_slots
from services.scoring.handlers.events import mql_event, outcomes
from services.scoring.handlers.placement import changes, contends, place, top_needed
from services.scoring.handlers.profile import activity_of, captured_profile
from services.scoring.handlers.release import to_release
from services.scoring.repository import intake as sql
from shared.batches import bound_to
from shared.events import LeadActivityEvent, LeadCapturedEvent
from shared.logs import bind
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

Intake = LeadCapturedEvent | LeadActivityEvent


async def record_captures(events: list[LeadCapturedEvent], uow: UnitOfWork) -> None:
    await take_in(events, uow)


async def record_activities(events: list[LeadActivityEvent], uow: UnitOfWork) -> None:
    await take_in(events, uow)


@dataclass(frozen=True)
class Step:
    """One event as the batch applies it."""

    event: Intake
    lead_id: uuid.UUID
    patch: dict[str, Any]  # what the event sets on the lead row before it is scored
    now: datetime
    score: Score | None  # None while no model is active
    may_take_a_slot: bool  # `placement.contends` with the state before the batch: if none
    # may, the ledger is read without its lock (a lead only leaves the open states in a batch)


@dataclass
class Board:
    """The ledger and the held leads, as the batch's steps leave them."""

    capacity: repo.CapacityState
    released: int
    held_count: int
    held: dict[uuid.UUID, Held] = field(default_factory=dict)

    def k(self) -> int | None:
        return free_slots(self.capacity.team_slots(), self.released)

    def best(self, count: int, floor: int | None = None) -> list[Held]:
        if count <= 0:
            return []
        candidates = (h for h in self.held.values() if floor is None or h.score >= floor)
        return best_first(candidates)[:count]

    def moved(self, row: Any, was_held: bool) -> None:
        if row.state == "held":
            self.held[row.lead_id] = Held(row.lead_id, row.total, row.held_since)
        else:
            self.held.pop(row.lead_id, None)
        self.held_count += (row.state == "held") - was_held


async def take_in(events: Sequence[Intake], uow: UnitOfWork) -> None:
    session = uow.session
    rows = await sql.claim_leads(session, list({_lead(e) for e in events}))
    events = [e for e in events if _lead(e) in rows]  # an erased person's events do nothing
    model = await repo.active_model(session)
    history = await sql.activities_of(session, list(rows)) if model and rows else {}
    steps = _steps(events, rows, history, model)
    await sql.add_activities(
        session,
        [
            (s.lead_id, activity_of(s.event)[0])
            for s in steps
            if isinstance(s.event, LeadActivityEvent)
        ],
    )
    current = {lead_id: SimpleNamespace(**row._mapping) for lead_id, row in rows.items()}
    if model is None:
        for step in steps:
            _apply(current[step.lead_id], step.patch)
        await sql.write_leads(session, list(current.values()))
        return
    policy = model.threshold
    locked = any(step.may_take_a_slot for step in steps)
    capacity = await repo.capacity(session, lock=locked)  # the leads' rows, then the ledger
    board = Board(capacity, capacity.released_total, capacity.held)
    others: dict[uuid.UUID, Any] = {}  # held leads not in the batch, which it may release
    k = board.k()
    if k is not None and k > 0 and capacity.held > 0:
        for held in await sql.held_rows(session, k + len(current), lock=locked):
            if held.lead_id not in current:
                others[held.lead_id] = SimpleNamespace(**held._mapping)
    for lead in (*current.values(), *others.values()):  # counted in capacity.held already
        if lead.state == "held":
            board.held[lead.lead_id] = Held(lead.lead_id, lead.total, lead.held_since)
    released: list[Any] = []
    for step in steps:
        row = current[step.lead_id]
        _apply(row, step.patch)
        assert step.score is not None
        with bind(**bound_to(step.event)):
            k = board.k()
            top = board.best(top_needed(k, board.held_count))
            placed = place(policy, row, step.score, step.now, k, top)
            published = outcomes(row, step.score, placed, step.event)
            was_held = row.state == "held"
            _apply(row, changes(row, step.score, placed, step.now))
            board.moved(row, was_held)
            for event in published:
                await uow.publish(event)
            if placed.becomes_mql:  # it reached the bar itself: it takes a slot like any release
                board.released += 1
                log.info("lead is an MQL", extra={"lead_id": str(row.lead_id), "score": row.total})
            if placed.contends and placed.state in ("held", "mql"):
                released += await _release_best(uow, board, policy, step, current | others)
    await sql.write_leads(
        session, [*current.values(), *(r for r in released if r.lead_id in others)]
    )
    if board.released != capacity.released_total:
        await repo.change_ledger(session, released_total=board.released)


async def _release_best(
    uow: UnitOfWork, board: Board, policy: ThresholdPolicy, step: Step, rows: dict[uuid.UUID, Any]
) -> list[Any]:
    """`release.release_best` on the board: the best held leads up to k, best first."""
    k = board.k()
    if k is None or k <= 0:
        return []
    chosen, threshold = to_release(policy, k, board.best(k, policy.floor))
    released = []
    for held in chosen:
        row = rows[held.lead_id]
        _apply(row, {"state": "mql", "mql_at": step.now, "qualifications": row.qualifications + 1})
        board.moved(row, was_held=True)
        await uow.publish(
            mql_event(row, row.total, row.grade, row.model_version, threshold, step.event)
        )
        log.info("held lead released as an MQL", extra={"lead_id": str(row.lead_id)})
        released.append(row)
    board.released += len(released)
    return released


def _steps(
    events: Sequence[Intake],
    rows: dict[uuid.UUID, Any],
    history: dict[uuid.UUID, list[Activity]],
    model: ScoringModel | None,
) -> list[Step]:
    """Each event's patch and its score with the lead's profile and activities as of it."""
    patched = {lead_id: SimpleNamespace(**row._mapping) for lead_id, row in rows.items()}
    acts: dict[uuid.UUID, list[Activity]] = defaultdict(list, history)
    steps, clock = [], _clock()
    for event in events:
        lead_id = _lead(event)
        if isinstance(event, LeadCapturedEvent):
            patch = captured_profile(event)
        else:
            activity, patch = activity_of(event)
            acts[lead_id].append(activity)
        patch["correlation_id"] = event.correlation_id
        row = patched[lead_id]
        _apply(row, patch)
        now, score, may = next(clock), None, False
        if model is not None:
            since = row.engagement_since  # as `repo.activities_of` filters them
            counted = [a for a in acts[lead_id] if since is None or a.happened_at >= since]
            score = score_lead(model, _profile(row), counted, now)
            may = contends(model.threshold, row, score, now)
        steps.append(Step(event, lead_id, patch, now, score, may))
    return steps


def _clock() -> Iterator[datetime]:
    """Each event its own instant, as one by one (strictly later: held leads rank by age)."""
    last = datetime.min.replace(tzinfo=UTC)
    while True:
        last = max(datetime.now(UTC), last + timedelta(microseconds=1))
        yield last


def _profile(row: Any) -> Profile:
    return Profile(**{name: getattr(row, name) for name in repo.PROFILE_FIELDS})


def _apply(row: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name == "correlation_id":  # kept once known, as `claim_lead` does
            value = row.correlation_id if row.correlation_id is not None else value
        setattr(row, name, value)


def _lead(event: Intake) -> uuid.UUID:
    assert event.lead_id is not None
    return event.lead_id
