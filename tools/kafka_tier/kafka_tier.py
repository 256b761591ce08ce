#!/usr/bin/env python3
"""Run a command against a real single-node Apache Kafka (KRaft) broker on 127.0.0.1.

    kafka_tier.py fetch                          fetch the pinned Kafka jars (once)
    kafka_tier.py run [--partitions N] -- CMD... start a fresh broker, run CMD, always stop it
    kafka_tier.py control --state DIR start|stop|status

`run` gives CMD HANDOFF_TEST_KAFKA_BOOTSTRAP (host:port) and HANDOFF_TEST_KAFKA_CONTROL (a
command prefix: `$HANDOFF_TEST_KAFKA_CONTROL stop` / `start` stop the broker and start it again
on the same port with the same data). Fetching, formatting, starting, probing and stopping are
`handoff/kafka.py`'s, shared with `handoff up`; this file is the command line and the run's
life cycle. Run it with the project's venv; see README.md beside this file.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))  # the handoff package, also when the venv has no editable install

from aiokafka.errors import KafkaError  # noqa: E402

from handoff.kafka import VERSION, BrokerError, KafkaBroker, alive, fetch, probe  # noqa: E402

RUNS = ROOT / ".cache" / "kafka"  # one state folder per run: run-<launcher pid>
HEAP_MB = 1024  # the suite creates tens of thousands of partitions (a restart reloads them all)


def say(message: str) -> None:
    print(f"kafka-tier: {message}", file=sys.stderr, flush=True)


def kafka_version() -> str:
    return os.environ.get("KAFKA_TIER_VERSION") or VERSION


def cmd_fetch(_args: argparse.Namespace) -> int:
    started = time.monotonic()
    libs = fetch(kafka_version())
    say(f"kafka {kafka_version()}: {libs} ready in {time.monotonic() - started:.2f} s")
    return 0


# --- run -------------------------------------------------------------------------------------


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_command: subprocess.Popen[bytes] | None = None


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
        raise BrokerError(f"cannot run {shlex.join(command)}: {error}") from None
    code = _command.wait()
    return 128 - code if code < 0 else code


def control_prefix(state: Path) -> str:
    script = str(Path(__file__).resolve())
    return shlex.join([sys.executable, script, "control", "--state", str(state)])


def remove_stale_runs() -> None:
    """Stop brokers and delete state folders left by launchers that were killed with SIGKILL
    (their broker got SIGTERM with them, unless `control start` had restarted it)."""
    for state in RUNS.glob("run-*"):
        launcher = state.name.removeprefix("run-")
        if launcher.isdigit() and not alive(int(launcher)):
            KafkaBroker(state).stop()
            shutil.rmtree(state, ignore_errors=True)


def cmd_run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise BrokerError("nothing to run: kafka_tier.py run -- CMD [ARGS...]")
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    state = RUNS / f"run-{os.getpid()}"
    broker = KafkaBroker(
        state, heap_mb=HEAP_MB, partitions=args.partitions, version=kafka_version()
    )
    try:
        remove_stale_runs()
        started = time.monotonic()
        broker.prepare()
        bootstrap = broker.start(die_with_parent=True)
        seconds = time.monotonic() - started
        say(f"kafka {broker.version} ready on {bootstrap} in {seconds:.2f} s (state {state})")
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
        cleanup(broker)


def cleanup(broker: KafkaBroker) -> None:
    # Clean-up is short and bounded; a second Ctrl-C must not leave the broker behind.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    if _command is not None and _command.poll() is None:
        _command.kill()
        _command.wait()
    if broker.state.exists():
        running = broker.pid() is not None
        seconds = broker.stop()
        shutil.rmtree(broker.state, ignore_errors=True)
        say(f"broker stopped in {seconds:.2f} s, " * running + f"{broker.state.name} removed")
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
    broker = KafkaBroker(Path(args.state))
    if not broker.spec_file.is_file():
        raise BrokerError(f"{broker.state} is not a kafka-tier state folder")
    bootstrap = broker.bootstrap
    if args.action == "stop":
        say(f"broker on {bootstrap} stopped in {broker.stop():.2f} s")
    elif args.action == "start":
        started = time.monotonic()
        broker.start()  # outlives this process: `run` or a later `control stop` ends it
        say(f"broker on {bootstrap} ready in {time.monotonic() - started:.2f} s")
    else:
        try:
            probe(bootstrap)
        except (OSError, KafkaError) as error:
            print(f"not serving on {bootstrap} (pid {broker.pid()}): {error}")
            return 3
        print(f"serving on {bootstrap} (pid {broker.pid()})")
    return 0


# --- command line ----------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="name", required=True)
    commands.add_parser("fetch", help="fetch the broker and tools jars (once)")
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
    # `control status` reports a failed probe in one line; aiokafka would log it again.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    handler = {"fetch": cmd_fetch, "run": cmd_run, "control": cmd_control}[args.name]
    try:
        return handler(args)
    except BrokerError as error:
        say(f"error: {error}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
