"""TLS against a real TLS-only cluster with a password (`tls_cluster`), and re-authentication
after CLIENT KILL on both secured clusters. Every command family over TLS runs in
test_commands.py."""

import asyncio
import ssl
import time

import pytest

from rediscluster_opt import AuthenticationError, ClusterClient, ClusterDownError, TLSError
from rediscluster_opt.certs import make_certificates
from rediscluster_opt.core.address import split_address
from rediscluster_opt.pytest_plugin import SECURED_ACL_USER, TLS_PASSWORD


def userinfo(cluster):
    if cluster.tls:
        return f":{TLS_PASSWORD}@"
    name, secret = SECURED_ACL_USER
    return f"{name}:{secret}@"


@pytest.mark.parametrize("which", ["tls_cluster", "secured_cluster"], ids=["TLS + password", "ACL user"])
async def test_a_killed_connection_reconnects_and_authenticates_again(request, which, prefix):
    cluster = request.getfixturevalue(which)
    async with await ClusterClient.from_url(cluster.url(userinfo=userinfo(cluster))) as client:
        keys = [f"{prefix}:{i}" for i in range(30)]  # every master
        await client.mset(dict.fromkeys(keys, "v"))
        before = client.counters["reconnects"] + client.counters["retries"]
        for address in client.topology.masters:
            port = split_address(address)[1]
            assert cluster.command(port, "CLIENT", "KILL", "TYPE", "normal") >= 1
        assert await client.mget(*keys) == [b"v"] * len(keys)  # reconnected, AUTH first again
        assert client.counters["reconnects"] + client.counters["retries"] > before


async def test_an_untrusted_server_certificate_is_refused_promptly(tls_cluster, tmp_path):
    stranger = make_certificates(tmp_path / "other-ca")
    url = f"rediss://:{TLS_PASSWORD}@{tls_cluster.seeds[0]}?ssl_ca_certs={stranger.ca}"
    started = time.monotonic()
    with pytest.raises(TLSError, match=rf"{tls_cluster.seeds[0]} over TLS: certificate verify failed"):
        await ClusterClient.from_url(url, connect_timeout=5)
    assert time.monotonic() - started < 2


async def test_a_client_certificate_is_accepted(tls_cluster):
    certs = tls_cluster.certificates
    query = f"ssl_ca_certs={certs.ca}&ssl_certfile={certs.client_cert}&ssl_keyfile={certs.client_key}"
    async with await ClusterClient.from_url(
        f"rediss://:{TLS_PASSWORD}@{tls_cluster.seeds[0]}?{query}"
    ) as client:
        assert await client.ping()


async def test_a_missing_password_over_tls_is_typed(tls_cluster):
    with pytest.raises(AuthenticationError, match="NOAUTH") as caught:
        await ClusterClient.from_url(tls_cluster.url(), connect_timeout=2)
    assert caught.value.node in tls_cluster.seeds


async def test_the_wrong_protocol_either_way_fails_with_a_clear_error(tls_cluster, local_cluster):
    plain = tls_cluster.seeds[0]
    with pytest.raises(ClusterDownError, match=f"{plain}: .*connection .* lost"):  # the server hangs up
        await asyncio.wait_for(ClusterClient.connect([plain], connect_timeout=1), 5)
    with pytest.raises(ClusterDownError, match="does it speak TLS"):  # a plain server awaits more bytes
        await ClusterClient.connect(
            local_cluster.seeds[:1], tls=tls_cluster.tls_context(), connect_timeout=0.5
        )


async def test_the_drop_in_takes_redis_pys_certificate_options(tls_cluster, tmp_path):
    """ssl_cert_reqs and ssl_check_hostname mean what they mean in redis-py: a server whose
    CA is not trusted is refused, unless the check is turned off (as redis-py's own client
    does with the same options)."""
    compat = pytest.importorskip("rediscluster_opt.compat")
    from redis import exceptions as redis_errors

    stranger = make_certificates(tmp_path / "other-ca")
    host, port = split_address(tls_cluster.seeds[0])
    common = {
        "host": host,
        "port": port,
        "password": TLS_PASSWORD,
        "ssl": True,
        "ssl_ca_certs": str(stranger.ca),
    }
    refused = compat.RedisCluster(**common, socket_connect_timeout=5)
    with pytest.raises(redis_errors.RedisError, match="certificate verify failed"):
        await refused.ping()
    async with compat.RedisCluster(**common, ssl_cert_reqs="none") as unchecked:
        assert await unchecked.ping() is True
    async with compat.RedisCluster(**common, ssl_cert_reqs=ssl.CERT_NONE, ssl_check_hostname=False) as again:
        assert await again.ping() is True
    with pytest.raises(compat.UnsupportedOption, match="ssl_cert_reqs='sometimes'"):
        compat.RedisCluster(**common, ssl_cert_reqs="sometimes")
    from_url = compat.RedisCluster.from_url(
        f"rediss://:{TLS_PASSWORD}@{tls_cluster.seeds[0]}",
        ssl_ca_certs=str(stranger.ca),
        ssl_cert_reqs="none",
    )
    async with from_url:
        assert await from_url.ping() is True
