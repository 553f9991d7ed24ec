"""The C client arm (redis-benchmark) as data: its configuration, its command line and
the figures it reads back (tests/e2e/test_bench.py runs it against the servers)."""

import json
from pathlib import Path

import pytest

from rediscluster_opt.bench.adapters import C_CLIENT, CALIBRATIONS, CLIENTS, ClientConfig, Target
from rediscluster_opt.bench.cclient import RedisBenchmarkError, command_line, parse_csv
from rediscluster_opt.core.url import TLSSettings

# redis-benchmark 7.0's --csv output for one custom command
CSV = (
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",'
    '"max_latency_ms"\n"GET rcopt:rb:{tag}:__rand_int__","161290.33","0.383","0.080","0.351","0.639","0.855",'
    '"3.063"\n'
)


def test_the_arm_is_a_configuration_with_a_pipeline_depth():
    plain = ClientConfig.parse(C_CLIENT)
    deep = ClientConfig.parse(f"{C_CLIENT}:pipeline=16")
    assert (plain.pipeline, plain.label) == (1, C_CLIENT)
    assert (deep.pipeline, deep.label) == (16, f"{C_CLIENT} P16")
    assert ClientConfig.from_dict({k: v for k, v in deep.as_dict().items() if k != "label"}) == deep
    with pytest.raises(ValueError, match="takes pipeline=N"):
        ClientConfig.parse(f"{C_CLIENT}:depth=4")
    with pytest.raises(ValueError, match="applies to calibration:redis-benchmark only"):
        ClientConfig("redis-py", pipeline=4)


def test_the_command_line_has_the_target_its_credentials_and_tls(monkeypatch):
    monkeypatch.setenv("RB_SECRET", "s3cret")
    tls = TLSSettings(ca_certs="ca.crt", certfile="c.crt", keyfile="c.key", verify=False)
    target = Target(seeds=("10.0.0.5:7000",), standalone="10.0.0.5:6379", username="app",
                    password_env="RB_SECRET", tls=tls)  # fmt: skip
    args = command_line(target, "cluster", concurrency=64, requests=1000, keyspace=2000, pipeline=16,
                        command=["GET", "k:{tag}:__rand_int__"])  # fmt: skip
    assert args[:5] == ["redis-benchmark", "-h", "10.0.0.5", "-p", "7000"]
    # redis-benchmark 7 takes its password from -a only (it ignores REDISCLI_AUTH)
    assert " ".join(args[5:]).startswith(
        "-c 64 -n 1000 -r 2000 -P 16 --csv --cluster -a s3cret --user app --tls"
    )
    assert args[-2:] == ["GET", "k:{tag}:__rand_int__"] and "--insecure" in args
    standalone = command_line(Target(), "standalone", concurrency=1, requests=10, keyspace=1, pipeline=1,
                              command=["GET", "x"])  # fmt: skip
    assert "--cluster" not in standalone and standalone[4] == Target().standalone.rpartition(":")[2]


def test_its_figures_come_from_its_csv():
    assert parse_csv(CSV) == {"rps": 161290.33, "p50_us": 351.0, "p99_us": 855.0}
    cluster = "Cluster has 5 master nodes:\n\nMaster 0: 3b85b2aa 127.0.0.1:7003\n\n" + CSV
    assert parse_csv(cluster)["rps"] == 161290.33
    with pytest.raises(RedisBenchmarkError, match="no CSV row"):
        parse_csv("Could not connect to Redis at 127.0.0.1:7000: Connection refused\n")


def test_the_record_schema_knows_every_client_and_arm():
    schema = json.loads(
        (Path(__file__).parents[2] / "rediscluster_opt/results/record.schema.json").read_text()
    )
    enum = schema["properties"]["configurations"]["items"]["properties"]["client"]["enum"]
    assert set(CLIENTS) | set(CALIBRATIONS) <= set(enum)
