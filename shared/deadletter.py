"""Dead letters: a record no handler could process goes to `<topic>.dlq` with its original bytes
and headers plus headers naming the error, through the outbox, so even that is not lost."""

from __future__ import annotations

import hashlib
import time
import traceback
import uuid
from dataclasses import dataclass

from aiokafka import ConsumerRecord

POISON_NAMESPACE = uuid.UUID("6f1c3f55-2f5e-4d0a-9a57-1b0d3c1e7a10")
DLQ_HEADER_BUDGET = 8 * 1024  # room kept for the error headers when a record is dead-lettered


class HandlerFailed(Exception):
    def __init__(self, cause: BaseException, attempts: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.attempts = attempts


def poison_id(group_id: str, record: ConsumerRecord) -> uuid.UUID:
    """A record we cannot parse has no event id; its position and content identify it."""
    return uuid.uuid5(
        POISON_NAMESPACE,
        ":".join(
            (
                group_id,
                record.topic,
                str(record.partition),
                str(record.offset),
                hashlib.sha256(record.value or b"").hexdigest(),
            )
        ),
    )


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def dead_letter(
    record: ConsumerRecord, failure: HandlerFailed, *, group_id: str, max_event_bytes: int
) -> DeadLetter:
    value = record.value or b""
    headers = [*record.headers, *error_headers(record, failure, group_id)]
    if len(value) + DLQ_HEADER_BUDGET > max_event_bytes:
        # The copy would not fit the broker; its topic, partition and offset point to it.
        value, headers = b"", [*headers, ("dlq.value_dropped_bytes", str(len(value)).encode())]
    return DeadLetter(f"{record.topic}.dlq", record.key, value, headers)


def error_headers(
    record: ConsumerRecord, failure: HandlerFailed, group_id: str
) -> list[tuple[str, bytes]]:
    cause = failure.cause
    trace = "".join(traceback.format_exception(cause))[-4000:]
    return [
        (name, value.encode())
        for name, value in (
            ("dlq.error", f"{type(cause).__name__}: {cause}"[:2000]),
            ("dlq.error.trace", trace),
            ("dlq.attempts", str(failure.attempts)),
            ("dlq.original.topic", record.topic),
            ("dlq.original.partition", str(record.partition)),
            ("dlq.original.offset", str(record.offset)),
            ("dlq.consumer.group", group_id),
            ("dlq.failed_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
        )
    ]
