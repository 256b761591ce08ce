"""The consumer's inbox: the ids of events a service has handled, so a redelivery is a no-op.

An id is claimed in the same transaction as the handler's state change, so either both commit
or neither does (the Polar pattern: insert ... ON CONFLICT DO NOTHING RETURNING). A batch's ids
are claimed in one multi-row statement (`claim_many`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import PlatformTables


class Inbox:
    def __init__(self, tables: PlatformTables) -> None:
        self._processed = processed = tables.processed_events
        # Built once: an upsert's `excluded` makes a proxy of every column each time it is built.
        claim = insert(processed).values(processed_at=func.clock_timestamp())
        self._claim = claim.on_conflict_do_update(
            index_elements=[processed.c.event_id],
            set_={
                "outcome": claim.excluded.outcome,
                "topic": claim.excluded.topic,
                "processed_at": claim.excluded.processed_at,
            },
            where=processed.c.outcome == "dead_lettered",
        ).returning(processed.c.event_id)

    async def first_time(
        self, session: AsyncSession, event_id: uuid.UUID, topic: str, outcome: str
    ) -> bool:
        """Record the event id; False when it was handled before. An event that went to the DLQ
        is handled when it comes again (replayed after a fix), or dead-lettered again."""
        return bool(await self.claim_many(session, [(event_id, topic)], outcome))

    async def claim_many(
        self, session: AsyncSession, events: Sequence[tuple[uuid.UUID, str]], outcome: str
    ) -> set[uuid.UUID]:
        """`first_time` for many events in one statement: the ids (unique; with their topics)
        claimed now. The ids not returned were handled before (in this transaction too).
        `clock_timestamp()`, not `now()`: a batch's transaction shares `now()`."""
        if not events:
            return set()
        # an executemany (SQLAlchemy's insertmanyvalues): one cached statement, one round trip
        rows = await session.scalars(
            self._claim,
            [
                {"event_id": event_id, "topic": topic, "outcome": outcome}
                for event_id, topic in events
            ],
        )
        return set(rows.all())

    async def forget_older_than(self, session: AsyncSession, days: int) -> None:
        """Forget ids older than any redelivery can be (the topics' retention)."""
        processed = self._processed
        await session.execute(
            delete(processed).where(
                processed.c.processed_at < func.now() - text(f"interval '{int(days)} days'")
            )
        )
