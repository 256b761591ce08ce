"""Killing `handoff up`, or the broker's parent, leaves no service or broker running."""

from __future__ import annotations

import select
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.e2e.stack_helpers import SERVICES, alive, handoff_up, service_process, wait_until


def test_killing_handoff_up_takes_its_services_and_broker_with_it(tmp_path: Path):
    with handoff_up(tmp_path) as stack:
        children = list(stack.children)
        assert {p.pid for p in children} >= {
            service_process(children, name).pid for name in SERVICES
        }
        assert len(children) >= 5, "four services and a broker"
        stack.up.kill()
        stack.up.wait(timeout=10)
        wait_until(
            lambda: not alive(children),
            10,
            f"the services and the broker to die with handoff up: {alive(children)}",
        )


def test_the_broker_dies_with_the_process_that_started_it():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from handoff.embedded import EmbeddedBroker; "
            "broker = EmbeddedBroker(); broker.start(); print(broker.pid, flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    broker = None
    try:
        assert parent.stdout is not None
        readable, _, _ = select.select([parent.stdout], [], [], 30)
        assert readable, "the parent never printed the broker's pid"
        broker = psutil.Process(int(parent.stdout.readline()))
        assert alive([broker])
    finally:
        parent.kill()
        parent.wait()
    if broker is None:
        pytest.fail("no broker started")
    wait_until(lambda: not alive([broker]), 5, "the broker to die with its parent")
