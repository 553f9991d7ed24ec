"""The launcher against real redis-server processes, on ports of its own (7200-7204 and
7300) so the session's shared cluster is never touched."""

import os
import socket
import stat
import subprocess
import sys

import pytest

from rediscluster_opt.core.topology import parse_cluster_shards
from rediscluster_opt.localcluster import (
    LocalCluster,
    NodeStartError,
    PortInUseError,
    RedisNotInstalledError,
    _alive,
    command,
)

PORTS = (7200, 7201, 7202, 7203, 7204)


@pytest.fixture
def spare(tmp_path):
    cluster = LocalCluster(ports=PORTS, standalone_port=7300, data_dir=tmp_path / "c", timeout=20)
    yield cluster
    cluster.down()


def test_up_status_flush_down(spare):
    assert spare.up() is True
    assert spare.up() is False  # idempotent while our cluster is up
    for port in PORTS:
        assert command("127.0.0.1", port, "PING") == b"PONG"
        info = command("127.0.0.1", port, "CLUSTER", "INFO").decode()
        assert "cluster_state:ok" in info
        # Topology() rejects overlaps, so full coverage here means exactly once.
        topology = parse_cluster_shards(command("127.0.0.1", port, "CLUSTER", "SHARDS"))
        assert topology.is_complete and len(topology.masters) == len(PORTS)
    assert command("127.0.0.1", 7300, "PING") == b"PONG"
    assert all(row["running"] for row in spare.status())

    command("127.0.0.1", 7300, "SET", "k", "v")
    spare.flush()
    assert command("127.0.0.1", 7300, "DBSIZE") == 0

    pids = [row["pid"] for row in spare.status()]
    stopped = spare.down()
    assert sorted(stopped) == sorted(pids)
    assert not any(_alive(pid) for pid in pids)
    assert not spare.data_dir.exists()
    assert not spare.is_up()


def test_context_manager_stops_what_it_started(tmp_path):
    cluster = LocalCluster(ports=PORTS, standalone_port=None, data_dir=tmp_path / "c", timeout=20)
    with cluster:
        pids = [row["pid"] for row in cluster.status()]
        assert len(pids) == len(PORTS) and all(pids)
    assert not any(_alive(pid) for pid in pids)


def test_port_taken_by_someone_else_is_refused_and_left_alone(spare):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 7300))
        squatter.listen()
        with pytest.raises(PortInUseError, match="port 7300 .* did not start"):
            spare.up()
        assert not any(row["running"] for row in spare.status())
        squatter.getsockname()  # still ours, untouched


def test_missing_binary_says_how_to_install(spare, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RedisNotInstalledError, match="apt-get install redis-server"):
        spare.up()


def test_node_that_fails_to_start_is_reported_and_the_rest_stopped(spare, monkeypatch, tmp_path):
    # A redis-server wrapper that breaks one node with a bad directive, like a typo would.
    real = subprocess.run(["which", "redis-server"], capture_output=True, text=True).stdout.strip()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "redis-server"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *"--port 7202 "*) exec {real} "$@" --maxmemory-policy bogus ;; esac\n'
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(NodeStartError, match="(?s)port 7202 failed to start.*maxmemory-policy"):
        spare.up()
    assert not any(row["running"] for row in spare.status())
    for port in (7200, 7201):
        with pytest.raises(OSError):
            command("127.0.0.1", port, "PING", timeout=0.5)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "TLS"])
def test_cli_up_status_down(tmp_path, tls):
    rcopt = [sys.executable, "-m", "rediscluster_opt.cli", "cluster"]
    options = ["--ports", "7200-7204", "--standalone-port", "0", "--data-dir", str(tmp_path / "c")]
    options += ["--tls"] if tls else []
    try:
        assert subprocess.run([*rcopt, "status", *options], capture_output=True).returncode == 3
        up = subprocess.run([*rcopt, "up", *options], capture_output=True, text=True)
        assert up.returncode == 0 and "cluster started" in up.stdout
        ca = tmp_path / "c" / "tls" / "ca.crt"
        assert (f"connect with rediss://127.0.0.1:7200?ssl_ca_certs={ca}" in up.stdout) == tls
        status = subprocess.run([*rcopt, "status", *options], capture_output=True, text=True)
        assert status.returncode == 0 and status.stdout.count(" ok") == 5
    finally:
        down = subprocess.run([*rcopt, "down", *options], capture_output=True, text=True)
    assert down.returncode == 0 and "stopped 5" in down.stdout
    bad = subprocess.run([*rcopt, "up", "--ports", "70x0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "bad port list '70x0'" in bad.stderr


def test_a_replica_cluster_reports_its_roles(replica_cluster):
    rows = replica_cluster.status()
    roles = sorted(row["role"] for row in rows)
    assert roles == ["cluster master"] * 3 + ["cluster replica"] * 3, rows
    assert all(row["cluster_state"] == "ok" for row in rows)
    assert replica_cluster.is_up()
