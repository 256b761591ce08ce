"""Apache Kafka on this machine: fetch it through Maven, format a KRaft node, start, probe, stop.

Used by `handoff up` (the local broker, data under `.handoff/kafka`) and by the test tier
(`tools/kafka_tier/`). One broker lives in one state folder:

    server.properties   log4j2.properties   broker.json (argv, bootstrap, ports, version)
    data/ (topics, offsets, metadata)   logs/server.log   broker.out   broker.pid

The jars (the broker, the command-line tools and what they need, as in the Kafka
distribution's `libs/`) are copied once into `$HANDOFF_KAFKA_CACHE/<version>/libs`
(default `~/.cache/handoff/kafka`), from Maven's local repository or Maven Central.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from handoff.embedded import free_port, port_is_free, terminate_with_parent

VERSION = "4.1.2"  # the newest patch of the 4.1 line that docker-compose.yml runs
LOG4J_VERSION = "2.24.3"
MIN_JAVA = 17
PROBE_TIMEOUT_S = 2.0

# The distribution's bin/kafka-*.sh scripts, by the main class each one runs.
TOOLS = {
    "topics": "org.apache.kafka.tools.TopicCommand",
    "console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "get-offsets": "org.apache.kafka.tools.GetOffsetShell",
}

log = logging.getLogger(__name__)


class BrokerError(Exception):
    """Kafka cannot be fetched or started; the message says why (and shows the broker's log)."""


# --- the jars --------------------------------------------------------------------------------


def cache_root() -> Path:
    configured = os.environ.get("HANDOFF_KAFKA_CACHE")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "handoff" / "kafka"


def cached_libs(version: str = VERSION) -> Path | None:
    home = cache_root() / version
    return home / "libs" if (home / "complete").is_file() else None


def pom(version: str, libs_dir: Path) -> str:
    """The broker (kafka_2.13), the CLI tools (kafka-tools) and a log4j2 binding for slf4j."""
    dependencies = [
        ("org.apache.kafka", "kafka_2.13", version),
        ("org.apache.kafka", "kafka-tools", version),
        ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
    ]
    listed = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in dependencies
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>handoff.local</groupId><artifactId>kafka-libs</artifactId><version>0</version>
  <packaging>pom</packaging>
  <dependencies>{listed}</dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>
    <version>3.8.1</version>
    <configuration><outputDirectory>{libs_dir}</outputDirectory>
      <includeScope>runtime</includeScope></configuration>
  </plugin></plugins></build>
</project>
"""


def fetch(version: str = VERSION) -> Path:
    """The folder of jars for `version`, copied there by Maven unless already complete."""
    libs = cached_libs(version)
    if libs is not None:
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("mvn not found: Maven (with access to Maven Central) is needed once")
    home = cache_root() / version
    home.mkdir(parents=True, exist_ok=True)
    libs = home / "libs"
    # Copy into a private folder and rename it, so an interrupted copy never looks complete.
    with tempfile.TemporaryDirectory(dir=home, prefix="fetch-") as scratch:
        partial = Path(scratch) / "libs"
        (Path(scratch) / "pom.xml").write_text(pom(version, partial))
        command = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", f"{scratch}/pom.xml"]
        result = subprocess.run(
            [*command, "dependency:copy-dependencies"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or not (partial / f"kafka_2.13-{version}.jar").is_file():
            output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
            raise BrokerError(f"maven could not fetch Apache Kafka {version}:\n{output[-4000:]}")
        shutil.rmtree(libs, ignore_errors=True)
        partial.rename(libs)
    jars = len(list(libs.glob("*.jar")))
    (home / "complete").write_text(f"{jars} jars, {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    return libs


def java_binary() -> str:
    """The `java` of JAVA_HOME or PATH, if it is Java 17 or newer."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home, "bin", "java")) if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise BrokerError(f"java not found: Apache Kafka needs Java {MIN_JAVA}+")
    major, quoted = _java_version(java)
    if major < MIN_JAVA:
        raise BrokerError(f"{java} is Java {quoted or '?'}; Apache Kafka needs Java {MIN_JAVA}+")
    return java


@functools.cache
def _java_version(java: str) -> tuple[int, str]:
    """The major version and the quoted version of `java -version` (asked once per binary)."""
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    quoted = out.split('"')[1] if out.count('"') >= 2 else ""
    parts = quoted.split(".")
    major = int(parts[1] if parts[0] == "1" else parts[0]) if parts[0].isdigit() else 0
    return major, quoted


def unavailable_reason(version: str = VERSION) -> str | None:
    """Why Kafka cannot run here (no Java 17+; no Maven and no cached jars), or None."""
    try:
        java_binary()
    except BrokerError as error:
        return str(error)
    if cached_libs(version) is None and shutil.which("mvn") is None:
        return "mvn not found and the Kafka jars are not cached"
    return None


# --- command lines ---------------------------------------------------------------------------


def jvm_command(
    libs: Path,
    main_class: str,
    args: Sequence[str],
    *,
    heap_mb: int,
    log_config: Path,
    properties: Sequence[str] = (),
) -> list[str]:
    return [
        java_binary(),
        *properties,
        f"-Xmx{heap_mb}m",
        f"-Xms{min(heap_mb, 64)}m",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log_config}",
        "-cp",
        f"{libs}{os.sep}*",
        main_class,
        *args,
    ]


