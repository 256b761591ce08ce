"""The report aggregates: a transaction's changes to them, added when it commits.

A change is not sent when a use case makes it: it goes into the transaction's `Tally` (kept in
the session's `info`), and just before the commit every change of the transaction is added, one
multi-row upsert per table with its rows in `lock_order`. So a consumer batch takes its leads'
`lead_facts` rows as its events come, and the aggregate rows only at the end, in the same order
as every other writer: a verdict that holds one lead's facts while it waits for an `all` row can
no longer be waited for by a batch that holds that `all` row (the deadlock this replaces).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.feedback.domain.aggregates import Amounts, Row, Tally
from services.feedback.models import reason_day, revenue_day, segment_day, speed_day

TABLES: dict[str, Table] = {
    "segment_day": segment_day,
    "reason_day": reason_day,
    "revenue_day": revenue_day,
    "speed_day": speed_day,
}
KEYS = {name: [c.name for c in table.primary_key.columns] for name, table in TABLES.items()}
_TALLY = "feedback.aggregates"  # the session's `info` key of its transaction's tally


def add_at_commit(session: AsyncSession, amounts: Mapping[Row, Amounts]) -> None:
    """Add `changes` to the aggregates when this session's transaction commits (nothing if it
    rolls back). Nothing is sent now, so nothing is locked yet."""
    sync = session.sync_session
    tally = sync.info.get(_TALLY)
    if tally is None:
        tally = sync.info[_TALLY] = Tally()
        if not event.contains(sync, "before_commit", _add_tally):
            event.listen(sync, "before_commit", _add_tally)
            event.listen(sync, "after_rollback", _forget_tally)
    tally.add_net(amounts)


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
        key_columns = KEYS[table_name]
        by_table.setdefault(table_name, []).append(
            dict(zip(key_columns, key, strict=True)) | values
        )
    for table_name, rows in by_table.items():
        _upsert(session, TABLES[table_name], rows)


def _adding(table: Table) -> Any:
    """Add each row's amounts to its row of `table` (created at zero if missing). With
    RETURNING, SQLAlchemy's insertmanyvalues sends an executemany of this one cached statement
    as multi-row INSERTs, the rows in the given order: PostgreSQL takes them in that order.
    (A `.values(rows)` statement is compiled anew for each count of rows: that compiling was a
    third of the consumer's CPU.)"""
    statement = insert(table)
    key_columns = [column.name for column in table.primary_key.columns]
    return statement.on_conflict_do_update(
        index_elements=key_columns,
        set_={
            column.name: column + statement.excluded[column.name]
            for column in table.columns
            if column.name not in key_columns
        },
    ).returning(table.primary_key.columns[0])


_ADDING = {name: _adding(table) for name, table in TABLES.items()}


def _upsert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """The rows' amounts added, in the given order (an amount not given adds 0)."""
    zero = dict.fromkeys((column.name for column in table.columns if not column.primary_key), 0)
    session.execute(_ADDING[table.name], [zero | row for row in rows]).close()


def _forget_tally(session: Session) -> None:
    session.info.pop(_TALLY, None)
