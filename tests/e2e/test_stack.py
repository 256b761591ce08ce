"""`handoff up`: the embedded stack starts, answers, and stops cleanly with nothing left behind,
however often it is told to stop and even when it is killed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from handoff.embedded import port_is_free

SERVICES = ("capture", "scoring", "routing", "feedback")


def wait_until(condition, timeout_s: float, message: str):
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {message}")
        time.sleep(0.1)
    return result


def free_port_block(size: int) -> int:
    """The first of `size` consecutive free ports, below the kernel's ephemeral range so that no
    client connection made meanwhile takes one of them."""
    for _ in range(200):
        first = random.randrange(20000, 32000 - size)
        if all(port_is_free(port) for port in range(first, first + size)):
            return first
    raise RuntimeError(f"no {size} consecutive free ports between 20000 and 32000")


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running; a zombie has died and only waits for init to reap it."""
    running = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            pass
    return running


def service_process(processes: list[psutil.Process], name: str) -> psutil.Process:
    [process] = [p for p in processes if f"services.{name}.app:create_app" in p.cmdline()]
    return process


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    env["HANDOFF_HOME"] = str(tmp_path / "home")
    return env


def test_handoff_up_starts_every_service_and_repeated_signals_stop_all_of_it(stack_env, tmp_path):
    first_port = free_port_block(len(SERVICES))
    cli = Path(sys.executable).with_name("handoff")
    started = time.monotonic()
    up = subprocess.Popen(
        [str(cli), "up", "--first-port", str(first_port)],
        env=stack_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    children: list[psutil.Process] = []
    capture: psutil.Process | None = None
    try:
        state_file = tmp_path / "home" / "stack.json"
        try:
            wait_until(
                lambda: state_file.exists() or up.poll() is not None,
                60,
                "stack.json (all services ready)",
            )
            assert state_file.exists()
        except AssertionError:
            up.send_signal(signal.SIGTERM)
            raise AssertionError(up.communicate(timeout=15)[0]) from None
        state = json.loads(state_file.read_text())
        assert set(state["services"]) == set(SERVICES)
        for name, url in state["services"].items():
            assert httpx.get(f"{url}/readyz").status_code == 200, name
            assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
            assert "handoff_" in httpx.get(f"{url}/metrics").text
            assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == f"Handoff {name}"
        assert state["kafka_bootstrap"].startswith("127.0.0.1:")
        assert "pgdata" in state["database_url"]
        assert state["admin_key"].startswith("hk_")
        demo_page = httpx.get(state["demo_form"])
        assert demo_page.status_code == 200 and 'name="consent"' in demo_page.text
        created = subprocess.run(
            [str(cli), "keys", "create", "--role", "marketing"],
            env=stack_env,
            capture_output=True,
            text=True,
            check=True,
        )
        marketing_key = created.stdout.strip().splitlines()[-1]
        lead = httpx.post(
            f"{state['services']['capture']}/v1/leads",
            json={"email": "stack@example.com"},
            headers={"Authorization": f"Bearer {marketing_key}"},
        )
        assert lead.status_code == 202, lead.text
        postmaster = tmp_path / "home" / "pgdata" / "postmaster.pid"
        # PostgreSQL daemonises, so it is not among the children: find it by its pid file.
        children = [
            *descendants(up.pid),
            psutil.Process(int(postmaster.read_text().splitlines()[0])),
        ]
        assert len(children) >= 6, "four services, a broker and PostgreSQL"
        capture = service_process(children, "capture")
        print(f"ready in {time.monotonic() - started:.1f}s")
    finally:
        stopping = time.monotonic()
        up.send_signal(signal.SIGINT)
        # Ctrl-C again, then SIGTERM, while stopping: capture is down, the rest not yet.
        if capture is not None:
            wait_until(lambda: not alive([capture]), 10, "capture to stop first")
            up.send_signal(signal.SIGINT)
            up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=15)
    assert time.monotonic() - stopping < 10, "stops within 10 s"
    assert up.returncode == 0, output
    gone, left = psutil.wait_procs(children, timeout=2)
    assert not left, f"left behind: {[p.cmdline() for p in left]}"
    assert not state_file.exists()
    assert not postmaster.exists()


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
    try:
        broker = psutil.Process(int(parent.stdout.readline()))
        assert alive([broker])
    finally:
        parent.kill()
        parent.wait()
    wait_until(lambda: not alive([broker]), 5, "the broker to die with its parent")
