"""The unit of work every use case gets: one transaction's session and the outbox to publish
through. Use cases never commit; the edge does (the request dependency in `shared.service`, the
consumer runner in `shared.consumer`, the job runner in `shared.jobs`).

A request's unit of work opens nothing until it is used (`UnitOfWork.on_demand`): its session
and connection are taken at the first statement, so a route that refuses early or touches no
table costs no connection. A hot path whose whole unit of work is one statement, atomic on its
own, can send it with `lone_statement`, on a plain driver connection without the ORM.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import Envelope
from shared.outbox import Headers, Outbox
from shared.settings import Settings

Row = Any  # a mapping of column name to value (asyncpg's Record or SQLAlchemy's RowMapping)


class Statements(Protocol):
    """Plain driver connections (`shared.db.StatementPool`): one taken per statement."""

    async def fetch(self, sql: str, *args: object) -> Sequence[Row]: ...


class UnitOfWork:
    """One transaction: `session` for the ORM and `publish` for events, both in it.

    `UnitOfWork(session, outbox, settings)` wraps a session the caller has begun and will end.
    `UnitOfWork.on_demand(...)` opens its session at first use; the edge ends it (`end`, or
    `async with`).
    """

    def __init__(
        self,
        session: AsyncSession | None,
        outbox: Outbox,
        settings: Settings,
        *,
        sessions: Callable[[], AsyncSession] | None = None,
        statements: Statements | None = None,
    ) -> None:
        self.outbox, self.settings = outbox, settings
        self._session, self._sessions, self._statements = session, sessions, statements
        self._owns_session = session is None

    @classmethod
    def on_demand(
        cls,
        sessions: Callable[[], AsyncSession],
        outbox: Outbox,
        settings: Settings,
        statements: Statements | None = None,
    ) -> UnitOfWork:
        return cls(None, outbox, settings, sessions=sessions, statements=statements)

    @property
    def session(self) -> AsyncSession:
        """The transaction's session; a lazy unit of work opens it here (it begins on its first
        statement)."""
        if self._session is None:
            if self._sessions is None:
                raise RuntimeError("this unit of work has no session")
            self._session = self._sessions()
        return self._session

    @property
    def begun(self) -> bool:
        """Whether the session is open: from then on every statement belongs in its transaction."""
        return self._session is not None

    async def lone_statement(self, sql: str, *args: object) -> Sequence[Row]:
        """Run one plain SQL statement (`$1`-style parameters) and return its rows.

        Before the session is open, the statement runs on a driver connection taken for it alone
        and commits on its own: one round trip, no ORM. That is only right when the statement is
        atomic by itself and is the unit of work's only write (a read before other work is fine).
        Once the session is open, it runs inside the session's transaction like any other.
        """
        if self._session is None and self._statements is not None:
            return await self._statements.fetch(sql, *args)
        connection = await self.session.connection()
        result = await connection.exec_driver_sql(sql, args)
        return result.mappings().all() if result.returns_rows else []

    def wrote_outbox(self) -> None:
        """A plain statement (`lone_statement`) wrote outbox rows: this process's relay is woken
        once they are committed (at once when the statement committed on its own)."""
        self.outbox.written(self._session)

    async def publish(self, event: Envelope) -> None:
        """Written with the state change; the relay publishes it once the transaction commits.

        No round trip here: the row is held and inserted with the transaction's other events
        just before the commit (`shared.outbox`). An event over `max_event_bytes` is refused
        here, at once (`EventTooLarge`)."""
        self.outbox.defer(self.session, self.outbox.row(event))

    async def publish_raw(
        self, *, topic: str, key: bytes | None, value: bytes, headers: Headers
    ) -> None:
        row = self.outbox.raw_row(topic=topic, key=key, value=value, headers=headers)
        self.outbox.defer(self.session, row)

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        """`async with UnitOfWork.on_demand(...) as uow:` (or an exit stack) ends it: committed
        unless the block raised."""
        await self.end(commit=error_type is None)
        return False

    async def end(self, *, commit: bool) -> None:
        """The edge's part for a lazy unit of work: commit (or roll back) what was done, if
        anything, and give the connection back."""
        if not self._owns_session or self._session is None:
            return
        session, self._session = self._session, None
        try:
            if commit:
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()


Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
# A batch use case: the events of one type, in order, duplicates already dropped.
BatchHandler = Callable[[Any, UnitOfWork], Awaitable[None]]
