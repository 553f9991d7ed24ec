"""The REST cache-aside app against real standalone and cluster Redis, and short smoke runs
of every scenario under autocannon."""

import re
import shutil
import socket
import subprocess
import time

import orjson
import pytest

from rediscluster_opt.admin import command
from rediscluster_opt.bench.adapters import ClientConfig, Target
from rediscluster_opt.bench.target import BenchmarkError
from rediscluster_opt.core.address import split_address
from rediscluster_opt.rest.app import USER_KEY, RestApp
from rediscluster_opt.rest.data import seed_database
from rediscluster_opt.rest.runner import run_rest_benchmark

# The tests that run benchmarks are marked `measures` (make test runs them alone); the
# app's own behaviour, in-process or with its Redis gone, runs with the other e2e tests.
measures = pytest.mark.measures

BACKENDS = ["optimized", "redis-py", "compat"]  # compat: the REST app on the redis-py drop-in


async def call(app, method, path, body=b""):
    """Drive the ASGI app in-process; returns (status, headers, body)."""
    sent = []
    path, _, query = path.partition("?")

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode()}
    await app(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


@pytest.fixture(params=[(b, m) for b in BACKENDS for m in ("standalone", "cluster")], ids="-".join)
async def app(request, local_cluster, tmp_path):
    backend, mode = request.param
    db = tmp_path / "bench.db"
    seed_database(db, rows=200)
    rest = RestApp(
        ClientConfig.parse(backend),
        mode,
        Target(tuple(local_cluster.seeds), local_cluster.standalone_address),
        str(db),
    )
    await rest.startup()
    for user_id in range(1, 300):
        await rest.cache.delete(USER_KEY % user_id)
    yield rest
    await rest.shutdown()


def ttl_ms(app, key):
    address = app.target.standalone if app.mode == "standalone" else None
    if address is None:
        slot = command(*split_address(app.target.seeds[0]), "CLUSTER", "KEYSLOT", key)
        for entry in command(*split_address(app.target.seeds[0]), "CLUSTER", "SLOTS"):
            if entry[0] <= slot <= entry[1]:
                address = f"127.0.0.1:{entry[2][1]}"
    return command(*split_address(address), "PTTL", key)


async def test_cache_aside_miss_then_hit(app):
    status, headers, miss = await call(app, "GET", "/users/5")
    assert status == 200 and headers[b"content-type"] == b"application/json"
    user = orjson.loads(miss)
    assert (
        user["id"] == 5
        and user["email"] == "user5@example.net"
        and set(user) == {"id", "name", "email", "bio", "createdAt"}
    )
    assert 59_000 < ttl_ms(app, (USER_KEY % 5).decode()) <= 60_000
    status, _, hit = await call(app, "GET", "/users/5")
    assert status == 200 and hit == miss  # the cached bytes, as they are
    assert app.counters["cache_misses"] == 1 and app.counters["cache_hits"] == 1


async def test_not_found_and_bad_input(app):
    assert (await call(app, "GET", "/users/99999"))[:3:2] == (404, b'{"error":"User not found"}')
    status, _, body = await call(app, "POST", "/users", b"{not json")
    assert status == 400 and b"Malformed JSON" in body
    status, _, body = await call(app, "POST", "/users", b'{"name": "x"}')
    assert status == 400 and b"Missing field(s): email" in body
    status, _, body = await call(app, "POST", "/users", b'{"name": 1, "email": "e@x"}')
    assert status == 400 and b"must be strings: name" in body
    assert (await call(app, "GET", "/users?page=zero"))[0] == 400
    assert (await call(app, "PUT", "/users/99999", b'{"name": "n"}'))[0] == 404
    assert (await call(app, "DELETE", "/users/99999"))[0] == 404
    assert (await call(app, "GET", "/nothing"))[0] == 404


async def test_post_conflict_and_list(app):
    status, headers, body = await call(app, "POST", "/users", b'{"name": "New", "email": "new@x.org"}')
    created = orjson.loads(body)
    assert status == 201 and headers[b"location"] == b"/users/%d" % created["id"]
    status, _, body = await call(app, "POST", "/users", b'{"name": "Dup", "email": "new@x.org"}')
    assert status == 409 and b"already exists" in body
    status, _, body = await call(app, "GET", "/users?page=2&limit=500")
    listing = orjson.loads(body)
    assert status == 200 and listing["limit"] == 100 and listing["data"][0]["id"] == 101


async def test_put_and_delete_invalidate_the_cache(app):
    await call(app, "GET", "/users/7")
    status, _, body = await call(app, "PUT", "/users/7", b'{"name": "Renamed"}')
    assert status == 200 and orjson.loads(body)["name"] == "Renamed"
    assert orjson.loads((await call(app, "GET", "/users/7"))[2])["name"] == "Renamed"
    status, _, body = await call(app, "DELETE", "/users/7")
    assert status == 200 and body == b'{"message":"User deleted"}'
    assert (await call(app, "GET", "/users/7"))[0] == 404


@pytest.mark.parametrize("backend", BACKENDS)
async def test_redis_outage_falls_back_to_sqlite(backend, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            shutil.which("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                command("127.0.0.1", port, "PING")
                break
            except OSError:
                time.sleep(0.05)
        db = tmp_path / "bench.db"
        seed_database(db, rows=20)
        app = RestApp(ClientConfig.parse(backend), "standalone", Target((), f"127.0.0.1:{port}"), str(db))
        await app.startup()
        assert (await call(app, "GET", "/users/3"))[0] == 200
        server.kill()
        server.wait()
        status, _, body = await call(app, "GET", "/users/4")  # the cache is gone: SQLite answers
        assert status == 200 and orjson.loads(body)["id"] == 4
        assert (await call(app, "PUT", "/users/4", b'{"bio": "b"}'))[0] == 200
        assert app.counters["cache_errors"] >= 2
        await app.shutdown()
    finally:
        server.kill()
        server.wait()


@measures
def test_every_scenario_smoke(local_cluster):
    backends = [ClientConfig.parse(b) for b in BACKENDS]
    scenarios = ["get_single", "get_list", "post", "mixed"]
    # no warm-up: autocannon counts whole seconds, so a warm-up adds one per trial, and the
    # side-arms test below checks the warm-up
    record = run_rest_benchmark(
        backends, modes=["cluster"], scenarios=scenarios, duration=1, warmup=0, progress=None, reruns=0
    )
    assert len(record["trials"]) == len(backends) * len(scenarios)
    for trial in record["trials"]:
        assert trial["status"] == "ok", trial.get("reason")
        assert trial["ops_per_s"] > 0 and trial["valid"], (trial["scenario"], trial.get("status_codes"))
        if trial["scenario"] != "mixed":
            assert trial["non2xx"] == 0
        assert trial["autocannon"]["requests"]["total"] == trial["ops"]
    single = [t for t in record["trials"] if t["scenario"] == "get_single"]
    assert all(t["app_counters"]["cache_hits"] > 0 and t["app_counters"]["cache_errors"] == 0 for t in single)
    assert {row["scenario"] for row in record["summary"]["rest"]} == {
        "get_single",
        "get_list",
        "post",
        "mixed",
    }


@measures
def test_side_arms_run_the_first_repeats_and_standalone_its_own_scenarios(local_cluster):
    ours, peer = ClientConfig.parse("optimized"), ClientConfig.parse("baseline")
    record = run_rest_benchmark(
        [ours, peer], modes=["standalone", "cluster"], scenarios=["get_single", "post"], duration=1,
        warmup=1, repeats=2, side_arms=[peer.label], side_repeats=1, standalone_scenarios=["get_single"],
        progress=None, reruns=0,
    )  # fmt: skip
    ran = sorted((t["repeat"], t["config"], t["mode"], t["scenario"]) for t in record["trials"])
    assert ran == sorted(
        [(0, label, "cluster", s) for label in ("optimized", "baseline") for s in ("get_single", "post")]
        + [(0, label, "standalone", "get_single") for label in ("optimized", "baseline")]
        + [(1, "optimized", "cluster", s) for s in ("get_single", "post")]
        + [(1, "optimized", "standalone", "get_single")]
    )  # fmt: skip
    for trial in record["trials"]:  # autocannon warmed up in the same process and timed only the window
        assert trial["status"] == "ok" and trial["valid"], trial.get("reason")
        assert trial["loadgen_cpu_s"] > 0 and trial["machine"]["client_cpu_over_wall"] > 0
        assert 0.9 <= trial["autocannon"]["duration"] < 1.5  # the window the record names
    assert record["parameters"]["side_arms"] == ["baseline"] and record["parameters"]["side_repeats"] == 1
    post = next(
        r for r in record["summary"]["rest"] if r["scenario"] == "post" and r["config"] == "optimized"
    )
    assert post["standalone_req_s"] is None and post["cluster_req_s"] > 0 and post["drop"] is None


@pytest.mark.parametrize(
    ("options", "message"),
    [({"side_arms": ["redis-py"]}, "name what the run has not: redis-py"),
     ({"standalone_scenarios": ["mixed"]}, "name what the run has not: mixed"),
     ({"side_repeats": 0}, "side_repeats must be a positive integer"),
     # autocannon would run 0.5 s as 1 s and the record would say 0.5
     ({"duration": 0.5}, "duration must be a positive whole number of seconds (autocannon ends a run"),
     ({"warmup": 0.2}, "warmup must be a whole number >= 0 of seconds")],
)  # fmt: skip
def test_bad_side_arms_scenarios_and_seconds_fail_before_any_trial(local_cluster, options, message):
    with pytest.raises(BenchmarkError, match=re.escape(message)):
        run_rest_benchmark(
            [ClientConfig.parse("optimized")], scenarios=["get_single"], progress=None, **options
        )
