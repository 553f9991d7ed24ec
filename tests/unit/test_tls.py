"""TLS: URL options, context building, and the handshake's failures as typed errors,
against an in-process TLS server (the real TLS cluster is in tests/e2e/test_tls.py)."""

import shutil
import ssl
import time

import pytest

from rediscluster_opt import ClusterClient, StandaloneClient, TLSError, TLSSettings, tls_context
from rediscluster_opt.certs import make_certificates
from rediscluster_opt.core.url import parse_url
from tests.fake_server import FakeRedis
from tests.unit.test_cluster_policy import serve_all_slots

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is needed to make certificates"
)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("other-ca"))


@pytest.fixture(scope="module")
def misnamed(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("misnamed"), hosts=("elsewhere.test",))


def server_context(certs):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    return context


def test_rediss_url_options():
    spec = parse_url("rediss://u:pw@h:1?ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem")
    assert spec.tls == TLSSettings(ca_certs="/ca.pem", certfile="/c.pem", keyfile="/k.pem")
    assert spec.redacted() == "rediss://u:***@h:1?ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem"
    relaxed = parse_url("rediss://h:1?ssl_check_hostname=false").tls
    assert relaxed == TLSSettings(check_hostname=False)
    assert parse_url("rediss://h:1?ssl_cert_reqs=none").tls == TLSSettings(verify=False)
    assert parse_url("rediss://h:1").tls == TLSSettings() and parse_url("redis://h:1").tls is None
    for url, message in [
        ("redis://h:1?ssl_ca_certs=/ca.pem", "only go with rediss://"),
        ("rediss://h:1?ssl_check_hostname=maybe", "must be true or false"),
        ("rediss://h:1?ssl_cert_reqs=optional", "must be none or required"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_url(url)


def test_context_from_paths(certs, tmp_path):
    context = tls_context(ca_certs=certs.ca, certfile=certs.client_cert, keyfile=certs.client_key)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    relaxed = tls_context(ca_certs=certs.ca, check_hostname=False)
    assert not relaxed.check_hostname and relaxed.verify_mode == ssl.CERT_REQUIRED
    assert tls_context(verify=False).verify_mode == ssl.CERT_NONE
    with pytest.raises(ValueError, match="ca_certs: no such file"):
        tls_context(ca_certs=tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="keyfile given without its certfile"):
        tls_context(keyfile=certs.client_key)
    with pytest.raises(ValueError, match="tls must be"):
        StandaloneClient("h:1", tls="yes")


async def test_commands_over_tls_from_a_context_settings_or_url(certs):
    async with FakeRedis(ssl=server_context(certs)) as node:
        serve_all_slots(node)
        for tls in (tls_context(ca_certs=certs.ca), TLSSettings(ca_certs=str(certs.ca))):
            async with await StandaloneClient.connect(node.address, tls=tls) as client:
                await client.set("k", "v")
                assert await client.get("k") == b"v"
        async with await ClusterClient.from_url(f"rediss://{node.address}?ssl_ca_certs={certs.ca}") as client:
            assert client.tls and await client.get("k") == b"v"


@pytest.mark.parametrize(
    "make", [StandaloneClient.connect, ClusterClient.connect], ids=["standalone", "cluster"]
)
async def test_an_untrusted_certificate_fails_at_once_naming_the_node(certs, other_ca, make):
    async with FakeRedis(ssl=server_context(certs)) as node:
        serve_all_slots(node)
        started = time.monotonic()
        with pytest.raises(TLSError, match=rf"{node.address} over TLS: certificate verify failed") as caught:
            await make(node.address, tls=tls_context(ca_certs=other_ca.ca), connect_timeout=5)
        assert time.monotonic() - started < 2  # no retries: another try meets the same certificate
        assert isinstance(caught.value, ConnectionError)


async def test_the_server_name_is_checked_unless_switched_off(misnamed):
    async with FakeRedis(ssl=server_context(misnamed)) as node:
        with pytest.raises(TLSError, match="IP address mismatch"):
            await StandaloneClient.connect(node.address, tls=tls_context(ca_certs=misnamed.ca))
        url = f"rediss://{node.address}?ssl_ca_certs={misnamed.ca}&ssl_check_hostname=false"
        async with await StandaloneClient.from_url(url) as client:
            assert await client.ping()
