"""The two kinds of broker the suite runs on, and the one place where they differ.

- Embedded Tansu (default): memory storage, so stopping it loses every topic; an outage is
  simulated by freezing the process (SIGSTOP), which clients see as an unreachable broker.
- Apache Kafka: `make test-kafka` (the tier names it by HANDOFF_TEST_KAFKA_BOOTSTRAP and
  HANDOFF_TEST_KAFKA_CONTROL; any other broker can be named the same way), or
  HANDOFF_TEST_BROKER=kafka (the session starts one itself, in a temporary folder, through
  `handoff/kafka.py`). An outage is a real stop and start of the broker, with its data kept
  on disk.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from handoff import kafka
from handoff.brokers import TANSU_FETCH_MAX_WAIT_MS
from handoff.embedded import EmbeddedBroker
from shared.settings import Settings

CONTROL_MISSING = (
    "HANDOFF_TEST_KAFKA_BOOTSTRAP names a broker but HANDOFF_TEST_KAFKA_CONTROL is not set: "
    "this test needs to stop and start the broker. The Kafka tier (`make test-kafka`) sets it "
    "to a command taking `stop` / `start`; set it when pointing the suite at another broker."
)


class Broker:
    name = "broker"
    bootstrap: str
    outage_kind: str
    fetch_max_wait_ms = Settings.model_fields["consumer_fetch_max_wait_ms"].default

    def start(self) -> None: ...

    def stop(self) -> None: ...

    @contextmanager
    def outage(self) -> Iterator[None]:
        """The broker is unreachable inside the block and back (with its data) after it."""
        raise NotImplementedError


class EmbeddedTansu(Broker):
    name = "tansu"
    outage_kind = "frozen with SIGSTOP (a Tansu restart would lose its in-memory data)"
    fetch_max_wait_ms = TANSU_FETCH_MAX_WAIT_MS  # it holds a fetch for the whole wait

    def __init__(self) -> None:
        self._broker = EmbeddedBroker()
        self.bootstrap = self._broker.bootstrap

    def start(self) -> None:
        self._broker.start()

    def stop(self) -> None:
        self._broker.stop()

    @contextmanager
    def outage(self) -> Iterator[None]:
        self._broker.pause()
        try:
            yield
        finally:
            self._broker.resume()


class ExternalKafka(Broker):
    name = "kafka"
    outage_kind = "stopped and started again, data kept on disk"

    def __init__(self, bootstrap: str, control: str | None) -> None:
        self.bootstrap = bootstrap
        self._control = shlex.split(control) if control else None

    @contextmanager
    def outage(self) -> Iterator[None]:
        if self._control is None:
            # A skip would hide that the promise the test checks went unchecked on this broker.
            pytest.fail(CONTROL_MISSING)
        subprocess.run([*self._control, "stop"], check=True, timeout=60)
        try:
            yield
        finally:
            subprocess.run([*self._control, "start"], check=True, timeout=120)


class LocalKafka(Broker):
    name = "kafka"
    outage_kind = "stopped and started again, data kept on disk"

    def __init__(self) -> None:
        self._state = Path(tempfile.mkdtemp(prefix="handoff-kafka-"))
        self._broker = kafka.KafkaBroker(self._state, heap_mb=512)
        self._broker.prepare()
        self.bootstrap = self._broker.bootstrap

    def start(self) -> None:
        self._broker.start(die_with_parent=True)

    def stop(self) -> None:
        self._broker.stop()
        shutil.rmtree(self._state, ignore_errors=True)

    @contextmanager
    def outage(self) -> Iterator[None]:
        self._broker.stop()
        try:
            yield
        finally:
            self._broker.start(die_with_parent=True)


def broker_from_environment() -> Broker:
    bootstrap = os.environ.get("HANDOFF_TEST_KAFKA_BOOTSTRAP")
    if bootstrap:
        return ExternalKafka(bootstrap, os.environ.get("HANDOFF_TEST_KAFKA_CONTROL"))
    if os.environ.get("HANDOFF_TEST_BROKER", "tansu") == "kafka":
        return LocalKafka()
    return EmbeddedTansu()


async def delete_topics(bootstrap: str, names: list[str]) -> None:
    """Delete a test's topics, as far as the broker lets it (one stopped by an outage test may
    not be back yet): what is left is only a broker holding more than it needs."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.delete_topics(names, timeout_ms=5000)
    except KafkaError as error:
        warnings.warn(f"topics not deleted: {error!r}", stacklevel=1)
    finally:
        await admin.close()
