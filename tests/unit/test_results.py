"""The results layer on synthetic records: pairing, summaries, comparing two runs, and the
import direction between the layers."""

import ast
import re
from pathlib import Path

import pytest

from rediscluster_opt.results import new_record, paired_ratio, pairs, summarize
from rediscluster_opt.results.compare import compare_runs, format_comparison

PACKAGE = Path(__file__).resolve().parents[2] / "rediscluster_opt"


def _trial(index, repeat, config, ops, mode="cluster", cpu=1.0, level=64):
    return {
        "index": index,
        "repeat": repeat,
        "config": config,
        "mode": mode,
        "concurrency": level,
        "status": "ok",
        "valid": True,
        "ops": int(ops * 2),
        "ops_per_s": ops,
        "client_cpu_s": cpu,
        "errors": 0,
        "wrong": 0,
        "latency_us": {"p50": 1e6 / ops, "p99": 3e6 / ops},
    }


def _record(values, repeats=None):
    """values: {config: [ops per repeat]} in cluster mode, CPU 1 s per trial."""
    trials = [_trial(0, r, c, v) for c, vs in values.items() for r, v in enumerate(vs)]
    for i, t in enumerate(trials):
        t["index"] = i
    configs = [{"client": "ours", "label": c, "loop": "uvloop"} for c in values]
    params = {"modes": ["cluster"], "concurrency": [64], "duration_s": 1.0, "repeats": repeats or 5}
    return new_record(
        "bench", params, configs, {"python": "3.11", "cpu_count": 2, "packages": {}, "git": {}}, trials, []
    )


def test_pairs_are_taken_per_repeat_and_failed_trials_drop_their_pair():
    record = _record({"a": [100, 110, 120], "b": [200, 200, 300]})
    assert pairs(record, "b", "a") == [(200, 100), (200, 110), (300, 120)]
    record["trials"][1]["status"] = "failed"  # a's repeat 1
    assert pairs(record, "b", "a") == [(200, 100), (300, 120)]
    found = paired_ratio(record, "b", "a")
    assert (found.median, found.low, found.high, found.n, found.method) == (
        2.25,
        2.0,
        2.5,
        2,
        "order statistic",
    )
    assert found.coverage == 0.5  # the range of 2 pairs holds the median half the time


def test_summary_ratios_carry_intervals_for_throughput_and_cpu_per_op():
    record = _record({"a": [100, 100, 100, 100, 100], "b": [150, 160, 140, 150, 155]})
    (ratio,) = record["summary"]["ratios"]
    assert ratio["config"] == "b" and ratio["reference"] == "a"
    assert ratio["ratio"]["median"] == 1.5 and ratio["ratio"]["method"] == "order statistic"
    assert ratio["ratio"]["coverage"] == pytest.approx(1 - 2 / 32)  # the min-max of 5
    assert 1.4 <= ratio["ratio"]["low"] <= 1.5 <= ratio["ratio"]["high"] <= 1.6
    # Same CPU seconds for more operations: the CPU per op ratio is the inverse of throughput.
    assert ratio["cpu_ratio"]["median"] == pytest.approx(1 / 1.5)
    row = next(r for r in record["summary"]["rows"] if r["config"] == "b")
    assert row["ops_per_s"] == {"median": 150, "min": 140, "max": 160, "n": 5}


def test_with_a_calibration_arm_each_of_ours_is_also_a_fraction_of_it():
    record = _record({"ours-a": [80] * 5, "bare": [100] * 5, "glide": [20] * 5, "ours-b": [90] * 5})
    record["configurations"][1]["client"] = "calibration:bare"
    record["configurations"][2]["client"] = "valkey-glide"
    found = {(r["config"], r["reference"]): r["ratio"]["median"] for r in summarize(record)["ratios"]}
    assert found == {
        ("bare", "ours-a"): 1.25,
        ("glide", "ours-a"): 0.25,
        ("ours-b", "ours-a"): 1.125,
        ("ours-a", "bare"): 0.8,  # the overhead budget: ours as a fraction of the bare design
        ("ours-b", "bare"): 0.9,
    }


def test_cluster_over_standalone_pairs_the_modes_per_repeat():
    trials = [
        _trial(0, r, "a", v, mode=m) for r in range(3) for m, v in (("cluster", 90 + r), ("standalone", 100))
    ]
    for i, t in enumerate(trials):
        t["index"] = i
    params = {"modes": ["cluster", "standalone"], "concurrency": [64], "duration_s": 1.0, "repeats": 3}
    record = new_record("x", params, [{"client": "ours", "label": "a"}], {}, trials, [])
    (row,) = record["summary"]["mode_ratios"]
    assert row["cluster_over_standalone"]["median"] == pytest.approx(0.91)
    assert summarize(record) == record["summary"]


