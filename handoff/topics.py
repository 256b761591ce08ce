"""Creating the SPEC's topics and their `.dlq` twins."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events import TOPICS


def topic_names(prefix: str = "") -> list[str]:
    return [f"{prefix}{name}{suffix}" for name in TOPICS for suffix in ("", ".dlq")]


async def create_topics(bootstrap: str, *, prefix: str = "", partitions: int = 6,
                        replication_factor: int = 1) -> list[str]:
    """Create every topic that does not exist yet; returns the names."""
    names = topic_names(prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, replication_factor)
                   for name in names if name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another instance created them at the same moment
    finally:
        await admin.close()
    return names
