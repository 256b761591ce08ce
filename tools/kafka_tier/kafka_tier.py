#!/usr/bin/env python3
"""Run a command against a real single-node Apache Kafka (KRaft) broker on 127.0.0.1.

    kafka_tier.py fetch                          resolve the pinned broker jars into .cache/kafka
    kafka_tier.py run [--partitions N] -- CMD... start a fresh broker, run CMD, always stop it
    kafka_tier.py control --state DIR start|stop|status

`run` gives CMD HANDOFF_TEST_KAFKA_BOOTSTRAP (host:port) and HANDOFF_TEST_KAFKA_CONTROL (a
command prefix: `$HANDOFF_TEST_KAFKA_CONTROL stop` / `start` stop the broker and start it again
on the same port with the same data). Needs the project's venv (aiokafka), whose python then
also runs `control`; see README.md beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
POM = HERE / "pom.xml"
LOG4J_CONFIG = HERE / "log4j2.properties"
CACHE = ROOT / ".cache" / "kafka"

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
PROBE_TIMEOUT = 2.0
MIN_JAVA = 17


class TierError(Exception):
    """A failure to report in one message, without a traceback."""


def say(message: str) -> None:
    print(f"kafka-tier: {message}", file=sys.stderr, flush=True)


# --- fetch -----------------------------------------------------------------------------------


def kafka_version() -> str:
    override = os.environ.get("KAFKA_TIER_VERSION")
    if override:
        return override
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not (node.text or "").strip():
        raise TierError(f"no <kafka.version> property in {POM}")
    return node.text.strip()


def fetch(version: str) -> Path:
    """The folder of broker jars for `version`, copied there by Maven unless already complete."""
    home = CACHE / version
    libs, marker = home / "libs", home / "complete"
    if marker.is_file() and libs.is_dir():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise TierError("mvn not found: Maven (with access to Maven Central) is needed once")
    home.mkdir(parents=True, exist_ok=True)
    # Copy into a private folder and rename it, so an interrupted copy never looks complete.
    partial = home / f"libs.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    command = [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-Dkafka.version={version}",
        f"-Dkafka.libs.dir={partial}",
    ]
    try:
        # Maven's stdout is only noise with -q (colour codes) unless it fails.
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
            raise TierError(
                f"maven could not resolve org.apache.kafka:kafka_2.13:{version}:\n{output[-4000:]}"
            )
        if not list(partial.glob(f"kafka_2.13-{version}.jar")):
            raise TierError(f"maven copied no kafka_2.13-{version}.jar into {partial}")
        shutil.rmtree(libs, ignore_errors=True)
        partial.rename(libs)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        if not libs.is_dir():
            shutil.rmtree(home, ignore_errors=True)
    jars = len(list(libs.glob("*.jar")))
    marker.write_text(f"{jars} jars, copied {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    return libs


def cmd_fetch(_args: argparse.Namespace) -> int:
    version = kafka_version()
    started = time.monotonic()
    libs = fetch(version)
    say(f"kafka {version}: {libs} ready in {time.monotonic() - started:.2f} s")
    return 0


# --- java and the broker's state folder ------------------------------------------------------


def java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home, "bin", "java")) if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise TierError(f"java not found: Java {MIN_JAVA}+ is needed")
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    quoted = out.split('"')[1] if out.count('"') >= 2 else ""
    parts = quoted.split(".")
    major = int(parts[1] if parts[0] == "1" else parts[0]) if parts[0].isdigit() else 0
    if major < MIN_JAVA:
        raise TierError(f"{java} is Java {quoted or '?'}; the broker needs Java {MIN_JAVA}+")
    return java


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def server_properties(state: Path, port: int, controller_port: int, partitions: int) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": 1,
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": state / "data",
        "num.partitions": partitions,
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        "group.min.session.timeout.ms": 1000,
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def java_command(java: str, libs: Path, state: Path, main_class: str, *args: str) -> list[str]:
    return [
        java,
        "-Xmx512m",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        f"-Dkafka.logs.dir={state / 'logs'}",
        "-cp",
        f"{libs}{os.sep}*",
        main_class,
        *args,
    ]


def random_cluster_id() -> str:
    """Like `kafka-storage random-uuid`: never starting with "-", which would read as a flag."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def prepare_state(state: Path, libs: Path, partitions: int) -> None:
    """Write server.properties and broker.json into `state` and format its storage."""
    java = java_binary()
    port, controller_port = free_ports(2)
    (state / "logs").mkdir(parents=True)
    config = state / "server.properties"
    config.write_text(server_properties(state, port, controller_port, partitions))
    cluster_id = random_cluster_id()
    # Static voters (controller.quorum.voters) as in docker-compose.yml, so no --standalone.
    fmt = java_command(
        java,
        libs,
        state,
        "kafka.tools.StorageTool",
        "format",
        "--config",
        str(config),
        "--cluster-id",
        cluster_id,
    )
    result = subprocess.run(fmt, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise TierError(f"formatting the storage failed:\n{result.stdout}{result.stderr}")
    spec = {
        "argv": java_command(java, libs, state, "kafka.Kafka", str(config)),
        "bootstrap": f"127.0.0.1:{port}",
    }
    (state / "broker.json").write_text(json.dumps(spec, indent=2))


def bootstrap_of(state: Path) -> str:
    return json.loads((state / "broker.json").read_text())["bootstrap"]


def log_tail(state: Path, lines: int = 25) -> str:
    """The broker's console output, its last ERROR/FATAL lines and the end of its log."""
    parts = []
    out = state / "broker.out"
    if out.is_file() and out.stat().st_size:
        text = out.read_text(errors="replace").splitlines()
        parts.append(f"--- {out} ---\n" + "\n".join(text[-lines:]))
    log = state / "logs" / "server.log"
    if log.is_file():
        text = log.read_text(errors="replace").splitlines()
        errors = [line for line in text if "] ERROR " in line or "] FATAL " in line]
        if errors:
            parts.append(f"--- errors in {log} ---\n" + "\n".join(errors[-10:]))
        parts.append(f"--- last lines of {log} ---\n" + "\n".join(text[-lines:]))
    return "\n".join(parts) or f"(no broker output in {state})"


# --- readiness: a real Kafka exchange, not just a TCP connect --------------------------------


async def listed_brokers(bootstrap: str) -> list[tuple[int, str, int]]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="kafka-tier",
        request_timeout_ms=int(PROBE_TIMEOUT * 1000),
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    return [(broker["node_id"], broker["host"], broker["port"]) for broker in cluster["brokers"]]


def probe(bootstrap: str) -> None:
    """Raise unless the broker answers a client and lists itself (node 1) in the cluster.

    A KRaft broker only opens its listener for requests once it is unfenced, so an answer here
    means clients can use it.
    """
    host, port = bootstrap.rsplit(":", 1)
    # SIGINT/SIGTERM wait until the probe is over: on_signal raises Interrupted, which asyncio
    # would log and drop if it came in the middle of an event-loop callback.
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        brokers = asyncio.run(asyncio.wait_for(listed_brokers(bootstrap), PROBE_TIMEOUT))
    except TimeoutError:
        raise TimeoutError(f"no answer within {PROBE_TIMEOUT:.0f} s") from None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    if (1, host, int(port)) not in brokers:
        raise ConnectionError(f"the cluster lists brokers {brokers}, not 1@{bootstrap}")


# --- the broker process ----------------------------------------------------------------------


def alive(pid: int) -> bool:
    try:  # reap it if it is our child, so a finished broker does not linger as a zombie
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not finished_zombie(pid)


def finished_zombie(pid: int) -> bool:
    """True for a dead process that its parent (not us) has not reaped yet.

    The JVM's main thread exits early in a shutdown, which shows the process as a zombie
    ("Z") while its other threads still run: so require that no thread is left.
    """
    try:
        status = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if ":" in line
        )
    except OSError:
        return False
    zombie = status.get("State", "").strip().startswith("Z")
    return zombie and status.get("Threads", "").strip() in ("0", "1")


