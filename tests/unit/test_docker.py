"""The Docker path stays valid where Docker cannot run: the compose file parses, every
service is the layout the lab expects (5 cluster nodes on 7000-7004, a standalone server
on 7100, host networking), and each node's config file exists and says so. Where the
compose plugin exists, `docker compose config` checks the file as well."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rediscluster_opt.defaults import CLUSTER_PORTS, STANDALONE_PORT

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def test_the_compose_file_describes_the_lab_layout():
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    services = compose["services"]
    assert all(s["network_mode"] == "host" and s["image"].startswith("redis:") for s in services.values())
    cluster_ports = []
    for name, service in services.items():
        command = service["command"]
        if "--port" in command:  # the standalone server, configured inline
            assert int(command[command.index("--port") + 1]) == STANDALONE_PORT, name
            continue
        (volume,) = service["volumes"]
        source = DOCKER / volume.split(":")[0]
        config = dict(
            line.split(" ", 1) for line in source.read_text().splitlines() if line and line[0] != "#"
        )
        assert config["cluster-enabled"] == "yes" and command[-1].endswith(source.name), name
        cluster_ports.append(int(config["port"]))
    assert sorted(cluster_ports) == list(CLUSTER_PORTS)
    script = (DOCKER / "make_cluster.sh").read_text()
    create = script[script.index("--cluster create") : script.index("--cluster-replicas")]
    assert re.findall(r"127\.0\.0\.1:(\d+)", create) == [str(p) for p in CLUSTER_PORTS]


def test_docker_compose_accepts_the_file_where_it_exists():
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed; the YAML check above stands in")
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker has no compose plugin here; the YAML check above stands in")
    done = subprocess.run(
        ["docker", "compose", "-f", str(DOCKER / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
