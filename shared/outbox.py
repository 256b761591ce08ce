"""Transactional outbox: events are rows written with the state change, in the caller's
transaction; `shared.relay` publishes them once committed.

Writers only insert rows through the caller's session and never commit. A unit of work's
events are held in the session (`defer`) and written just before it commits, the rows of the
transaction in one multi-row INSERT (a batch of events costs one statement, not one per event);
a rollback drops them. The size limit is checked when the event is published, so a use
case learns at once that an event is too big. Ids are taken at insert, not at commit: a
transaction that commits late publishes its rows after rows of transactions that committed
before it. Writers of one key therefore serialise on a row lock (the lead's) before their
transaction commits, so each key's events go out in commit order.

When a transaction that wrote rows commits, the relays of this process that publish that outbox
are woken (`wake_on_commit`); a relay whose instance does not publish now tells the one that
does (NOTIFY, see `shared.relay`). No trigger notifies at every commit: PostgreSQL takes one
database-wide lock for each committing transaction that sent NOTIFY and holds it while the
commit is flushed, so under load the writers of every service queued behind each other.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from shared.db import PlatformTables
from shared.events import Envelope
from shared.settings import Settings

Headers = Sequence[tuple[str, bytes]]


def encode_headers(headers: Headers) -> list[list[str]]:
    return [[name, base64.b64encode(value).decode()] for name, value in headers]


def decode_headers(stored: list[list[str]]) -> list[tuple[str, bytes]]:
    return [(name, base64.b64decode(value)) for name, value in stored]


class EventTooLarge(ValueError):
    pass


PENDING = "handoff.outbox.pending"  # the session's `info` key: {outbox table: [rows]}
WRITTEN = "handoff.outbox.written"  # the session's `info` key: names of outboxes written to

# The relays of this process, by the outbox they publish (its full name): woken on commit.
_wakers: dict[str, list[Callable[[], None]]] = {}


def wake_on_commit(outbox: str, wake: Callable[[], None]) -> Callable[[], None]:
    """Call `wake` whenever a transaction of this process that wrote to `outbox` commits;
    returns what undoes it."""
    _wakers.setdefault(outbox, []).append(wake)
    return lambda: _wakers[outbox].remove(wake)


def _committed(outboxes: Iterable[str]) -> None:
    for name in outboxes:
        for wake in _wakers.get(name, ()):
            wake()


@dataclass(frozen=True)
class OutboxRow:
    """An event as the outbox stores it, for a caller that writes the row in its own statement."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[list[str]]


class Outbox:
    """Adds events to a service's outbox inside the caller's transaction."""

    def __init__(self, tables: PlatformTables, settings: Settings, service: str) -> None:
        self._table = tables.outbox
        self._settings = settings
        self._service = service

    def row(self, event: Envelope) -> OutboxRow:
        headers = [("event_type", event.event_type.encode()), ("producer", self._service.encode())]
        value = event.to_bytes()
        self._check_size(f"{event.event_type} {event.event_id}", len(value))
        return OutboxRow(
            topic=self._settings.topic(event.topic),
            key=event.key(),
            value=value,
            headers=encode_headers(headers),
        )

    def raw_row(
        self, *, topic: str, key: bytes | None, value: bytes, headers: Headers
    ) -> OutboxRow:
        self._check_size(topic, len(value) + sum(len(n) + len(v) for n, v in headers))
        return OutboxRow(topic, key, value, encode_headers(headers))

    def written(self, session: AsyncSession | None) -> None:
        """Rows were written by a plain statement: in `session`'s transaction (the relays are
        woken when it commits), or, with no session, by a statement that committed on its own
        (they are woken now)."""
        if session is None:
            _committed([self._table.fullname])
        else:
            session.info.setdefault(WRITTEN, set()).add(self._table.fullname)

    def defer(self, session: AsyncSession, row: OutboxRow) -> None:
        """Hold the row in the session; it is inserted, with the transaction's other held rows,
        just before the transaction commits (see `_write_pending`)."""
        pending: dict[Table, list[OutboxRow]] = session.info.setdefault(PENDING, {})
        pending.setdefault(self._table, []).append(row)

    async def add(self, session: AsyncSession, event: Envelope) -> None:
        await self._insert(session, self.row(event))

    async def add_raw(
        self,
        session: AsyncSession,
        *,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Headers,
    ) -> None:
        await self._insert(
            session, self.raw_row(topic=topic, key=key, value=value, headers=headers)
        )

    def _check_size(self, what: str, size: int) -> None:
        # Refused here, so the relay never holds a row the broker can never take.
        if size > self._settings.max_event_bytes:
            raise EventTooLarge(f"{what} is {size} bytes; at most {self._settings.max_event_bytes}")

    async def _insert(self, session: AsyncSession, row: OutboxRow) -> None:
        self.written(session)
        await session.execute(
            insert(self._table).values(
                topic=row.topic, key=row.key, value=row.value, headers=row.headers
            )
        )


def _values(row: OutboxRow) -> dict[str, Any]:
    return {"topic": row.topic, "key": row.key, "value": row.value, "headers": row.headers}


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    """The held rows of the transaction, in the order they were published, in one multi-row
    INSERT a table (runs inside the commit, on the transaction's connection: sync API, asyncio's
    greenlet). With RETURNING, SQLAlchemy's insertmanyvalues makes the VALUES rows from one
    compiled (cached) statement; a statement compiled per row count cost more than the insert."""
    pending: dict[Table, list[OutboxRow]] | None = session.info.pop(PENDING, None)
    for table, rows in (pending or {}).items():
        statement = insert(table).returning(table.c.id)
        session.execute(statement, [_values(row) for row in rows]).close()
        session.info.setdefault(WRITTEN, set()).add(table.fullname)


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    _committed(session.info.pop(WRITTEN, ()))


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ended without committing (rolled back, closed) publishes nothing."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)
        session.info.pop(WRITTEN, None)
