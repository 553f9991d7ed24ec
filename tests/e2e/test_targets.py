"""Measuring a cluster the lab did not start: a TLS cluster with a password and a
password-protected one with an ACL user, through `rcopt bench` and `rcopt rest` with every
peer. Credentials reach every client; no password reaches a record or the output; the
lab's cleanup touches only its own keys."""

import json
import os
import subprocess
import sys

import pytest

from rediscluster_opt.bench.adapters import Target
from rediscluster_opt.bench.sync import run_sync
from rediscluster_opt.bench.target import BenchmarkError, check_target, clear_lab_keys, target_from
from rediscluster_opt.pytest_plugin import SECURED_ACL_USER, SECURED_PASSWORD, TLS_PASSWORD

pytestmark = pytest.mark.measures  # runs benchmarks: beside no other test (make test)

PEERS = "optimized,redis-py,coredis,valkey-glide"


def rcopt(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "rediscluster_opt.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_bench_measures_a_tls_cluster_with_a_password_and_every_peer(tls_cluster, tmp_path):
    url = tls_cluster.url(userinfo=f":{TLS_PASSWORD}@")
    standalone = tls_cluster.url(tls_cluster.standalone_port, userinfo=f":{TLS_PASSWORD}@")
    done = rcopt(
        "bench", "--target", url, "--standalone", standalone, "--clients", PEERS, "--concurrency", "4",
        "--duration", "0.2", "--warmup", "0", "--repeats", "1", "--keys", "200", "--no-pin",
        "--reruns", "0", "--results-dir", str(tmp_path),  # 0.2 s: too short to judge contamination
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    text = (tmp_path / next(p for p in os.listdir(tmp_path))).read_text()
    record = json.loads(text)
    assert {(t["config"], t["mode"]) for t in record["trials"] if t["status"] == "ok"} == {
        (c, m) for c in PEERS.split(",") for m in ("cluster", "standalone")
    }
    assert record["parameters"]["target"]["tls"]["ca_certs"] == str(tls_cluster.certificates.ca)
    assert TLS_PASSWORD not in text and TLS_PASSWORD not in done.stdout + done.stderr


def test_rest_runs_every_backend_as_an_acl_user(secured_cluster, tmp_path):
    name, secret = SECURED_ACL_USER
    done = rcopt(
        "rest", "--target", f"redis://{name}@{secured_cluster.seeds[0]}?password_env=LAB_SECRET",
        "--backends", PEERS, "--modes", "cluster", "--scenarios", "get_single", "--duration", "1",
        "--warmup", "0", "--repeats", "1", "--reruns", "0", "--results-dir", str(tmp_path),
        env={"LAB_SECRET": secret},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    text = next(tmp_path.iterdir()).read_text()
    record = json.loads(text)
    served = {t["config"] for t in record["trials"] if t["status"] == "ok" and t["valid"] and t["ops"] > 0}
    assert served == set(PEERS.split(","))
    for trial in record["trials"]:  # every backend authenticated: the cache answered, no fallbacks
        counters = trial["app_counters"]
        assert counters["cache_errors"] == 0 and counters["cache_hits"] > 0, (trial["config"], counters)
    assert secret not in text and SECURED_PASSWORD not in text


def test_a_target_is_checked_first_and_the_error_names_the_node(secured_cluster, tls_cluster):
    seed = secured_cluster.seeds[0]
    for url, problem in [
        (f"redis://{seed}", "NOAUTH"),
        (f"redis://:wrong@{seed}", "WRONGPASS"),
        (f"redis://{tls_cluster.seeds[0]}", "unreachable"),  # plain talk to a TLS port
    ]:
        with pytest.raises(BenchmarkError, match=problem) as caught:
            check_target(target_from(url), ["cluster"])
        assert url.split("@")[-1].removeprefix("redis://") in str(caught.value)
        assert "wrong" not in str(caught.value).replace("WRONGPASS", "")
    done = rcopt(
        "bench", "--target", f"redis://:wrong@{seed}", "--clients", "optimized", "--modes", "cluster"
    )
    assert done.returncode == 2 and "WRONGPASS" in done.stderr and "Traceback" not in done.stderr


def test_the_lab_deletes_only_its_own_keys(secured_cluster):
    target = target_from(f"redis://:{SECURED_PASSWORD}@{secured_cluster.seeds[0]}")
    foreign = {"someone:else": "precious", **{f"{{t}}rcopt:probe:{i}": "x" for i in range(50)}}  # tag first
    lab = {f"rcopt:lab:{i}": "v" for i in range(300)}
    assert run_sync(lambda: _client_call(target, "mset", {**foreign, **lab})) is True
    assert run_sync(lambda: clear_lab_keys(target, "cluster")) >= 300  # other tests' rcopt: keys too
    assert run_sync(lambda: _client_call(target, "exists", *lab)) == 0
    assert run_sync(lambda: _client_call(target, "mget", *foreign)) == [v.encode() for v in foreign.values()]
    with pytest.raises(ValueError, match="only its own keys"):
        run_sync(lambda: clear_lab_keys(target, "cluster", "*"))


async def _client_call(target: Target, method: str, *args):
    from rediscluster_opt import ClusterClient

    async with await ClusterClient.connect(target.seeds, **target.client_options()) as client:
        return await getattr(client, method)(*args)
