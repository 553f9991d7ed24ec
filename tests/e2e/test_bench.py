"""The experiment engine on short real runs against the local cluster."""

import json

import pytest

from rediscluster_opt import native
from rediscluster_opt.bench import runner
from rediscluster_opt.bench.adapters import C_CLIENT, ClientConfig, Target
from rediscluster_opt.bench.report import format_table
from rediscluster_opt.bench.runner import BenchmarkError, run_benchmark
from rediscluster_opt.bench.target import server_pids
from rediscluster_opt.bench.workload import Workload
from rediscluster_opt.lab.presentation.frame import (
    cprofile_frame,
    line_profile_frame,
    load_frame,
    summary_frame,
)
from rediscluster_opt.results import load_records, save_record, validate_record
from rediscluster_opt.results.stability import machine_state

pytestmark = pytest.mark.measures  # runs benchmarks: beside no other test (make test)

# Windows long enough for /proc's 10 ms ticks to tell a busy machine from rounding: the
# contamination test's. The others check what a trial records, not its figures, so they
# run short windows and re-run none (a 0.3 s window could be flagged by rounding alone).
MEASURED = {"duration": 1.0, "warmup": 0.2, "workload": Workload(key_count=500), "progress": None}
SHORT = {**MEASURED, "duration": 0.3, "warmup": 0.05, "reruns": 0}


def test_both_presets_every_installed_peer_and_the_calibration_arm(local_cluster, tmp_path):
    names = ("baseline", "optimized", "redis-py", "coredis", "valkey-glide")
    names += ("calibration:bare", "calibration:loop")
    names += ("native",) if native.load() else ()  # the native stage variants, where built
    configs = [ClientConfig.parse(name) for name in names]
    record = run_benchmark(configs, concurrency=[8], repeats=1, experiment="smoke", **SHORT)
    validate_record(record)
    assert record["notes"] == [
        f"{c.label}: {c.client} is not installed; skipped" for c in configs if not c.available()
    ]
    ran = {c.label for c in configs if c.available()}
    assert {(t["config"], t["mode"]) for t in record["trials"]} == {
        (label, mode) for label in ran for mode in ("cluster", "standalone")
    }
    for trial in record["trials"]:
        assert trial["status"] == "ok", trial.get("stderr_tail")
        assert trial["valid"] and trial["wrong"] == 0 and trial["errors"] == 0
        assert trial["ops_per_s"] > 0 and trial["latency_us"]["p50"] > 0
        assert trial["server_cpu_s"] is not None and trial["server_cpu_s"] >= 0
    ours = [t for t in record["trials"] if t["config"] == "optimized"]
    assert all(t["io"]["commands_per_write"] >= 1 for t in ours)
    assert record["environment"]["packages"]["hiredis"]
    assert "optimized" in format_table(record)

    path = save_record(record, tmp_path)
    assert path.name.endswith("_smoke.json")
    assert load_records(tmp_path)[0]["trials"] == json.loads(path.read_text())["trials"]
    frame = load_frame(tmp_path, experiment="smoke")
    assert len(frame) == len(record["trials"]) and set(frame["config"]) == ran
    summary = summary_frame(frame)
    assert (summary["ops_per_s"] > 0).all() and (summary["n"] == 1).all()


def test_interleaving_and_paired_ratios(local_cluster):
    configs = [ClientConfig.parse("baseline"), ClientConfig.parse("optimized")]
    record = run_benchmark(configs, modes=["cluster"], concurrency=[4], repeats=2, **SHORT)
    # the arms' order rotates each repeat, and each trial records its place
    assert [(t["repeat"], t["config"], t["position"]) for t in record["trials"]] == [
        (0, "baseline", 0),
        (0, "optimized", 1),
        (1, "optimized", 0),
        (1, "baseline", 1),
    ]
    for trial in record["trials"]:  # whose machine it was, in every trial
        machine = trial["machine"]
        assert {"foreign", "steal", "client_cpu_over_wall", "loadavg_1m", "servers_cpu"} <= set(machine)
        assert machine["servers_counted"] and 0 < machine["client_cpu_over_wall"] <= 1.2
        assert len(machine["probe_ns"]) == 2 and min(machine["probe_ns"]) > 0  # the host's speed, both ends
    assert "the host's speed: slowest probe" in machine_state([record]).text()
    (ratio,) = record["summary"]["ratios"]
    by = {(t["repeat"], t["config"]): t["ops_per_s"] for t in record["trials"]}
    pairs = sorted(by[(r, "optimized")] / by[(r, "baseline")] for r in (0, 1))
    assert ratio["ratio"]["low"] == pytest.approx(pairs[0])
    assert ratio["ratio"]["high"] == pytest.approx(pairs[1])
    assert ratio["ratio"]["method"] == "order statistic" and ratio["ratio"]["n"] == 2
    assert ratio["ratio"]["coverage"] == 0.5
    assert ratio["cpu_ratio"]["n"] == 2