def broker_pid(state: Path) -> int | None:
    """The pid of this state folder's broker if it runs (checked against its command line)."""
    try:
        pid = int((state / "broker.pid").read_text())
    except (OSError, ValueError):
        return None
    if not alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return pid  # no /proc (not Linux): trust the pid file
    return pid if str(state) in cmdline else None


def wait_ready(state: Path, pid: int, timeout: float = START_TIMEOUT) -> None:
    bootstrap = bootstrap_of(state)
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not alive(pid):
            raise TierError(f"the broker exited during start-up\n{log_tail(state)}")
        try:
            probe(bootstrap)
            return
        except (OSError, KafkaError) as error:
            last_error = error
        time.sleep(0.1)
    raise TierError(
        f"the broker did not answer on {bootstrap} within {timeout:.0f} s "
        f"(last: {last_error})\n{log_tail(state)}"
    )


def start_broker(state: Path) -> float:
    """Start the broker of `state` (unless it runs) and wait until it serves; return seconds."""
    started = time.monotonic()
    pid = broker_pid(state)
    if pid is None:
        argv = json.loads((state / "broker.json").read_text())["argv"]
        with open(state / "broker.out", "ab") as out:
            # Its own session: a Ctrl-C in the terminal reaches CMD, not the broker, which we
            # stop ourselves; and stop_broker can signal the whole process group.
            pid = subprocess.Popen(
                argv,
                cwd=state,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            ).pid
        (state / "broker.pid").write_text(f"{pid}\n")
    try:
        wait_ready(state, pid)
    except BaseException:
        stop_broker(state)
        raise
    return time.monotonic() - started