TOOLS_LOG4J = """status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = err
"""


def tool_command(tool: str, args: Sequence[str], version: str = VERSION) -> list[str]:
    """`kafka-<tool>.sh ARGS` of the distribution, as a java command line (fetching once)."""
    if tool not in TOOLS:
        raise BrokerError(f"unknown tool {tool!r}: one of {', '.join(TOOLS)}")
    libs = fetch(version)
    log_config = libs.parent / "tools-log4j2.properties"
    if not log_config.is_file():
        log_config.write_text(TOOLS_LOG4J)
    return jvm_command(libs, TOOLS[tool], args, heap_mb=256, log_config=log_config)


def broker_log4j(size_mb: int = 10, files: int = 3) -> str:
    """Everything to logs/server.log (rolled by size), nothing to the console."""
    return f"""status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${{sys:kafka.logs.dir}}/server.log
appender.file.filePattern = ${{sys:kafka.logs.dir}}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = {size_mb}MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = {files}
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.statechange.name = state.change.logger
logger.statechange.level = warn
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = warn
"""


def server_properties(data: Path, port: int, controller_port: int, partitions: int) -> str:
    settings: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": 1,
        # Static voters, as in docker-compose.yml: no dynamic quorum to bootstrap.
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": data,
        "num.partitions": partitions,
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,
        # Kafka's minimum is 6 s; tests use 1-2 s sessions to rebalance quickly.
        "group.min.session.timeout.ms": 1000,
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def random_cluster_id() -> str:
    """Like `kafka-storage random-uuid`: never starting with "-", which would read as a flag."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


# --- processes -------------------------------------------------------------------------------


# An open file per partition's active segment (and more while it rolls): the test tier's cluster
# holds tens of thousands of partitions, past the 20,000 open files this machine allows a process.
OPEN_FILES = 262_144


def in_broker_process(die_with_parent: bool) -> None:
    """Run in the broker's process before it starts (after fork): raise its open-file limit,
    and have it terminated with its parent if asked."""
    raise_open_files(OPEN_FILES)
    if die_with_parent:
        terminate_with_parent()


def raise_open_files(wanted: int) -> None:
    """This process's open-file limit up to `wanted`: the hard limit too where that is allowed
    (root), else as far as the hard limit goes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    except (ValueError, OSError):  # not allowed to raise the hard limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


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
    return not _finished_zombie(pid)


