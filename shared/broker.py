"""The broker seen from a service: the outbox relay's producer and the readiness probe."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaClient, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from shared.settings import Settings


def new_producer(settings: Settings) -> AIOKafkaProducer:
    # No idempotent producer: duplicates from retries are absorbed by idempotent consumers.
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=2,
        request_timeout_ms=10_000,
        enable_idempotence=False,
    )


class BrokerProbe:
    """Answers "is the broker reachable?" for /readyz with one metadata round trip (for no
    topic: its cost does not grow with the cluster)."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._client: AIOKafkaClient | None = None
        self._one_at_a_time = asyncio.Lock()  # concurrent probes would close each other's client

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        async with self._one_at_a_time:
            try:
                if self._client is None:
                    self._client = AIOKafkaClient(bootstrap_servers=self._bootstrap)
                    await asyncio.wait_for(self._client.bootstrap(), timeout_s)
                node_id = self._client.get_random_node()
                if node_id is None:
                    raise KafkaError("no broker in the cluster's metadata")
                # A metadata request for no topic: the cluster's brokers only. Every topic's
                # metadata, on a cluster of many partitions, can take longer than the probe.
                await asyncio.wait_for(self._client.send(node_id, MetadataRequest([])), timeout_s)
                return True
            except Exception:
                await self.close()
                return False

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()