def signal_group(pid: int, signum: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_broker(state: Path) -> float:
    """SIGTERM (a clean, controlled shutdown), then SIGKILL after STOP_TIMEOUT; return seconds."""
    started = time.monotonic()
    pid = broker_pid(state)
    if pid is not None:
        signal_group(pid, signal.SIGTERM)
        if not wait_gone(pid, STOP_TIMEOUT):
            say(f"broker {pid} still running {STOP_TIMEOUT:.0f} s after SIGTERM: SIGKILL")
            signal_group(pid, signal.SIGKILL)
            wait_gone(pid, 5.0)
    (state / "broker.pid").unlink(missing_ok=True)
    return time.monotonic() - started


# --- run -------------------------------------------------------------------------------------


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_command: subprocess.Popen | None = None


def in_terminal_foreground() -> bool:
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError):
        return False


def on_signal(signum: int, _frame: object) -> None:
    if _command is None or _command.poll() is not None:
        raise Interrupted(signum)
    # A Ctrl-C typed in the terminal already reached CMD (same foreground process group);
    # sending it again would interrupt CMD's own clean-up.
    if signum == signal.SIGINT and in_terminal_foreground():
        return
    _command.send_signal(signum)


def run_command(command: list[str], env: dict[str, str]) -> int:
    global _command
    try:
        _command = subprocess.Popen(command, env=env)
    except OSError as error:
        raise TierError(f"cannot run {shlex.join(command)}: {error}") from None
    code = _command.wait()
    return 128 - code if code < 0 else code


def control_prefix(state: Path) -> str:
    script = str(Path(__file__).resolve())
    return shlex.join([sys.executable, script, "control", "--state", str(state)])


def remove_stale_runs() -> None:
    """Stop brokers and delete state folders left by launchers that were killed with SIGKILL."""
    for state in CACHE.glob("run-*"):
        launcher = state.name.removeprefix("run-")
        if launcher.isdigit() and not alive(int(launcher)):
            stop_broker(state)
            shutil.rmtree(state, ignore_errors=True)


def cmd_run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise TierError("nothing to run: kafka_tier.py run -- CMD [ARGS...]")
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    state = CACHE / f"run-{os.getpid()}"
    try:
        libs = fetch(kafka_version())
        remove_stale_runs()
        prepare_state(state, libs, args.partitions)
        seconds = start_broker(state)
        bootstrap = bootstrap_of(state)
        say(f"kafka {kafka_version()} ready on {bootstrap} in {seconds:.2f} s (state {state})")
        env = dict(
            os.environ,
            HANDOFF_TEST_KAFKA_BOOTSTRAP=bootstrap,
            HANDOFF_TEST_KAFKA_CONTROL=control_prefix(state),
        )
        return run_command(command, env)
    except Interrupted as stop:
        say(f"{stop} before the command started")
        return 128 + stop.signum
    finally:
        cleanup(state)


def cleanup(state: Path) -> None:
    # Clean-up is short and bounded; a second Ctrl-C must not leave the broker behind.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    if _command is not None and _command.poll() is None:
        _command.kill()
        _command.wait()
    if state.exists():
        running = broker_pid(state) is not None
        seconds = stop_broker(state)
        shutil.rmtree(state, ignore_errors=True)
        say(f"broker stopped in {seconds:.2f} s, " * running + f"{state.name} removed")
    reap_children()


def reap_children() -> None:
    """Collect the first broker if `control stop` (another process) ended it: no zombie left."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


# --- control ---------------------------------------------------------------------------------


def cmd_control(args: argparse.Namespace) -> int:
    state = Path(args.state).resolve()
    if not (state / "broker.json").is_file():
        raise TierError(f"{state} is not a kafka-tier state folder")
    bootstrap = bootstrap_of(state)
    if args.action == "stop":
        say(f"broker on {bootstrap} stopped in {stop_broker(state):.2f} s")
    elif args.action == "start":
        say(f"broker on {bootstrap} ready in {start_broker(state):.2f} s")
    else:
        pid = broker_pid(state)
        try:
            probe(bootstrap)
        except (OSError, KafkaError) as error:
            print(f"not serving on {bootstrap} (pid {pid}): {error}")
            return 3
        print(f"serving on {bootstrap} (pid {pid})")
    return 0


# --- command line ----------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="name", required=True)
    commands.add_parser("fetch", help="resolve the broker jars into .cache/kafka")
    run = commands.add_parser("run", help="run CMD against a fresh broker")
    run.add_argument(
        "--partitions",
        type=int,
        default=1,
        help="the broker's num.partitions (default partitions of a new topic)",
    )
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    control = commands.add_parser("control", help="stop/start/status of a running tier's broker")
    control.add_argument("--state", required=True, help="the run's state folder")
    control.add_argument("action", choices=["start", "stop", "status"])
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # Probes fail while the broker starts; wait_ready reports the last failure if it matters.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    handler = {"fetch": cmd_fetch, "run": cmd_run, "control": cmd_control}[args.name]
    try:
        return handler(args)
    except TierError as error:
        say(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
