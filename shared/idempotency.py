"""Idempotency-Key for any service's POSTs: a retried request gets the first answer again
instead of acting twice.

The key is claimed by inserting its row inside the request's own transaction (the unit of
work's session), before anything is written. A concurrent duplicate blocks on that primary key
until the first transaction ends, then sees the committed answer; if the first one rolled back,
the duplicate takes the claim itself. So the answer, the state change and its outbox row commit
together or not at all. A key reused with a different body within the TTL is a `Conflict` (409).

How a service uses it:

1. `models.py`: `idempotent_requests = idempotency_table(metadata)`, a table in the service's
   own schema (name `idempotent_requests` unless given another).
2. A migration of the service's own creates it, spelling the DDL out as every migration does
   (copy capture's `0002_forms.py`: the six columns, the two-column primary key and the index
   on `created_at`); the suite's drift check compares it with the model.
3. `STORE = IdempotencyStore(idempotent_requests)` next to the use cases. The route reads the
   header with `key_of(request.scope["headers"])` (its operation documents it with
   `openapi_extra=KEY_PARAMETER`) and passes `IdempotentCall(principal.key_id, key,
   fingerprint("POST /v1/...", body))` in the command; the use case, first thing:
   `if (answer := await STORE.claim(uow.session, call)) is not None: return <answer.body>`,
   and once it has its answer: `await STORE.record(uow.session, call, 201, answer_model)`.
   Only successful answers are stored: a refusal raises, the transaction rolls back and the
   claim with it, so a retry of a refused request is judged afresh.

Expired keys (older than the TTL) are taken over on claim and pruned a few at a time.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    and_,
    delete,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.http import raw_header
from shared.problems import Conflict, Invalid, Problem

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
_RAW_HEADER = HEADER.lower().encode()

# The header in a route's OpenAPI operation (`openapi_extra=KEY_PARAMETER`), read by `key_of`.
KEY_PARAMETER: dict[str, Any] = {
    "parameters": [
        {
            "name": HEADER,
            "in": "header",
            "required": False,
            "description": "Retry safely: the same key and body within 24 h get the first answer.",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
        }
    ]
}


def key_of(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The request's Idempotency-Key (from the ASGI scope's raw headers), or None.

    Read here rather than declared as a FastAPI `Header` parameter: FastAPI 0.165 inspects a
    header parameter's annotation again on every request, which cost capture ~83 k of its
    ~2.4 M instructions per lead (bench/capture_instructions.py)."""
    raw = raw_header(headers, _RAW_HEADER)
    if raw is None:
        return None
    key = raw.decode("latin-1")
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        reason = f"must be 1 to {MAX_KEY_LENGTH} characters"
        raise Invalid("the request is invalid", [Problem(HEADER, reason)])
    return key


TTL = timedelta(hours=24)
PRUNE_BATCH = 100
IN_PROGRESS = 0  # status of a claimed key whose answer is not written yet (never seen outside)


def idempotency_table(metadata: MetaData, name: str = "idempotent_requests") -> Table:
    """The answers given to requests with an Idempotency-Key, in the metadata's schema."""
    return Table(
        name,
        metadata,
        Column("api_key_id", Uuid, primary_key=True),
        Column("idempotency_key", String(MAX_KEY_LENGTH), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response", JSONB, nullable=False),
        Column(
            "created_at",
            DateTime(timezone=True),
            nullable=False,
            server_default=func.now(),
            index=True,
        ),
    )


def fingerprint(scope: str, body: BaseModel) -> str:
    """SHA-256 of the canonical JSON of the validated body, and of the route it was sent to."""
    canonical = json.dumps(
        {"scope": scope, "body": body.model_dump(mode="json")},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class IdempotentCall:
    """One request's key, whose key it is, and what was asked."""

    api_key_id: uuid.UUID
    key: str
    request_hash: str


@dataclass(frozen=True)
class Answer:
    """The first answer to a key, to give again."""

    status_code: int
    body: dict[str, Any]


class KeyReused(Conflict):
    def __init__(self) -> None:
        super().__init__(
            f"this {HEADER} was already used for a different request",
            [Problem(HEADER, "was used with another body in the last 24 hours; send a new key")],
        )


class IdempotencyStore:
    """Claims, answers and prunes keys in one service's table (see `idempotency_table`)."""

    def __init__(self, table: Table, *, ttl: timedelta = TTL, prune_batch: int = PRUNE_BATCH):
        self._table, self._ttl, self._prune_batch = table, ttl, prune_batch

    async def claim(self, session: AsyncSession, call: IdempotentCall) -> Answer | None:
        """None when this request goes ahead; the first answer when the key was answered;
        `KeyReused` (409) when the key was used for a different request."""
        if await self._claimed(session, call):
            await self._prune(session)
            return None
        t = self._table
        stored = (
            await session.execute(
                select(t.c.request_hash, t.c.status_code, t.c.response).where(self._is(call))
            )
        ).one()
        if stored.request_hash != call.request_hash:
            raise KeyReused()
        return Answer(stored.status_code, stored.response)

    async def record(
        self, session: AsyncSession, call: IdempotentCall, status_code: int, answer: BaseModel
    ) -> None:
        await session.execute(
            update(self._table)
            .where(self._is(call))
            .values(status_code=status_code, response=answer.model_dump(mode="json"))
        )

    async def _claimed(self, session: AsyncSession, call: IdempotentCall) -> bool:
        """Insert the key's row, or take over an expired one; False when a live one exists. A
        concurrent claim of the same key waits here until the first transaction ends."""
        t = self._table
        fresh = dict(request_hash=call.request_hash, status_code=IN_PROGRESS, response={})
        claimed = await session.scalar(
            insert(t)
            .values(api_key_id=call.api_key_id, idempotency_key=call.key, **fresh)
            .on_conflict_do_update(
                index_elements=[t.c.api_key_id, t.c.idempotency_key],
                set_=fresh | {"created_at": func.now()},
                where=t.c.created_at < func.now() - self._ttl,
            )
            .returning(t.c.api_key_id)
        )
        return claimed is not None

    async def _prune(self, session: AsyncSession) -> None:
        """Drop a few expired answers; SKIP LOCKED keeps off others' claims."""
        t = self._table
        expired = (
            select(t.c.api_key_id, t.c.idempotency_key)
            .where(t.c.created_at < func.now() - self._ttl)
            .limit(self._prune_batch)
            .with_for_update(skip_locked=True)
        )
        key = tuple_(t.c.api_key_id, t.c.idempotency_key)
        await session.execute(delete(t).where(key.in_(expired)))

    def _is(self, call: IdempotentCall) -> Any:
        t = self._table
        return and_(t.c.api_key_id == call.api_key_id, t.c.idempotency_key == call.key)
