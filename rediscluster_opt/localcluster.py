"""Start, inspect and stop a local Redis Cluster made of real `redis-server` processes.

The default layout mirrors the original benchmark's Docker cluster: 5 masters on
127.0.0.1:7000-7004, no replicas, plus one standalone server on 7100 (not 6379, so a
system Redis never collides). With `replicas=N` every master gets N replicas, on the ports
right after the last master port (7005-7009 for one replica each by default); failover
then follows the cluster's node timeout (`node_timeout`, milliseconds).

Servers keep nothing on disk beyond cluster state (`save ""`, `appendonly no`), bind to
127.0.0.1 with protected mode on, and run daemonized with a pid file each under the data
folder: `down` stops exactly the pids it finds there (and in any node folder there, so
replicas are never left behind), after checking each one is the redis-server for that
port.

With `tls=True` every node listens for TLS only (`port 0`, `tls-port` on its port),
nodes talk TLS to each other (`tls-cluster`, `tls-replication`), and certificates made by
openssl live in the data folder's `tls/` (see `certificates`). Clients may present a
certificate (`tls-auth-clients optional`): managed clusters rarely ask for one.

Every wait has a timeout; a failed start stops whatever it had started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .admin import command
from .certs import Certificates, make_certificates
from .core.slots import SLOT_COUNT
from .core.topology import TopologyError, parse_cluster_slots
from .core.url import TLSSettings
from .defaults import CLUSTER_PORTS, STANDALONE_PORT
from .tls import as_tls_context
from .workspace import resolve

__all__ = [
    "LocalCluster",
    "LocalClusterError",
    "NodeStartError",
    "PortInUseError",
    "RedisNotInstalledError",
    "parse_ports",
    "wait_until",
]

DEFAULT_PORTS = CLUSTER_PORTS
DEFAULT_STANDALONE_PORT = STANDALONE_PORT
CLUSTER_BUS_OFFSET = 10000  # cluster spec: the bus listens on port + 10000
INSTALL_HINT = (
    "install it with `sudo apt-get install redis-server` (Debian/Ubuntu), "
    "`brew install redis` (macOS) or `conda install -c conda-forge redis-server`; "
    "`make test` and `make experiments` install it themselves when run as root"
)


class LocalClusterError(RuntimeError):
    """The local cluster could not be started, inspected or stopped."""


class RedisNotInstalledError(LocalClusterError):
    pass


class PortInUseError(LocalClusterError):
    pass


class NodeStartError(LocalClusterError):
    pass


def default_data_dir() -> Path:
    """$RCOPT_DATA_DIR, else .rcopt/cluster under the workspace root."""
    return resolve(os.environ.get("RCOPT_DATA_DIR") or ".rcopt/cluster")


def parse_ports(text: str) -> tuple[int, ...]:
    """'7000-7004' or '7000,7001,7002' -> ports; ValueError names bad input."""
    ports: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise ValueError(f"bad port list {text!r}: use e.g. 7000-7004 or 7000,7001") from None
        ports.extend(range(first, last + 1))
    if not ports or any(not 0 < p < 65536 - CLUSTER_BUS_OFFSET for p in ports):
        raise ValueError(f"bad port list {text!r}: ports must be in 1..{65535 - CLUSTER_BUS_OFFSET}")
    return tuple(ports)


@dataclass
class LocalCluster:
    """A local cluster; usable as a context manager (stops only what it started)."""

    ports: tuple[int, ...] = DEFAULT_PORTS
    standalone_port: int | None = DEFAULT_STANDALONE_PORT
    host: str = "127.0.0.1"
    data_dir: Path = field(default_factory=default_data_dir)
    timeout: float = 30.0
    replicas: int = 0  # per master
    node_timeout: int = 5000  # ms: how long a silent node takes to be marked failed
    password: str | None = field(default=None, repr=False)  # requirepass (and masterauth)
    acl_user: tuple[str, str] | None = field(default=None, repr=False)  # (name, password), all rights
    tls: bool = False  # TLS-only nodes, certificates in data_dir/tls
    _started: bool = field(default=False, init=False, repr=False)
    _tls_context: ssl.SSLContext | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.ports = tuple(self.ports)
        self.data_dir = Path(self.data_dir).absolute()
        every = self.all_ports
        if len(set(every)) != len(every):
            raise ValueError(f"ports must be distinct, got {every}")
        if len(self.ports) < 3:
            raise ValueError("a Redis Cluster needs at least 3 masters")
        if self.replicas < 0 or self.node_timeout < 100:
            raise ValueError("replicas must be >= 0 and node_timeout at least 100 ms")

    @property
    def replica_ports(self) -> tuple[int, ...]:
        first = max(self.ports) + 1
        return tuple(range(first, first + len(self.ports) * self.replicas))

    @property
    def cluster_ports(self) -> tuple[int, ...]:
        """Every cluster node as started; after a failover a replica port may be a master."""
        return (*self.ports, *self.replica_ports)

    @property
    def all_ports(self) -> tuple[int, ...]:
        extra = () if self.standalone_port is None else (self.standalone_port,)
        return (*self.cluster_ports, *extra)

    @property
    def seeds(self) -> list[str]:
        return [f"{self.host}:{p}" for p in self.cluster_ports]

    @property
    def certificates(self) -> Certificates:
        """Where a TLS cluster keeps its CA and certificates (made by `up`)."""
        return Certificates(self.data_dir / "tls")

    def url(self, port: int | None = None, *, userinfo: str = "") -> str:
        """A connection URL for one of our nodes (the first master by default): rediss://
        with our CA for a TLS cluster. `userinfo` ("user:password@") is the caller's."""
        address = f"{self.host}:{self.ports[0] if port is None else port}"
        if not self.tls:
            return f"redis://{userinfo}{address}"
        return f"rediss://{userinfo}{address}?ssl_ca_certs={self.certificates.ca}"

    @property
    def tls_settings(self) -> TLSSettings | None:
        """What a client needs to trust our CA (None for a plain cluster)."""
        return TLSSettings(ca_certs=str(self.certificates.ca)) if self.tls else None

    def tls_context(self) -> ssl.SSLContext | None:
        """A client context trusting our CA (None for a plain cluster)."""
        return as_tls_context(self.tls_settings)

    def pid(self, port: int) -> int | None:
        """The pid of our redis-server on `port`, if it runs (for fault injection)."""
        return self._pid(port)

    @property
    def standalone_address(self) -> str | None:
        return None if self.standalone_port is None else f"{self.host}:{self.standalone_port}"

    # -- lifecycle --------------------------------------------------------------------
    def up(self) -> bool:
        """Start the cluster unless it is already up; True when this call started it."""
        server, cli = self._binaries()
        if self.is_up():
            return False
        if any(self._pid(p) for p in self.all_ports):
            self.down()  # a half-up leftover of ours: start clean
        for port in self.all_ports:
            self._check_port_free(port)
        try:
            if self.tls:
                make_certificates(self.certificates.folder)
                self._tls_context = None  # a new CA after a `down`: the admin context must follow
            for port in self.all_ports:
                self._start_node(server, port, cluster=port in self.cluster_ports)
            for port in self.all_ports:
                self._wait_for_ping(port)
            self._create_cluster(cli)
            self._wait_until_ok()
        except BaseException:
            self.down()
            raise
        return True

    def down(self) -> list[int]:
        """Stop every server of ours (by pid file) and remove the data folder; returns
        the pids that were stopped."""
        stopped = [pid for port in self._known_ports() if (pid := self.stop_node(port))]
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return stopped

    def __enter__(self) -> LocalCluster:
        self._started = self.up()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._started:
            self.down()

    def _known_ports(self) -> list[int]:
        """Our ports plus any node folder in the data folder, so `down` also stops the
        replicas of a cluster started with other options (`up --replicas 1`, `down`)."""
        try:
            found = {int(d.name) for d in self.data_dir.iterdir() if d.name.isdigit()}
        except OSError:
            found = set()
        return sorted(found | set(self.all_ports))

    def stop_node(self, port: int) -> int | None:
        """Stop one of our servers (its data folder stays, so `start_node` can bring it
        back with the same cluster identity); returns its pid, or None if not running."""
        pid = self._pid(port)
        if pid is None:
            return None
        os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda: not _alive(pid), self.timeout):
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not _alive(pid), 5.0)
        (self._node_dir(port) / "redis.pid").unlink(missing_ok=True)
        return pid

    def start_node(self, port: int) -> None:
        """Restart one stopped server of this cluster and wait until it answers."""
        self._check_port_free(port)
        self._start_node(self._binaries()[0], port, cluster=port in self.cluster_ports)
        self._wait_for_ping(port)

    # -- inspection -------------------------------------------------------------------
    def is_up(self) -> bool:
        if not all(self._pid(p) for p in self.all_ports):
            return False
        try:
            return self._healthy()
        except (OSError, LocalClusterError):
            return False

    def status(self) -> list[dict[str, object]]:
        rows = []
        for port in self._known_ports():
            pid = self._pid(port)
            row: dict[str, object] = {
                "address": f"{self.host}:{port}",
                "role": "standalone" if port == self.standalone_port else "cluster node",
                "pid": pid,
                "running": pid is not None,
            }
            if pid is not None and port != self.standalone_port:
                try:
                    row["role"] = f"cluster {self.role(port)}"
                    info = self._cluster_info(port)
                    row["cluster_state"] = info.get("cluster_state")
                    row["slots_assigned"] = int(info.get("cluster_slots_assigned", 0))
                except (OSError, LocalClusterError) as exc:
                    row["cluster_state"] = f"unreachable: {exc}"
            rows.append(row)
        return rows

    def flush(self) -> None:
        """FLUSHALL on every running server of ours."""
        for port in self.all_ports:
            if self._pid(port):
                self.command(port, "FLUSHALL")

    # -- talking to our nodes (authenticated when the cluster has a password) -----------
    def command(self, port: int, *args: object, timeout: float = 2.0) -> object:
        """One admin command to our node on `port`, after AUTH when the cluster has a
        password (the launcher talks as the default user)."""
        return command(self.host, port, *args, timeout=timeout, password=self.password, tls=self._admin_tls())

    def _admin_tls(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        if self._tls_context is None:
            self._tls_context = self.tls_context()
        return self._tls_context

    def _cluster_info(self, port: int) -> dict[str, str]:
        reply = self.command(port, "CLUSTER", "INFO")
        if not isinstance(reply, bytes):
            raise LocalClusterError(f"{self.host}:{port}: CLUSTER INFO failed: {reply}")
        return dict(line.split(":", 1) for line in reply.decode().splitlines() if ":" in line)

    def _info(self, port: int, section: str) -> bytes:
        reply = self.command(port, "INFO", section)
        return reply if isinstance(reply, bytes) else b""

    def role(self, port: int) -> str:
        """'master' or 'replica', as the node itself says (ROLE's first element)."""
        reply = self.command(port, "ROLE")
        role = reply[0] if isinstance(reply, list) and reply else b"?"
        return {b"slave": "replica"}.get(role, role.decode() if isinstance(role, bytes) else str(role))

    # -- internals --------------------------------------------------------------------
    def _binaries(self) -> tuple[str, str]:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            missing = "redis-server" if server is None else "redis-cli"
            raise RedisNotInstalledError(f"{missing} was not found on PATH: {INSTALL_HINT}")
        return server, cli

    def _node_dir(self, port: int) -> Path:
        return self.data_dir / str(port)

    def _pid(self, port: int) -> int | None:
        """The pid from our pid file, if that process is alive and is the redis-server
        for this port (guards against a recycled pid)."""
        try:
            pid = int((self._node_dir(port) / "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return pid if _alive(pid) else None  # no /proc (macOS): trust the pid file
        return pid if b"redis-server" in cmdline and f":{port}".encode() in cmdline else None

    def _check_port_free(self, port: int) -> None:
        ports = [port, port + CLUSTER_BUS_OFFSET] if port in self.cluster_ports else [port]
        for p in ports:
            with socket.socket() as sock:
                # As redis-server does: sockets in TIME_WAIT (a node just stopped) do not
                # count as taken, while a live listener still does.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((self.host, p))
                except OSError:
                    raise PortInUseError(
                        f"port {p} on {self.host} is already in use by a process this launcher "
                        f"did not start; it was left alone. Stop that process or choose other "
                        f"ports (rcopt cluster up --ports ... --standalone-port ...)"
                    ) from None

    def _start_node(self, server: str, port: int, *, cluster: bool) -> None:
        node_dir = self._node_dir(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        args = [
            server,
            *self._listen_args(port),
            "--bind",
            self.host,
            "--protected-mode",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(node_dir),
            "--daemonize",
            "yes",
            "--pidfile",
            str(node_dir / "redis.pid"),
            "--logfile",
            str(node_dir / "redis.log"),
            # DEBUG SLEEP is how the fault experiments make a node slow; local clients only.
            "--enable-debug-command",
            "local",
        ]
        if self.password is not None:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        if self.acl_user is not None:
            name, secret = self.acl_user
            # one directive, its words as separate arguments (one string would be the name)
            args += ["--user", name, "on", f">{secret}", "~*", "&*", "+@all"]
        if cluster and self.tls:
            args += ["--tls-cluster", "yes", "--tls-replication", "yes"]
        if cluster:
            args += [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                # A stopped node is marked failed after this long; with full coverage not
                # required, the other masters keep serving their own slots meanwhile.
                "--cluster-node-timeout",
                str(self.node_timeout),
                "--cluster-require-full-coverage",
                "no",
            ]
        done = subprocess.run(args, capture_output=True, text=True, timeout=self.timeout)
        if done.returncode != 0:
            raise NodeStartError(
                f"redis-server on port {port} failed to start (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )

    def _listen_args(self, port: int) -> list[str]:
        if not self.tls:
            return ["--port", str(port)]
        certs = self.certificates
        return [
            "--port", "0", "--tls-port", str(port),
            "--tls-cert-file", str(certs.server_cert), "--tls-key-file", str(certs.server_key),
            "--tls-ca-cert-file", str(certs.ca), "--tls-auth-clients", "optional",
        ]  # fmt: skip

    def _log_tail(self, port: int, lines: int = 15) -> str:
        try:
            text = (self._node_dir(port) / "redis.log").read_text(errors="replace")
        except OSError:
            return "(no log file)"
        return "\n".join(text.splitlines()[-lines:])

    def _wait_for_ping(self, port: int) -> None:
        def answers() -> bool:
            try:
                return self.command(port, "PING", timeout=1.0) == b"PONG"
            except OSError:
                return False

        if not wait_until(answers, self.timeout):
            raise NodeStartError(
                f"redis-server on port {port} did not answer PING within {self.timeout:g} s; "
                f"log tail:\n{self._log_tail(port)}"
            )

    def _create_cluster(self, cli: str) -> None:
        if int(self._cluster_info(self.ports[0]).get("cluster_slots_assigned", 0)):
            return  # nodes.conf survived: the cluster already exists
        # redis-cli makes the first len(ports) nodes masters and the rest their replicas.
        nodes = [f"{self.host}:{p}" for p in self.cluster_ports]
        args = [cli, "--cluster", "create", *nodes, "--cluster-replicas", str(self.replicas), "--cluster-yes"]
        if self.password is not None:
            args += ["-a", self.password, "--no-auth-warning"]
        if self.tls:
            certs = self.certificates
            args += ["--tls", "--cacert", str(certs.ca), "--cert", str(certs.client_cert)]
            args += ["--key", str(certs.client_key)]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise LocalClusterError(f"`redis-cli --cluster create` took over {self.timeout:g} s") from None
        if done.returncode != 0:
            raise LocalClusterError(
                f"`redis-cli --cluster create` failed (exit {done.returncode}):\n"
                f"{(done.stdout + done.stderr).strip()[-2000:]}"
            )

    def _node_ok(self, port: int) -> bool:
        if self._cluster_info(port).get("cluster_state") != "ok":
            return False
        try:
            topology = parse_cluster_slots(self.command(port, "CLUSTER", "SLOTS"), self.host)
        except TopologyError:
            return False
        return topology.covered_slots == SLOT_COUNT and len(topology.masters) == len(self.ports)

    def _healthy(self) -> bool:
        """Every node agrees the cluster is ok, and every replica is in sync."""
        if not all(self._node_ok(p) for p in self.cluster_ports):
            return False
        replicas = [p for p in self.cluster_ports if self.role(p) == "replica"]
        return len(replicas) == len(self.replica_ports) and all(
            b"master_link_status:up" in self._info(p, "replication") for p in replicas
        )

    def wait_healthy(self, timeout: float | None = None) -> None:
        """Wait until every node is back in the cluster with its slots covered, e.g. after
        a fault test restarted a node (which rejoins as a replica after a failover)."""
        if not wait_until(self._healthy, self.timeout if timeout is None else timeout, 0.1):
            raise LocalClusterError(
                f"cluster not healthy after {timeout or self.timeout:g} s: {self.status()}"
            )

    def _wait_until_ok(self) -> None:
        if not wait_until(self._healthy, self.timeout):
            states = {p: self._cluster_info(p).get("cluster_state") for p in self.cluster_ports}
            raise LocalClusterError(
                f"cluster not ok after {self.timeout:g} s: cluster_state per port {states}"
            )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still "exists" to kill(0); treat it as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `condition` every `interval` seconds; False if it is still false after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