def test_a_cluster_only_arm_skips_standalone_and_an_arm_keeps_its_own_warmup(local_cluster):
    configs = [ClientConfig.parse("optimized"), ClientConfig.parse("calibration:bare")]
    record = run_benchmark(configs, concurrency=[4], repeats=1, cluster_only=["calibration:bare"],
                           warmups={"calibration:bare": 0.6}, **SHORT)  # fmt: skip
    assert sorted((t["config"], t["mode"]) for t in record["trials"]) == [
        ("calibration:bare", "cluster"), ("optimized", "cluster"), ("optimized", "standalone"),
    ]  # fmt: skip
    assert record["parameters"]["cluster_only"] == ["calibration:bare"]
    assert record["parameters"]["warmups_s"] == {"calibration:bare": 0.6}
    assert all(t["status"] == "ok" for t in record["trials"])


@pytest.mark.quiet_machine  # its re-run must find the machine quiet: alone, before the build (make test)
def test_a_trial_beside_a_cpu_hog_is_marked_contaminated_and_run_again(local_cluster, tmp_path):
    """A busy loop on the client's CPU for 3 s: the trial measured beside it records the
    CPU it took and is run again once the machine is quiet; the record keeps the
    contaminated one under `superseded`, and the statistics use the quiet one."""
    import os
    import subprocess
    import sys

    from rediscluster_opt.bench.machine import FOREIGN_CPU_LIMIT

    cpus = sorted(os.sched_getaffinity(0))
    hog = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 3\nwhile time.time() < end: pass"],
        preexec_fn=lambda: os.sched_setaffinity(0, cpus[-1:]),  # the client's CPU when pinned
    )
    try:
        record = run_benchmark(
            [ClientConfig.parse("optimized")], modes=["cluster"], concurrency=[8], repeats=1, **MEASURED
        )
    finally:
        hog.kill()
        hog.wait()
    validate_record(record)
    (first, *_) = record["superseded"]
    assert first["contaminated"] and first["machine"]["foreign"] > FOREIGN_CPU_LIMIT, first["machine"]
    (kept,) = record["trials"]
    assert not kept["contaminated"] and kept["rerun"] >= 1, kept["machine"]
    assert machine_state([record]).text().startswith("quiet") and "re-run after contamination" in (
        machine_state([record]).text()
    )
    assert record["summary"]["rows"][0]["ops_per_s"]["n"] == 1  # the superseded trial is not counted


def test_client_and_servers_are_pinned_to_disjoint_cpus_and_it_is_recorded(local_cluster):
    import os

    configs = [ClientConfig.parse("optimized")]
    record = run_benchmark(configs, modes=["cluster"], concurrency=[4], repeats=1, **SHORT)
    pinning = record["environment"]["pinning"]
    if len(os.sched_getaffinity(0)) < 2:
        assert pinning == {"enabled": False, "reason": f"only {len(os.sched_getaffinity(0))} CPU available"}
        return
    assert pinning["enabled"] and not set(pinning["client_cpus"]) & set(pinning["server_cpus"])
    assert pinning["servers_pinned"] == 5
    # the servers got their previous affinity back afterwards
    pids = server_pids(Target(), "cluster")
    assert all(os.sched_getaffinity(pid) == os.sched_getaffinity(0) for pid in pids)
    unpinned = run_benchmark(configs, modes=["cluster"], concurrency=[4], repeats=1, pin=False, **SHORT)
    assert unpinned["environment"]["pinning"] == {"enabled": False, "reason": "switched off"}


