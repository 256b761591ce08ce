"""The report aggregates: a transaction's changes to them, added when it commits.

A change is not sent when a use case makes it: it goes into the transaction's `Tally` (kept in
the session's `info`), and just before the commit every change of the transaction is added, one
multi-row upsert per table with its rows in `lock_order`. So a consumer batch takes its leads'
`lead_facts` rows as its events come, and the aggregate rows only at the end, in the same order
as every other writer: a verdict that holds one lead's facts while it waits for an `all` row can
no longer be waited for by a batch that holds that `all` row (the deadlock this replaces).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.feedback.domain.aggregates import Change, Tally
from services.feedback.models import reason_day, revenue_day, segment_day, speed_day

TABLES: dict[str, Table] = {
    "segment_day": segment_day,
    "reason_day": reason_day,
    "revenue_day": revenue_day,
    "speed_day": speed_day,
}
_TALLY = "feedback.aggregates"  # the session's `info` key of its transaction's tally
MAX_PARAMETERS = 30_000  # per statement; PostgreSQL's protocol allows 32,767


def add_at_commit(session: AsyncSession, changes: Iterable[Change]) -> None:
    """Add `changes` to the aggregates when this session's transaction commits (nothing if it
    rolls back). Nothing is sent now, so nothing is locked yet."""
    sync = session.sync_session
    tally = sync.info.get(_TALLY)
    if tally is None:
        tally = sync.info[_TALLY] = Tally()
        if not event.contains(sync, "before_commit", _add_tally):
            event.listen(sync, "before_commit", _add_tally)
            event.listen(sync, "after_rollback", _forget_tally)
    tally.add(changes)


def _add_tally(session: Session) -> None:
    """Before the commit (in the transaction, under the async session's greenlet, so plain
    `execute` calls are the async driver's): the tally's rows, table by table, in lock order."""
    if session.in_nested_transaction():
        return  # only the whole transaction's commit adds them
    tally: Tally | None = session.info.pop(_TALLY, None)
    if tally is None:
        return
    by_table: dict[str, list[dict[str, Any]]] = {}
    for table_name, key, values in tally.changes():  # sorted by table, then key
        table = TABLES[table_name]
        key_columns = [column.name for column in table.primary_key.columns]
        by_table.setdefault(table_name, []).append(
            dict(zip(key_columns, key, strict=True)) | values
        )
    for table_name, rows in by_table.items():
        _upsert(session, TABLES[table_name], rows)


def _upsert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Add each row's amounts to its row of `table` (created at zero if missing), in the given
    order: PostgreSQL takes the rows of one statement in the order of its VALUES."""
    key_columns = [column.name for column in table.primary_key.columns]
    amounts = sorted({column for row in rows for column in row} - set(key_columns))
    full = [{column: row.get(column, 0) for column in (*key_columns, *amounts)} for row in rows]
    chunk = MAX_PARAMETERS // (len(key_columns) + len(amounts))
    for first in range(0, len(full), chunk):
        statement = insert(table).values(full[first : first + chunk])
        session.execute(
            statement.on_conflict_do_update(
                index_elements=key_columns,
                set_={column: table.c[column] + statement.excluded[column] for column in amounts},
            )
        )


def _forget_tally(session: Session) -> None:
    session.info.pop(_TALLY, None)
