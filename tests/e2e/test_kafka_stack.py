"""`handoff up` on Apache Kafka, as an ops or CRM team uses it: kcat reads a form's lead, and
after a stop and a start the lead, the topics and the consumer groups' offsets are all still
there, so nothing is handled twice. And `--broker tansu` still runs, with its limits printed."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from aiokafka import ConsumerRecord
from confluent_kafka import Consumer, TopicPartition

from handoff import kafka
from handoff.embedded import terminate_with_parent
from tests.e2e.stack_helpers import alive, descendants, free_port_block, wait_until
from tests.helpers import reading

SERVICES = ("capture", "scoring", "routing", "feedback")
CLI = Path(sys.executable).with_name("handoff")


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    env["HANDOFF_HOME"] = str(tmp_path / "home")
    return env


@pytest.fixture
def kcat() -> str:
    found = shutil.which("kcat")
    if found is None:
        if os.environ.get("HANDOFF_REQUIRE_KCAT"):
            pytest.fail("kcat is required (HANDOFF_REQUIRE_KCAT): apt-get install -y kcat")
        pytest.skip("kcat is not installed (apt-get install -y kcat)")
    return found


class Up:
    """One `handoff up` run: started, waited for, stopped with Ctrl-C."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.state_file = Path(env["HANDOFF_HOME"]) / "stack.json"
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(CLI), "up", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # If pytest dies (a timeout, a kill), the stack stops instead of running on.
            preexec_fn=terminate_with_parent,
        )
        try:
            wait_until(
                lambda: self.state_file.exists() or self.process.poll() is not None,
                90,
                "stack.json (all services ready)",
            )
            assert self.state_file.exists()
        except AssertionError:
            self.process.send_signal(signal.SIGTERM)
            raise AssertionError(self.process.communicate(timeout=15)[0]) from None
        self.ready_s = time.monotonic() - started
        self.state = json.loads(self.state_file.read_text())
        self.children = descendants(self.process.pid)

    def stop(self) -> tuple[float, str]:
        stopping = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        output, _ = self.process.communicate(timeout=20)
        seconds = time.monotonic() - stopping
        assert self.process.returncode == 0, output
        _, left = psutil.wait_procs(alive(self.children), timeout=2)
        assert not left, f"left behind: {[p.cmdline() for p in left]}"
        return seconds, output


def post_demo_form(capture: str, email: str) -> str:
    answer = httpx.post(
        f"{capture}/v1/forms/demo/submissions",
        data={"email": email, "first_name": "Ada", "consent": "on"},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["lead_id"])