def test_the_c_client_arm_runs_redis_benchmark_pinned_in_both_modes(local_cluster):
    """redis-benchmark as the limit: it runs in the trial's pinned child, its GETs hit the
    keys it wrote (a miss would return nil, which costs the servers less), and pipelining
    lets it go faster than one request in flight per connection."""
    from rediscluster_opt.admin import command
    from rediscluster_opt.bench.cclient import KEY

    prefix = KEY.split("{")[0]

    def arm_keys(port):
        cursor, found = 0, []
        while True:
            cursor, keys = command("127.0.0.1", port, "SCAN", cursor, "MATCH", f"{prefix}*", "COUNT", 1000)
            found += keys
            if int(cursor) == 0:
                return found

    for port in range(7000, 7005):  # another run's keys (another key count) would blur the count
        for key in arm_keys(port):
            command("127.0.0.1", port, "DEL", key)
    configs = [ClientConfig.parse(C_CLIENT), ClientConfig.parse(f"{C_CLIENT}:pipeline=16")]
    record = run_benchmark(configs, concurrency=[16], repeats=1, experiment="c-client", **SHORT)
    validate_record(record)
    assert record["environment"]["redis_benchmark"]
    trials = {(t["config"], t["mode"]): t for t in record["trials"]}
    assert set(trials) == {(c.label, m) for c in configs for m in ("cluster", "standalone")}
    for trial in trials.values():
        assert trial["status"] == "ok" and trial["valid"] and not trial["replies_checked"], trial
        assert trial["ops"] >= 20_000 and trial["client_cpu_s"] > 0 and trial["latency_us"]["p50"] > 0
    for mode in ("cluster", "standalone"):
        assert trials[(f"{C_CLIENT} P16", mode)]["ops_per_s"] > trials[(C_CLIENT, mode)]["ops_per_s"]
    # every master holds its share of the arm's keys, each a value of the workload's size
    for port in range(7000, 7005):
        keys = arm_keys(port)
        assert len(keys) == trials[(C_CLIENT, "cluster")]["keys_per_master"], port
        assert command("127.0.0.1", port, "STRLEN", keys[0]) == SHORT["workload"].value_size
    with pytest.raises(BenchmarkError, match="runs as one process"):
        run_benchmark(configs[:1], concurrency=[4], repeats=1, processes=2, **SHORT)


def test_pyspy_folds_the_stacks_of_the_measured_window_into_the_record(local_cluster, tmp_path):
    import shutil

    configs = [ClientConfig.parse("optimized")]
    record = run_benchmark(
        configs, modes=["cluster"], concurrency=[4], repeats=1, profile="pyspy", flame_dir=tmp_path, **SHORT
    )
    profile = record["trials"][0]["profile"]
    if profile.get("error"):
        assert shutil.which("py-spy") is None or "could not sample" in profile["error"]
        pytest.skip(f"py-spy cannot attach here: {profile['error']}")
    stacks = profile["stacks"]
    assert profile["samples"] == sum(stacks.values()) > 0
    assert any("_closed_loop" in stack for stack in stacks)  # the trial's own loop was sampled
    assert not any("runpy.py" in stack or "asyncio/" in stack for stack in stacks)  # folded away
    assert "rediscluster_opt/" in "".join(stacks) and str(tmp_path) not in json.dumps(record)
    (raw,) = tmp_path.glob("*.folded")  # py-spy's own output stays for flame graph tools
    assert "_closed_loop" in raw.read_text()
    # py-spy is the trial's own child: its CPU counts as the trial's, not a third process's
    assert record["trials"][0]["machine"]["children_cpu"] > 0


def test_several_processes_run_one_trial_together_and_their_figures_merge(local_cluster):
    configs = [ClientConfig.parse("optimized")]
    record = run_benchmark(configs, modes=["cluster"], concurrency=[4], repeats=1, processes=2, **SHORT)
    validate_record(record)
    (trial,) = record["trials"]
    assert trial["status"] == "ok" and trial["valid"] and trial["processes"] == 2
    parts = trial["per_process"]
    assert len(parts) == 2 and trial["ops"] == sum(p["ops"] for p in parts) > 0
    assert trial["ops_per_s"] == pytest.approx(sum(p["ops_per_s"] for p in parts))
    assert all(abs(p["start_skew_s"]) < 0.5 for p in parts)  # the windows lined up
    assert "latency_samples_ns" not in trial and record["parameters"]["processes"] == 2


def test_a_crashing_trial_is_reported_and_the_run_goes_on(local_cluster, monkeypatch):
    real = runner._run_trial_process

    def sabotage(spec, *rest):
        if spec["config"]["connections_per_node"] == 2:  # make this one trial crash for real
            spec = {**spec, "config": {**spec["config"], "stages": {"writer": "bogus"}}}
        return real(spec, *rest)

    monkeypatch.setattr(runner, "_run_trial_process", sabotage)
    configs = [ClientConfig.parse("optimized", connections_per_node=2), ClientConfig.parse("baseline")]
    record = run_benchmark(configs, modes=["standalone"], concurrency=[2], repeats=1, **SHORT)
    crashed, fine = record["trials"]
    assert crashed["status"] == "failed" and "exited with 1" in crashed["reason"]
    assert "unknown implementation 'bogus'" in crashed["stderr_tail"]
    assert fine["status"] == "ok" and fine["valid"]
    assert record["summary"]["failed_trials"] == [0]
    validate_record(record)


