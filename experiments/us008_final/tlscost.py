"""What TLS costs: every client (ours and the peers) against the local
cluster and against a TLS twin of it, interleaved in one run, so each client's
TLS / plain ratio of throughput and of client CPU per operation is paired per repeat.

The twin has the main cluster's layout (5 masters, TLS only, certificates from
`rediscluster_opt.certs`) on ports of its own, and is started here and stopped after.
It needs the local cluster as its plain arm: against another target the section is
skipped with the reason (the lab will not start servers beside someone's cluster to
compare them with).
"""

from __future__ import annotations

from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig, Target
from rediscluster_opt.bench.runner import reruns_for, run_benchmark
from rediscluster_opt.bench.workload import Workload
from rediscluster_opt.localcluster import LocalCluster
from rediscluster_opt.results import paired_ratio
from rediscluster_opt.results.stats import Interval

__all__ = ["TLS_CLIENTS", "TLS_PORTS", "TLS_SUFFIX", "measured_tls", "run_tls_cost", "tls_metric"]

TLS_PORTS = (7800, 7801, 7802, 7803, 7804)
TLS_SUFFIX = " (TLS)"
# A client that opens a connection per concurrent command (redis-py) needs seconds to
# open 64 TLS connections; measured here: about 40 ms each, against well under 1 ms in
# plain TCP. Its warm-up must cover that, or the handshakes are what gets measured; the
# multiplexed clients (ours, valkey-glide) open one per node and keep the run's warm-up.
TLS_WARMUP_S = 3.0
POOLED = ("redis-py", "coredis")  # the clients that open a connection per concurrent command
TLS_CLIENTS = ("ours", "redis-py", "coredis", "valkey-glide")  # the names `measured_tls` gives
# Repeats of each arm: the TLS figures are recorded beside the verdicts, none reads them,
# so five pairs (min-max coverage 94 %) give their spread at half the default run's cost.
TLS_REPEATS = 5


def tls_metric(client: str, figure: str) -> str:
    """TLS / plain `figure` ("throughput" or "cpu") of a client."""
    return f"tls.{client}.{figure}"


def run_tls_cost(params: Any, plain: LocalCluster, level: int, experiment: str) -> dict[str, Any]:
    """The interleaved record: each client plain and over TLS (ours alone in a smoke run),
    after a warm-up long enough for every client's TLS connections to be open."""
    twin = LocalCluster(
        ports=TLS_PORTS, standalone_port=None, tls=True, data_dir=plain.data_dir.parent / "tls-twin"
    )
    peers = [] if params.smoke else [ClientConfig.parse(p) for p in params.peers]
    clients = [ClientConfig.parse("optimized"), *peers]
    configs: list[ClientConfig] = []
    targets: dict[str, Target] = {}
    warmups: dict[str, float] = {}
    tls_target = Target(seeds=tuple(twin.seeds[:1]), standalone=None, tls=twin.tls_settings)
    for client in clients:
        over_tls = ClientConfig(client.client, client.stages, name=client.label + TLS_SUFFIX)
        configs += [client, over_tls]
        targets[over_tls.label] = tls_target
        if client.client in POOLED:
            warmups[over_tls.label] = max(params.warmup, TLS_WARMUP_S)
    started = twin.up()
    try:
        return run_benchmark(
            configs,
            experiment=experiment,
            target=Target(seeds=tuple(plain.seeds[:1]), standalone=None),
            targets=targets,
            modes=("cluster",),
            workload=Workload(value_size=params.value_size, key_count=params.key_count),
            concurrency=[level],
            duration=params.duration,
            warmup=params.warmup,
            warmups=warmups,
            repeats=min(params.repeats, TLS_REPEATS),
            pin=params.pin,
            parameters={"notebook": params.as_dict()},
            reruns=reruns_for(params.smoke),
        )
    finally:
        if started:
            twin.down()


def measured_tls(record: dict[str, Any]) -> dict[str, Interval | None]:
    """`tls.<client>.throughput` and `tls.<client>.cpu`: TLS / plain, paired per repeat."""
    out: dict[str, Interval | None] = {}
    for config in record["configurations"]:
        label = config["label"]
        if label.endswith(TLS_SUFFIX):
            continue
        name = "ours" if config["client"] == "ours" else config["client"]
        out[tls_metric(name, "throughput")] = paired_ratio(record, label + TLS_SUFFIX, label)
        out[tls_metric(name, "cpu")] = paired_ratio(record, label + TLS_SUFFIX, label, "cpu_us_per_op")
    return out
