"""The stack tests' helpers: `handoff up` in its own home, until every service is ready, and the
processes it started.

Whatever a test asserts, its cleanup kills every process the stack started, so a failure never
leaves a stack running.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from handoff.embedded import port_is_free

SERVICES = ("capture", "scoring", "routing", "feedback")
CLI = Path(sys.executable).with_name("handoff")


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


@dataclass
class RunningStack:
    up: subprocess.Popen[str]
    home: Path
    state: dict = field(default_factory=dict)
    children: list[psutil.Process] = field(default_factory=list)  # services and the broker

    @property
    def state_file(self) -> Path:
        return self.home / "stack.json"

    @property
    def postmaster_file(self) -> Path:
        return self.home / "pgdata" / "postmaster.pid"

    def postmaster(self) -> psutil.Process | None:
        """PostgreSQL daemonises, so it is not among the children: found by its pid file."""
        with suppress(FileNotFoundError, ValueError, psutil.NoSuchProcess):
            return psutil.Process(int(self.postmaster_file.read_text().splitlines()[0]))
        return None


@contextmanager
def handoff_up(tmp_path: Path) -> Iterator[RunningStack]:
    """`handoff up --broker tansu` in its own home, until every service is ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    env["HANDOFF_HOME"] = str(tmp_path / "home")
    up = subprocess.Popen(
        [str(CLI), "up", "--broker", "tansu", "--first-port", str(free_port_block(4))],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = RunningStack(up, tmp_path / "home")
    try:
        wait_until(
            lambda: stack.state_file.exists() or up.poll() is not None,
            90,
            "stack.json (all services ready)",
        )
        if not stack.state_file.exists():
            raise AssertionError(f"handoff up ended early:\n{up.communicate(timeout=5)[0]}")
        stack.state = json.loads(stack.state_file.read_text())
        stack.children = descendants(up.pid)
        yield stack
    finally:
        kill_everything(stack)


def kill_everything(stack: RunningStack) -> None:
    """Cleanup that cannot leave anything running, whatever state the test left it in."""
    with suppress(psutil.NoSuchProcess):
        stack.children += descendants(stack.up.pid)
    if (postmaster := stack.postmaster()) is not None:
        stack.children.append(postmaster)
    if stack.up.poll() is None:
        stack.up.kill()
    with suppress(subprocess.TimeoutExpired):
        stack.up.communicate(timeout=10)
    for process in alive(stack.children):
        with suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(stack.children, timeout=5)