def test_a_hanging_trial_is_killed_at_its_deadline(local_cluster):
    spec = {
        "config": ClientConfig.parse("optimized").__dict__,
        "target": Target().__dict__,
        "workload": Workload(key_count=10).as_dict(),
        "mode": "standalone",
        "concurrency": 1,
        "duration": 60,
        "warmup": 0,
    }
    outcome = runner._run_trial_process(spec, timeout=2)
    assert outcome["status"] == "failed" and "deadline" in outcome["reason"]


@pytest.mark.parametrize("kind", ["cprofile", "line"])
def test_profiles_name_the_hot_path(local_cluster, kind):
    # The composed route names every stage; the fused one is a generated `get` and a
    # fused `execute` per connection.
    configs = [ClientConfig.parse("optimized:dispatch=composed")]
    if kind == "cprofile":
        configs.append(ClientConfig.parse("optimized"))
    record = run_benchmark(configs, modes=["cluster"], concurrency=[8], repeats=1, profile=kind, **SHORT)
    validate_record(record)
    if kind == "cprofile":
        frame = cprofile_frame([record])
        composed = frame[frame["config"] == configs[0].label]
        assert {"_route", "deliver_many", "data_received"} <= set(composed["function"])
        assert {"Client._route", "PooledFutureSubmit.deliver_many"} <= set(composed["qualname"])
        fused = frame[frame["config"] == "optimized"]
        assert {"get", "execute", "deliver_many"} <= set(fused["function"])
        assert "_route" not in set(fused["function"])
        assert frame["own_share"].between(0, 1).all()
    else:
        frame = line_profile_frame([record])
        route = frame[frame["function"] == "Client._route"]
        assert (route["hits"] > 0).any()
        assert route["code"].str.contains("execute").any()
        assert "Timer unit" in record["trials"][0]["profile"]["text"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"duration": 0}, "duration must be a positive number"),
        ({"concurrency": [0]}, "concurrency must be a positive"),
        ({"repeats": 1.5}, "repeats must be a positive integer"),
        ({"modes": ["sharded"]}, "unknown mode"),
        ({"profile": "perf"}, "unknown profile kind 'perf'; choose one of cprofile, line, pyspy"),
        ({"processes": 0}, "processes must be a positive integer"),
        ({"processes": 2, "profile": "cprofile"}, "needs --processes 1"),
        ({"cluster_only": ["redis-py"]}, "cluster_only and warmups name no configuration: redis-py"),
        ({"warmups": {"optimized": -1}}, "warmup of optimized must be"),
        ({"target": Target(seeds=("127.0.0.1:1",))}, "unreachable"),
        ({"target": Target(seeds=("127.0.0.1:7100",))}, "not a cluster node"),
    ],
)
def test_bad_input_fails_before_any_trial(local_cluster, options, message):
    with pytest.raises(BenchmarkError, match=message):
        run_benchmark([ClientConfig.parse("optimized")], **{**SHORT, **options})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fastest", "unknown client 'fastest'"),
        ("optimized:delivery=bogus", "unknown implementation 'bogus' for stage 'delivery'"),
        ("optimized:nostage=x", "unknown stage"),
        ("redis-py:delivery=batch", "apply to our client only"),
    ],
)
def test_bad_client_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        ClientConfig.parse(spec)


def test_explicit_pipelines_of_each_batching_client_check_every_reply(local_cluster):
    """Ours, redis-py and valkey-glide, each through its own pipeline or batch API, in both
    modes: every command of every pipeline counted and its value checked; a pipeline larger
    than the commands in flight is refused with the reason."""
    configs = [ClientConfig("ours", ClientConfig.parse("optimized").stages, batch=10)]
    configs += [ClientConfig(peer, batch=10) for peer in ("redis-py", "valkey-glide")]
    record = run_benchmark(configs, concurrency=[40], repeats=1, experiment="batches", **SHORT)
    validate_record(record)
    assert len(record["trials"]) == 2 * sum(c.available() for c in configs)
    for trial in record["trials"]:
        assert trial["status"] == "ok", trial.get("stderr_tail")
        assert trial["valid"] and trial["wrong"] == 0 and trial["errors"] == 0 and trial["ops"] % 10 == 0
    ours = [t for t in record["trials"] if t["config"] == configs[0].label]
    assert all(t["io"]["commands_per_write"] >= 2 for t in ours)  # a pipeline's share of a node in one write
    refused = run_benchmark(configs[:1], modes=["cluster"], concurrency=[5], repeats=1, **SHORT)
    (trial,) = refused["trials"]
    assert trial["status"] == "failed" and "pipelines of 10 run GETs only" in trial["reason"]
