"""AUTH against a real password-protected cluster (requirepass plus an ACL user): URLs,
typed errors naming the node, and no secret in what the client shows."""

import os
import signal
import socket
import subprocess
import sys

import pytest

from rediscluster_opt import AuthenticationError, ClusterClient, StandaloneClient
from rediscluster_opt.admin import command
from rediscluster_opt.errors import ConfigurationError
from rediscluster_opt.localcluster import wait_until
from rediscluster_opt.pytest_plugin import SECURED_ACL_USER, SECURED_PASSWORD


def url(cluster, userinfo=""):
    return f"redis://{userinfo}{cluster.seeds[0]}"


async def test_a_password_or_an_acl_user_opens_the_cluster(secured_cluster, prefix):
    name, secret = SECURED_ACL_USER
    for n, userinfo in enumerate((f":{SECURED_PASSWORD}@", f"{name}:{secret}@")):
        async with await ClusterClient.from_url(
            url(secured_cluster, userinfo) + "?client_name=rcopt-test"
        ) as client:
            await client.set(f"{prefix}:k", "v")
            assert await client.get(f"{prefix}:k") == b"v"
            counter = f"{prefix}:n{n}"
            assert await client.transaction(("INCR", counter), ("GET", counter)) == [1, b"1"]
            assert (
                await client.blpop(f"{prefix}:q", timeout=0.05) is None
            )  # dedicated connections authenticate too
            names = await client.execute_command("CLIENT", "LIST", target=client.topology.masters[0])
            assert b"name=rcopt-test" in names
            shown = repr(client.describe()) + repr(client.__dict__)
            assert SECURED_PASSWORD not in shown and secret not in shown


@pytest.mark.parametrize(
    "userinfo, message",
    [
        (":wrong-password@", "WRONGPASS"),
        ("nobody:whatever@", "WRONGPASS"),
        ("", "NOAUTH"),
    ],
    ids=["wrong password", "unknown user", "no password"],
)
async def test_authentication_failures_are_typed_and_name_the_node(secured_cluster, userinfo, message):
    with pytest.raises(AuthenticationError, match=message) as caught:
        await ClusterClient.from_url(url(secured_cluster, userinfo), connect_timeout=2)
    assert caught.value.node in secured_cluster.seeds
    assert "wrong-password" not in str(caught.value) and "whatever" not in str(caught.value)


SECRET = "rcopt-never-shown-7"


def _answers_ping(port):
    try:
        return command("127.0.0.1", port, "PING") == b"PONG"
    except OSError:
        return False


@pytest.fixture
def auth_renamed(tmp_path):
    """A real redis-server on which AUTH is renamed away: it answers AUTH with "unknown
    command 'AUTH', with args beginning with: '<the password>'"."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pidfile = tmp_path / "redis.pid"
    subprocess.run(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--rename-command", "AUTH", "",
         "--save", "", "--daemonize", "yes", "--pidfile", str(pidfile), "--dir", str(tmp_path),
         "--logfile", str(tmp_path / "redis.log")],
        check=True, timeout=10,
    )  # fmt: skip
    # A daemonized server returns before it listens: until it does, a PING is refused.
    assert wait_until(lambda: _answers_ping(port), 10), (tmp_path / "redis.log").read_text()[-2000:]
    yield f"127.0.0.1:{port}"
    os.kill(int(pidfile.read_text()), signal.SIGTERM)


async def test_a_password_the_server_echoes_reaches_no_message(auth_renamed, tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        await StandaloneClient.connect(auth_renamed, password=SECRET, username="lab-user")
    assert SECRET not in str(caught.value) and "lab-user" not in str(caught.value)
    assert str(caught.value).startswith("password:") and "***" in str(caught.value)
    done = subprocess.run(
        [sys.executable, "-m", "rediscluster_opt.cli", "bench", "--modes", "standalone",
         "--standalone", f"redis://:{SECRET}@{auth_renamed}", "--clients", "optimized",
         "--duration", "0.2", "--warmup", "0", "--repeats", "1", "--no-pin",
         "--results-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    shown = done.stdout + done.stderr
    assert done.returncode != 0 and "AUTH" in shown, shown[-2000:]
    assert SECRET not in shown, shown[-2000:]