def test_compare_two_runs_by_their_within_run_ratios():
    a = {"bench": _record({"base": [100] * 5, "fast": [150, 152, 148, 151, 149]})}
    b = {"bench": _record({"base": [80] * 5, "fast": [160, 162, 158, 161, 159]})}  # a slower machine
    rows = compare_runs(a, b)
    ratio = next(
        r
        for r in rows
        if r["config"] == "fast" and r["metric"] == "ops_per_s" and r["kind"].startswith("ratio")
    )
    assert ratio["a"] == 1.5 and ratio["b"] == 2.0 and ratio["state"] == "better"
    cpu = next(
        r
        for r in rows
        if r["config"] == "fast" and r["metric"] == "cpu_us_per_op" and r["kind"].startswith("ratio")
    )
    assert cpu["state"] == "better"  # less CPU per op relative to the reference
    absolute = next(r for r in rows if r["config"] == "base" and r["metric"] == "ops_per_s")
    assert absolute["kind"] == "absolute (across runs)" and absolute["state"] == "worse"
    same = compare_runs(a, a)
    assert {r["state"] for r in same if r["kind"].startswith("ratio")} == {"inconclusive"}
    assert "better" in format_comparison(rows)


# Which package may import which: a layer never imports from one above it.
LEAVES = {
    "errors",
    "validate",
    "defaults",
    "workspace",
    "child",
    "compiled",
}  # modules that import nothing of the package but each other (child finds the workspace)
ALLOWED = {
    "core": {"errors"},  # the parsers deliver error replies as ResponseError values
    "native": {"core"} | LEAVES,  # Cython stage variants (hotpath.pyx reads core.resp's NEED_DATA)
    "stages": {"core", "native"} | LEAVES,  # the native variants join the tables once built
    "mux": {"core", "stages"} | LEAVES,
    "tls": {"core"},  # builds ssl contexts from core.url's TLSSettings
    "client": {"core", "stages", "mux", "tls", "native"} | LEAVES,  # native: the Cython routes
    "compat": {"core", "stages", "client"} | LEAVES,  # redis-py's API over the client
    "results": {"workspace"},
    "bench": {"core", "stages", "mux", "client", "compat", "results", "admin", "tls"} | LEAVES,
    "rest": {"core", "stages", "mux", "client", "compat", "results", "admin", "bench", "tls"} | LEAVES,
    # testing: fault injection, scripted servers, and redis-py's tests run against compat
    "testing": {"core", "stages", "mux", "client", "compat", "admin", "localcluster", "bench", "tls"}
    | LEAVES,
    "lab": {
        "core",
        "stages",
        "mux",
        "client",
        "compat",
        "results",
        "admin",
        "localcluster",
        "bench",
        "rest",
        "tls",
        "testing",
        "native",  # whether the native arms can run here
    }
    | LEAVES,
}


def _imported_packages(path: Path) -> set[str]:
    found = set()
    sibling = len(path.relative_to(PACKAGE).parts)  # the relative level that leaves one's own layer
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = (node.module or "").split(".")
            # from ..x import y (level 2 inside a package) names the sibling package x
            if node.level >= sibling and parts[0]:
                found.add(parts[0])
            elif node.level >= sibling:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                if name and name.startswith("rediscluster_opt."):
                    found.add(name.split(".")[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_layer_imports_from_a_layer_above_it(layer):
    for leaf in LEAVES:
        assert _imported_packages(PACKAGE / f"{leaf}.py") <= LEAVES, leaf
    module = PACKAGE / f"{layer}.py"  # a one-module layer (tls.py) or a package
    paths = [module] if module.exists() else list((PACKAGE / layer).rglob("*.py"))
    assert paths, layer
    for path in paths:
        imported = _imported_packages(path) - {layer}
        assert imported <= ALLOWED[layer], f"{path.name} imports {sorted(imported - ALLOWED[layer])}"


def test_a_record_is_checked_against_the_schema_and_the_error_names_where():
    from rediscluster_opt.results import InvalidRecord, validate_record

    record = _record({"a": [100.0, 110.0]})
    record["environment"]["git"] = {"commit": "0" * 40, "dirty": False}
    validate_record(record)
    failed = {**record["trials"][1], "status": "failed"}
    failed.pop("ops")  # a failed trial needs no figures, but its reason
    broken = [
        ({**record, "trials": [{**record["trials"][0], "ops": "x"}]}, "data.trials[0].ops must be integer"),
        ({k: v for k, v in record.items() if k != "environment"}, "must contain ['environment']"),
        ({**record, "trials": [failed]}, "data.trials[0] must contain ['reason']"),  # the schema's if/else
    ]
    for bad, message in broken:
        with pytest.raises(InvalidRecord, match=re.escape(message)):
            validate_record(bad)
    validate_record({**record, "trials": [{**failed, "reason": "killed after the 30 s deadline"}]})
