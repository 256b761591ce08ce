"""Transactional outbox: events are rows written with the state change, in the caller's
transaction; `shared.relay` publishes them once committed.

Writers only insert rows through the caller's session and never commit. Ids are taken at
insert, not at commit: a transaction that commits late publishes its rows after
rows of transactions that committed before it. Writers of one key therefore serialise on a row
lock (the lead's) before inserting, so each key's events go out in commit order.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

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
        self._check_size(topic, len(value) + sum(len(n) + len(v) for n, v in headers))
        await self._insert(session, OutboxRow(topic, key, value, encode_headers(headers)))

    def _check_size(self, what: str, size: int) -> None:
        # Refused here, so the relay never holds a row the broker can never take.
        if size > self._settings.max_event_bytes:
            raise EventTooLarge(f"{what} is {size} bytes; at most {self._settings.max_event_bytes}")

    async def _insert(self, session: AsyncSession, row: OutboxRow) -> None:
        await session.execute(
            insert(self._table).values(
                topic=row.topic, key=row.key, value=row.value, headers=row.headers
            )
        )
