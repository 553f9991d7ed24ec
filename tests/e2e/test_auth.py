"""AUTH against a real password-protected cluster (requirepass plus an ACL user): URLs,
typed errors naming the node, and no secret in what the client shows."""

import pytest

from rediscluster_opt import AuthenticationError, ClusterClient
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
