"""Creating the SPEC's topics and their `.dlq` twins."""

from __future__ import annotations

import asyncio
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events import TOPICS


def topic_names(prefix: str = "") -> list[str]:
    return [f"{prefix}{name}{suffix}" for name in TOPICS for suffix in ("", ".dlq")]


async def create_topics(
    bootstrap: str, *, prefix: str = "", partitions: int = 6, replication_factor: int = 1
) -> list[str]:
    """Create every topic that does not exist yet and wait until the broker serves them all
    (Apache Kafka answers CreateTopics before every partition has a leader); returns the names."""
    names = topic_names(prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, replication_factor) for name in names if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another instance created them at the same moment
        await _wait_until_served(admin, names)
    finally:
        await admin.close()
    return names


async def _wait_until_served(
    admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        descriptions = await admin.describe_topics(names)
        waiting = [
            d["topic"]
            for d in descriptions
            if d["error_code"] != 0
            or not d["partitions"]
            or any(p["leader"] < 0 for p in d["partitions"])
        ]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics not served after {timeout_s:.0f}s: {', '.join(waiting)}")
        await asyncio.sleep(0.05)
