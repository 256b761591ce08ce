"""handoff/kafka.py: a real Apache Kafka fetched, formatted, started, stopped and started again
with its data; its command-line tools; its heap bound; and the choice `handoff up` makes."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from handoff import kafka
from handoff.brokers import choose_broker

pytestmark = pytest.mark.skipif(
    kafka.unavailable_reason() is not None,
    reason=f"Apache Kafka cannot run here: {kafka.unavailable_reason()}",
)


@pytest.fixture(scope="module")
def running_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kafka.KafkaBroker]:
    broker = kafka.KafkaBroker(tmp_path_factory.mktemp("kafka") / "state")
    broker.prepare()
    broker.start(die_with_parent=True)
    yield broker
    broker.stop()


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    [future] = admin.create_topics([NewTopic(name, partitions, 1)]).values()
    future.result(timeout=30)


def produce(bootstrap: str, topic: str, *values: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(topic, value, key=b"k")
    assert producer.flush(30) == 0


def consume(
    bootstrap: str, topic: str, group: str, count: int, timeout_s: float = 20
) -> list[bytes | None]:
    """Up to `count` values read by `group` (committed), polling until `timeout_s`."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    values: list[bytes | None] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                values.append(message.value())
                consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()
    return values


def committed(bootstrap: str, topic: str, group: str, timeout_s: float = 20) -> int:
    """The group's committed offset, once the coordinator has loaded the offsets (right after a
    start it answers NOT_COORDINATOR for a moment)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                [partition] = consumer.committed([TopicPartition(topic, 0)], timeout=5)
                return int(partition.offset)
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()


def test_topics_records_and_group_offsets_survive_a_stop_and_start(tmp_path: Path) -> None:
    broker = kafka.KafkaBroker(tmp_path / "state")
    broker.prepare()
    bootstrap = broker.start()
    try:
        create_topic(bootstrap, "kept")
        produce(bootstrap, "kept", b"one", b"two")
        assert consume(bootstrap, "kept", "crm", 1) == [b"one"]
        assert broker.stop() < 10
        assert broker.pid() is None
        broker.prepare()  # as the next `handoff up` does: config rewritten, storage kept
        assert broker.start() == bootstrap, "the same port again while it is free"
        assert committed(bootstrap, "kept", "crm") == 1
        assert consume(bootstrap, "kept", "crm", 1) == [b"two"], "resumes after its commit"
        assert consume(bootstrap, "kept", "ops", 2) == [b"one", b"two"]
    finally:
        broker.stop()


def test_the_heap_is_bounded(running_broker: kafka.KafkaBroker) -> None:
    pid = running_broker.pid()
    assert pid is not None
    assert "-Xmx256m" in psutil.Process(pid).cmdline()


def test_the_broker_is_let_open_as_many_files_as_the_machine_allows() -> None:
    """The test tier's cluster holds tens of thousands of partitions, an open file each; a
    common soft limit is 1,024. What the broker's process runs before Kafka starts raises it
    to `OPEN_FILES`, or as far as the hard limit goes where that cannot be raised."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    show = (
        "import resource; from handoff.kafka import in_broker_process; in_broker_process(False);"
        " print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    child = subprocess.run(
        [sys.executable, "-c", show],
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard)),
        capture_output=True,
        text=True,
        check=True,
    )
    allowed = {kafka.OPEN_FILES} if hard >= kafka.OPEN_FILES else {kafka.OPEN_FILES, hard}
    assert int(child.stdout) in allowed


def run_tool(tool: str, *args: str) -> str:
    result = subprocess.run(
        kafka.tool_command(tool, args), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_tools_list_topics_and_show_a_groups_lag(running_broker: kafka.KafkaBroker) -> None:
    bootstrap = running_broker.bootstrap
    topic = f"tools-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic)
    produce(bootstrap, topic, b"a", b"b", b"c")
    assert consume(bootstrap, topic, "lagging", 1) == [b"a"]

    assert topic in run_tool("topics", "--bootstrap-server", bootstrap, "--list").split()
    described = run_tool(
        "consumer-groups", "--bootstrap-server", bootstrap, "--describe", "--group", "lagging"
    )
    [row] = [line.split() for line in described.splitlines() if line.startswith("lagging ")]
    # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
    assert row[1:6] == [topic, "0", "1", "3", "2"]
    printed = run_tool(
        "console-consumer",
        *("--bootstrap-server", bootstrap, "--topic", topic, "--from-beginning"),
        *("--max-messages", "3", "--timeout-ms", "20000"),
    )
    assert printed.split() == ["a", "b", "c"]


def test_a_broker_started_to_die_with_its_parent_stops_cleanly_when_it_is_killed(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from handoff.kafka import KafkaBroker; "
            "b = KafkaBroker(Path(sys.argv[1])); b.prepare(); b.start(die_with_parent=True); "
            "print(b.pid(), flush=True); time.sleep(120)",
            str(state),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        broker = psutil.Process(int(parent.stdout.readline()))  # type: ignore[union-attr]
    finally:
        parent.kill()
        parent.wait()
    broker.wait(timeout=20)
    server_log = (state / "logs" / "server.log").read_text()
    assert "shut down completed" in server_log, "SIGTERM: a controlled shutdown, not a kill"


def test_auto_picks_kafka_here_and_tansu_without_java(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert choose_broker("auto") == ("kafka", "")
    assert choose_broker("tansu") == ("tansu", "")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java, no mvn
    kind, reason = choose_broker("auto")
    assert kind == "tansu" and "java not found" in reason
    with pytest.raises(kafka.BrokerError, match="--broker kafka: java not found"):
        choose_broker("kafka")


def test_without_maven_only_cached_jars_will_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    java = shutil.which("java")
    assert java is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(java)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("HANDOFF_KAFKA_CACHE", str(tmp_path / "empty-cache"))
    assert kafka.unavailable_reason() == "mvn not found and the Kafka jars are not cached"
    with pytest.raises(kafka.BrokerError, match="mvn not found"):
        kafka.fetch()
    assert not (tmp_path / "empty-cache" / kafka.VERSION / "complete").exists()


def test_fetch_copies_the_broker_and_the_tools_once(tmp_path: Path) -> None:
    os.environ["HANDOFF_KAFKA_CACHE"] = str(tmp_path / "cache")
    try:
        libs = kafka.fetch()
        jars = {jar.name for jar in libs.glob("*.jar")}
        assert {f"kafka_2.13-{kafka.VERSION}.jar", f"kafka-tools-{kafka.VERSION}.jar"} <= jars
        assert kafka.cached_libs() == libs
        started = time.monotonic()
        assert kafka.fetch() == libs
        assert time.monotonic() - started < 0.1, "cached: Maven is not run again"
    finally:
        del os.environ["HANDOFF_KAFKA_CACHE"]