def kcat_reads(kcat: str, bootstrap: str, topic: str) -> str:
    """The issue's command: prints the topic from the beginning and exits (-e)."""
    result = subprocess.run(
        [kcat, "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def crm_read_and_commit(bootstrap: str, topic: str, group: str, timeout_s: float = 30) -> int:
    """What a CRM team's consumer does: read what is there, commit; returns how many."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest"}
    )
    read = 0
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        # Until assigned and at the end of every partition (a "quiet for a second" rule read
        # nothing once, on a loaded machine, before the first fetch had come back).
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                read += 1
                consumer.commit(message=message, asynchronous=False)
            elif (assigned := consumer.assignment()) and at_the_end(consumer, assigned):
                break
    finally:
        consumer.close()
    return read


def at_the_end(consumer: Consumer, assigned: list[TopicPartition]) -> bool:
    """Every assigned partition's position is known and at its high watermark."""
    for position in consumer.position(assigned):
        if position.offset < 0:  # not fetched yet (and nothing committed to start from)
            return False
        _, high = consumer.get_watermark_offsets(position, timeout=5, cached=False)
        if position.offset < high:
            return False
    return True


def committed_offsets(bootstrap: str, topic: str, group: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        partitions = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
        deadline = time.monotonic() + 20
        while True:  # right after a start the coordinator may still load the offsets
            try:
                return [p.offset for p in consumer.committed(partitions, timeout=5)]
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()


def duplicates_consumed(services: dict[str, str]) -> dict[str, float]:
    """Records each service consumed again (its inbox already had their event id)."""
    found = {}
    for name, url in services.items():
        for line in httpx.get(f"{url}/metrics").text.splitlines():
            if line.startswith("handoff_events_consumed_total{") and 'outcome="duplicate"' in line:
                found[f"{name} {line.split('{')[1].split('}')[0]}"] = float(line.rsplit()[-1])
    return {key: count for key, count in found.items() if count}


def group_lag(env: dict[str, str]) -> list[list[str]]:
    """`handoff kafka consumer-groups --describe --all-groups`, one row per partition."""
    result = subprocess.run(
        [str(CLI), "kafka", "consumer-groups", "--describe", "--all-groups"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    return [row for row in rows if len(row) >= 6 and row[0] != "GROUP"]


def caught_up(row: list[str]) -> bool:
    """GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...: the group has committed the
    partition's end, or nothing was ever written there ("-": no offset committed)."""
    current, end = row[3], row[4]
    return current == end or (current == "-" and end == "0")


@pytest.mark.skipif(kafka.unavailable_reason() is not None, reason="Apache Kafka cannot run here")
def test_make_run_on_kafka_keeps_leads_and_offsets_across_a_restart(
    stack_env: dict[str, str], tmp_path: Path, kcat: str
) -> None:
    first_port = str(free_port_block(len(SERVICES)))
    up = Up(stack_env, "--broker", "kafka", "--first-port", first_port)
    try:
        broker = up.state["broker"]
        assert (broker["kind"], broker["version"], broker["persistent"]) == (
            "kafka",
            kafka.VERSION,
            True,
        )
        assert broker["data"] == str(tmp_path / "home" / "kafka" / "data")
        bootstrap = up.state["kafka_bootstrap"]
        kafka_pid = kafka.KafkaBroker(tmp_path / "home" / "kafka").pid()
        assert kafka_pid in [p.pid for p in up.children], "Kafka is the stack's child"
        assert "-Xmx256m" in psutil.Process(kafka_pid).cmdline()
        lead_id = post_demo_form(up.state["services"]["capture"], "ada@example.com")
        wait_until(
            lambda: lead_id in kcat_reads(kcat, bootstrap, "lead.captured.v1"),
            20,
            "kcat to print the lead",
        )
        assert crm_read_and_commit(bootstrap, "lead.captured.v1", "crm") == 1
    finally:
        stop_s, _ = up.stop()
    assert stop_s < 10, f"stopped in {stop_s:.1f} s"
    assert not psutil.pid_exists(kafka_pid) or not alive([psutil.Process(kafka_pid)])

    again = Up(stack_env, "--broker", "kafka", "--first-port", first_port)
    try:
        print(f"first start {up.ready_s:.1f} s, stop {stop_s:.1f} s, second {again.ready_s:.1f} s")
        assert again.ready_s < 60
        # 9092 again if still free; another stack on this machine may have taken it meanwhile.
        bootstrap = again.state["kafka_bootstrap"]
        [record] = kcat_reads(kcat, bootstrap, "lead.captured.v1").splitlines()
        event = json.loads(record)
        assert (event["event_type"], event["lead_id"]) == ("lead.captured", lead_id)
        committed = committed_offsets(bootstrap, "lead.captured.v1", "crm")
        assert [offset for offset in committed if offset >= 0] == [1], committed
        assert crm_read_and_commit(bootstrap, "lead.captured.v1", "crm") == 0, "offset kept"
        # The services' groups are back on their committed offsets: no lag, no redelivery.
        rows = wait_until(
            lambda: (rows := group_lag(stack_env)) and all(map(caught_up, rows)) and rows,
            30,
            "every consumer group caught up",
        )
        kept = {(row[0], row[1]) for row in rows if row[3] not in ("-", "0")}
        assert ("crm", "lead.captured.v1") in kept
        assert any(group.startswith("handoff-") for group, _ in kept), (
            "a service's group (scoring reads lead.captured.v1) kept its offset"
        )
        assert duplicates_consumed(again.state["services"]) == {}
    finally:
        again.stop()


def status_all_up(env: dict[str, str]) -> subprocess.CompletedProcess[str] | None:
    """`handoff status` when it reports every part up (each check has 1-2 s: a busy machine
    may need a second try)."""
    answer = subprocess.run([str(CLI), "status"], env=env, capture_output=True, text=True)
    return answer if answer.returncode == 0 else None


async def records_on(bootstrap: str, topic: str, count: int) -> list[ConsumerRecord]:
    """The records, read with aiokafka (Debian's kcat cannot connect to Tansu)."""
    async with reading(bootstrap, topic) as reader:
        return await reader.wait_for_count(count, timeout_s=30)


def test_tansu_still_runs_with_its_limits_printed(stack_env: dict[str, str]) -> None:
    first_port = str(free_port_block(len(SERVICES)))
    up = Up(stack_env, "--broker", "tansu", "--first-port", first_port)
    try:
        assert up.state["broker"] == {"kind": "tansu", "version": "0.6.0", "persistent": False}
        lead_id = post_demo_form(up.state["services"]["capture"], "tansu@example.com")
        [record] = asyncio.run(records_on(up.state["kafka_bootstrap"], "lead.captured.v1", 1))
        assert json.loads(record.value)["lead_id"] == lead_id
        status = wait_until(lambda: status_all_up(stack_env), 60, "handoff status: all up")
        assert re.search(r"broker \(tansu\)\s+│ up", status.stdout), status.stdout
    finally:
        _, output = up.stop()
    warning = " ".join(output.split())
    assert "warning: the broker is Tansu" in warning
    assert "in memory" in warning and "kcat" in warning
    assert lead_id
