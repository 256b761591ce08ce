"""A librdkafka client (confluent-kafka, as CRM teams use it) reads what capture publishes.

It runs on both brokers: confluent-kafka 2.16.1 (librdkafka 2.16.0) also reads and commits on
Tansu 0.6.0, where Debian's kcat (librdkafka 2.0.2) fails at its first request.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from services.capture.app import create_app
from shared.events import LeadCapturedEvent, parse_event
from shared.settings import Settings
from tests.helpers import auth, running

pytestmark = pytest.mark.asyncio


def read_one(bootstrap: str, topic: str, group: str, timeout_s: float) -> tuple[Message, int]:
    """The first record of `topic` for a new consumer group, committed; and the group's
    committed offset on that partition afterwards, as the broker reports it."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            consumer.commit(message=message, asynchronous=False)
            partition = TopicPartition(topic, message.partition() or 0)
            [committed] = consumer.committed([partition], timeout=10)
            return message, int(committed.offset)
        raise AssertionError(f"nothing on {topic} within {timeout_s}s")
    finally:
        consumer.close()


async def test_confluent_kafka_reads_lead_captured_and_its_envelope(
    settings: Settings, api_keys: dict[str, str]
) -> None:
    topic = settings.topic("lead.captured.v1")
    async with running(create_app(settings)) as client:
        answer = await client.post(
            "/v1/leads",
            json={"email": "grace.hopper@Example.COM", "first_name": "Grace"},
            headers=auth(api_keys["marketing"]),
        )
        assert answer.status_code == 202, answer.text
        lead_id = answer.json()["lead_id"]
        # In a thread: the relay that publishes the event runs on this event loop.
        message, committed = await asyncio.to_thread(
            read_one, settings.kafka_bootstrap, topic, f"crm-{uuid.uuid4().hex}", 30.0
        )

    assert message.key() == lead_id.encode()
    assert dict(message.headers() or []) == {
        "event_type": b"lead.captured",
        "producer": b"capture",
    }
    value, offset = message.value(), message.offset()
    assert value is not None and offset is not None
    event = parse_event(value)
    assert isinstance(event, LeadCapturedEvent)
    assert (event.event_type, event.schema_version, event.producer) == (
        "lead.captured",
        1,
        "capture",
    )
    assert str(event.lead_id) == lead_id
    assert event.payload.contact.email == "grace.hopper@example.com"
    assert event.payload.merged is False
    assert committed == offset + 1, "the group's offset is kept by the broker"
