"""Idempotency-Key: a retried request gets the first answer again instead of acting twice.

The key is claimed by inserting its row inside the request's own transaction, before anything is
written. A concurrent duplicate blocks on that primary key until the first transaction ends, then
sees the committed answer; if the first one rolled back, the duplicate takes the claim itself. So
the answer, the state change and its outbox row commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.capture import repository
from services.capture.models import IdempotentRequest
from shared.errors import FieldError, error_response

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
PRUNE_BATCH = 100


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
    api_key_id: uuid.UUID
    key: str
    request_hash: str

    async def claim(self, session: AsyncSession) -> IdempotentRequest | None:
        """None if this request goes ahead; otherwise the live answer stored for the key."""
        if await repository.claim_idempotency_key(
            session, self.api_key_id, self.key, self.request_hash, expired_after=TTL
        ):
            await repository.prune_idempotency_keys(session, expired_after=TTL, limit=PRUNE_BATCH)
            return None
        return await repository.idempotent_answer(session, self.api_key_id, self.key)

    async def record(self, session: AsyncSession, status_code: int, response: BaseModel) -> None:
        await repository.record_idempotent_answer(
            session, self.api_key_id, self.key, status_code, response.model_dump(mode="json")
        )

    def replay(self, stored: IdempotentRequest) -> JSONResponse:
        """The first answer again, or 409 when the key was used for a different request."""
        if stored.request_hash != self.request_hash:
            return error_response(
                409,
                f"this {HEADER} was already used for a different request",
                [
                    FieldError(
                        field=HEADER,
                        reason="was used with another body in the last 24 hours; send a new key",
                    )
                ],
            )
        return JSONResponse(
            stored.response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
        )