def _finished_zombie(pid: int) -> bool:
    """A dead process its parent (not us) has not reaped yet. The JVM's main thread exits early
    in a shutdown, which shows the process as a zombie while its other threads still run."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return False
    status = dict(line.split(":", 1) for line in lines if ":" in line)
    zombie = status.get("State", "").strip().startswith("Z")
    return zombie and status.get("Threads", "").strip() in ("0", "1")


def _signal_group(pid: int, signum: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


async def _listed_brokers(bootstrap: str) -> list[tuple[int, str, int]]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="handoff-probe",
        request_timeout_ms=int(PROBE_TIMEOUT_S * 1000),
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    return [(broker["node_id"], broker["host"], broker["port"]) for broker in cluster["brokers"]]


def probe(bootstrap: str) -> None:
    """Raise unless the broker answers a client and lists itself (node 1) in the cluster.

    A KRaft broker only serves requests once it is unfenced, so an answer means clients can
    use it. SIGINT/SIGTERM wait until the probe is over: an exception raised by a signal
    handler in the middle of an event-loop callback would be logged and dropped by asyncio.
    """
    host, port = bootstrap.rsplit(":", 1)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        brokers = asyncio.run(asyncio.wait_for(_listed_brokers(bootstrap), PROBE_TIMEOUT_S))
    except TimeoutError:
        raise TimeoutError(f"no answer within {PROBE_TIMEOUT_S:.0f} s") from None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    if (1, host, int(port)) not in brokers:
        raise ConnectionError(f"the cluster lists brokers {brokers}, not 1@{bootstrap}")


# --- one broker ------------------------------------------------------------------------------


class KafkaBroker:
    """A single-node KRaft broker (broker and controller in one JVM) on 127.0.0.1 whose data
    lives in `state`: stopping and starting it again keeps topics, records and offsets.

    The process is found again through `state/broker.pid`, so another process can stop or
    start it (the test tier's `control`)."""

    kind = "kafka"
    persistent = True

    def __init__(
        self,
        state: Path,
        *,
        port: int | None = None,
        heap_mb: int = 256,
        partitions: int = 1,
        version: str = VERSION,
    ) -> None:
        self.state = state.resolve()
        self.port = port
        self.heap_mb = heap_mb
        self.partitions = partitions
        self.version = version

    @property
    def spec_file(self) -> Path:
        return self.state / "broker.json"

    def spec(self) -> dict[str, object]:
        try:
            spec: dict[str, object] = json.loads(self.spec_file.read_text())
        except FileNotFoundError:
            raise BrokerError(f"{self.state} has no broker.json: prepare() it first") from None
        return spec

    @property
    def bootstrap(self) -> str:
        return str(self.spec()["bootstrap"])

    def prepare(self) -> None:
        """Fetch the jars, (re)write the configuration and format the storage the first time.

        The broker port is `port` if free, else the previous one if free, else any free one.
        """
        libs = fetch(self.version)
        previous = self.spec() if self.spec_file.is_file() else {}
        port = self._choose_port(self.port, previous.get("port"))
        controller_port = self._choose_port(None, previous.get("controller_port"), avoid=port)
        data, logs = self.state / "data", self.state / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        config = self.state / "server.properties"
        config.write_text(server_properties(data, port, controller_port, self.partitions))
        log_config = self.state / "log4j2.properties"
        log_config.write_text(broker_log4j())

        def command(main_class: str, *args: str) -> list[str]:
            return jvm_command(
                libs,
                main_class,
                args,
                heap_mb=self.heap_mb,
                log_config=log_config,
                properties=[f"-Dkafka.logs.dir={logs}"],
            )

        if not (data / "meta.properties").is_file():
            fmt = command(
                "kafka.tools.StorageTool",
                *("format", "--config", str(config), "--cluster-id", random_cluster_id()),
            )
            result = subprocess.run(fmt, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if result.returncode != 0:
                raise BrokerError(f"formatting {data} failed:\n{result.stdout}{result.stderr}")
        spec = {
            "version": self.version,
            "bootstrap": f"127.0.0.1:{port}",
            "port": port,
            "controller_port": controller_port,
            "heap_mb": self.heap_mb,
            "argv": command("kafka.Kafka", str(config)),
        }
        self.spec_file.write_text(json.dumps(spec, indent=2))

    @staticmethod
    def _choose_port(wanted: int | None, previous: object, avoid: int = 0) -> int:
        for candidate in (wanted, previous):
            if isinstance(candidate, int) and candidate != avoid and port_is_free(candidate):
                return candidate
        while (port := free_port()) == avoid:
            pass
        return port

    def pid(self) -> int | None:
        """The pid of this state folder's broker if it runs (checked against its command line)."""
        try:
            pid = int((self.state / "broker.pid").read_text())
        except (OSError, ValueError):
            return None
        if not alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return pid  # no /proc (not Linux): trust the pid file
        return pid if str(self.state) in cmdline else None

    def start(self, timeout_s: float = 60.0, *, die_with_parent: bool = False) -> str:
        """Start the broker (unless it runs) and wait until it serves; returns the bootstrap.

        `die_with_parent`: the broker gets SIGTERM (a clean shutdown) when this process dies,
        even by SIGKILL; leave it off when this process exits before the broker should.
        """
        pid = self.pid()
        if pid is None:
            argv = [str(arg) for arg in self.spec()["argv"]]  # type: ignore[attr-defined]
            with open(self.state / "broker.out", "ab") as out:
                # Its own session: a Ctrl-C in the terminal does not reach it; we stop it.
                pid = subprocess.Popen(
                    argv,
                    cwd=self.state,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=functools.partial(in_broker_process, die_with_parent),
                ).pid
            (self.state / "broker.pid").write_text(f"{pid}\n")
        try:
            self._wait_ready(pid, timeout_s)
        except BaseException:
            self.stop()
            raise
        return self.bootstrap

    def _wait_ready(self, pid: int, timeout_s: float) -> None:
        bootstrap = self.bootstrap
        deadline = time.monotonic() + timeout_s
        last_error: Exception | None = None
        # Probes fail while the broker starts; the last failure is reported if it matters.
        aiokafka_log = logging.getLogger("aiokafka")
        level = aiokafka_log.level
        aiokafka_log.setLevel(logging.CRITICAL)
        try:
            while time.monotonic() < deadline:
                if not alive(pid):
                    raise BrokerError(f"the broker exited during start-up\n{self.log_tail()}")
                try:
                    probe(bootstrap)
                    return
                except (OSError, KafkaError) as error:
                    last_error = error
                time.sleep(0.1)
        finally:
            aiokafka_log.setLevel(level)
        raise BrokerError(
            f"the broker did not answer on {bootstrap} within {timeout_s:.0f} s "
            f"(last: {last_error})\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 20.0) -> float:
        """SIGTERM (a controlled shutdown), SIGKILL after `timeout_s`; returns the seconds."""
        started = time.monotonic()
        pid = self.pid()
        if pid is not None:
            _signal_group(pid, signal.SIGTERM)
            if not _wait_gone(pid, timeout_s):
                log.warning("kafka %d still runs %.0f s after SIGTERM: SIGKILL", pid, timeout_s)
                _signal_group(pid, signal.SIGKILL)
                _wait_gone(pid, 5.0)
        (self.state / "broker.pid").unlink(missing_ok=True)
        return time.monotonic() - started

    def log_tail(self, lines: int = 25) -> str:
        """The broker's console output, its last ERROR/FATAL lines and the end of its log."""
        parts = []
        out = self.state / "broker.out"
        if out.is_file() and out.stat().st_size:
            text = out.read_text(errors="replace").splitlines()
            parts.append(f"--- {out} ---\n" + "\n".join(text[-lines:]))
        server_log = self.state / "logs" / "server.log"
        if server_log.is_file():
            text = server_log.read_text(errors="replace").splitlines()
            errors = [line for line in text if "] ERROR " in line or "] FATAL " in line]
            if errors:
                parts.append(f"--- errors in {server_log} ---\n" + "\n".join(errors[-10:]))
            parts.append(f"--- last lines of {server_log} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(parts) or f"(no broker output in {self.state})"
