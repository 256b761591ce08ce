"""Assignments and decisions held until the transaction's next statement or its commit.

A batch of MQLs would otherwise send two INSERTs per lead between its claims; held, they go
as one multi-row INSERT each, when the transaction next sends a statement (so every read in
it, through any query class, sees them, as the ORM's autoflush does for objects) or commits.
Only `claim` and the advisory locks, which touch neither table, pass without writing them
(executed with `PASSES_HELD`). A decision held twice for one lead keeps the later one, as the
upsert would. A transaction that ends without committing drops what it held.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from services.routing.repository.tables import PASSES, assignments_t, decisions_t

HELD = "routing.held"

_new_decisions = pg_insert(decisions_t)
_DECISIONS = _new_decisions.on_conflict_do_update(
    index_elements=["lead_id"],
    set_={
        name: _new_decisions.excluded[name]
        for name in ("outcome", "criteria_version", "explanation", "decided_at")
    },
).returning(decisions_t.c.lead_id)
_ASSIGNMENTS = insert(assignments_t).returning(assignments_t.c.id)


@dataclass
class Held:
    assignments: list[dict[str, Any]] = field(default_factory=list)
    decisions: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)


def held(session: AsyncSession) -> Held:
    rows: Held = session.info.setdefault(HELD, Held())
    return rows


def write_held(session: Session) -> None:
    """Runs inside the session's own statement or commit (sync API, asyncio's greenlet). With
    RETURNING, each INSERT is one statement of many VALUES rows (insertmanyvalues)."""
    rows: Held | None = session.info.pop(HELD, None)  # popped first: these INSERTs pass freely
    if rows is None:
        return
    if rows.assignments:
        session.execute(_ASSIGNMENTS, rows.assignments).close()
    if rows.decisions:
        session.execute(_DECISIONS, list(rows.decisions.values())).close()


@event.listens_for(Session, "do_orm_execute")
def _write_before_statement(state: ORMExecuteState) -> None:
    if HELD in state.session.info and not state.execution_options.get(PASSES):
        write_held(state.session)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    write_held(session)


@event.listens_for(Session, "after_transaction_end")
def _drop_held(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(HELD, None)
