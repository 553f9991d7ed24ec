"""Micro-benchmark machinery: exact hot-path checks, deterministic instruction counts,
and pyperf wall times (a smoke-sized run)."""

import importlib.util
import os
from pathlib import Path

import pytest

from rediscluster_opt.lab.instruments import micro, perfcases
from rediscluster_opt.stages import REGISTRY


def test_every_registered_variant_has_cases():
    for stage in ("slot_hash", "slot_map", "node_select", "encoder", "submit", "parser", "redirect"):
        assert {c.variant for c in perfcases.cases_for(stage)} == set(REGISTRY[stage]), stage


@pytest.mark.pure_only("counts lock calls and allocations in Python frames")
def test_hot_path_checks_see_locks_and_allocations():
    rows = {
        r["case"]: r
        for r in micro.hot_path_checks(
            [
                "slot_map.ranges.s16383",
                "slot_map.flat.s16383",
                "redirect.regex.bulk200",
                "redirect.first_byte.bulk200",
                "node_select.locked.x1",
                "node_select.lockfree.x1",
            ]
        )
    }
    assert rows["slot_map.ranges.s16383"]["lock_operations_per_call"] == 1  # `with lock:` releases once
    assert rows["node_select.locked.x1"]["lock_operations_per_call"] == 1
    for lock_free in ("slot_map.flat.s16383", "node_select.lockfree.x1"):
        assert rows[lock_free]["lock_operations_per_call"] == 0
    # the regex check decodes the reply to text: it allocates; the first-byte check does not
    assert rows["redirect.regex.bulk200"]["peak_bytes_allocated"] > 200
    assert rows["redirect.first_byte.bulk200"]["peak_bytes_allocated"] == 0
    assert rows["slot_map.flat.s16383"]["peak_bytes_allocated"] == 0


def test_instruction_counts_are_deterministic():
    problem = micro.valgrind_problem()
    if problem:
        pytest.skip(f"instruction counts need valgrind: {problem}")
    cases = ["redirect.first_byte.bulk200", "redirect.regex.bulk200"]
    first = micro.instruction_counts(cases, calls=50_000)
    again = micro.instruction_counts(cases[:1], calls=50_000)
    assert first["skipped"] is None
    counts = {r["case"]: r["instructions_per_call"] for r in first["rows"]}
    # Equal but for a one-off cost the filesystem adds: make test runs this beside the
    # compiled build, which adds folders and files to the package, and a child that lists
    # a folder holding more entries spends more, once (18,000 instructions measured for one
    # folder; 26,500 seen in a clean clone's make test). Spread over 50,000 calls (which
    # cost valgrind about a second: its time is Python's start-up) that is about half an
    # instruction per call; a module compiled by one child and not the other is 35 million
    # and more (700 per call here; 71,000 at 500 calls, seen in a clean clone).
    assert abs(counts["redirect.first_byte.bulk200"] - again["rows"][0]["instructions_per_call"]) < 5
    assert 0 < counts["redirect.first_byte.bulk200"] < counts["redirect.regex.bulk200"]


def test_every_module_has_its_bytecode_before_a_count(tmp_path, monkeypatch):
    """A count's two children never compile a module (one might, the other find it
    compiled): the package is compiled first, and only when something is counted."""
    module = tmp_path / "pkg" / "mod.py"
    module.parent.mkdir()
    module.write_text("X = 1\n")
    micro._sources_digest()  # the real package's, kept (cached) for the other tests
    monkeypatch.setattr(micro, "PACKAGE", tmp_path / "pkg")
    monkeypatch.setattr(micro, "valgrind_problem", lambda: None)
    monkeypatch.setattr(micro, "_instructions", lambda name, calls, pair, build=None: 1_000 + calls)
    monkeypatch.setenv(micro.COUNTS_ENV, str(tmp_path))
    micro.instruction_counts(["slot_hash.crc_hqx.k16"], calls=100)
    assert Path(importlib.util.cache_from_source(str(module))).exists()
    Path(importlib.util.cache_from_source(str(module))).unlink()
    micro.instruction_counts(["slot_hash.crc_hqx.k16"], calls=100)  # known in this run: nothing to count
    assert not Path(importlib.util.cache_from_source(str(module))).exists()


def test_a_run_counts_a_case_once_and_outside_a_run_every_time(tmp_path, monkeypatch):
    made = []

    def count(name, calls, pair, build=None):  # stands in for valgrind: a count per run
        made.append((name, calls, build))
        return 1_000 + (7 * calls if calls else 0)

    monkeypatch.setattr(micro, "valgrind_problem", lambda: None)
    monkeypatch.setattr(micro, "_instructions", count)
    monkeypatch.delenv(micro.COUNTS_ENV, raising=False)
    micro.instruction_counts(["slot_hash.crc_hqx.k16"], calls=100)
    micro.instruction_counts(["slot_hash.crc_hqx.k16"], calls=100)
    assert len(made) == 4  # no run: both calls counted, each with its 0-call pair

    made.clear()
    monkeypatch.setenv(micro.COUNTS_ENV, str(tmp_path))
    first = micro.instruction_counts(["slot_hash.crc_hqx.k16", "slot_hash.bitwise.k16"], calls=100)
    again = micro.instruction_counts(["slot_hash.bitwise.k16", "slot_hash.crc_hqx.k16"], calls=100)
    assert len(made) == 4  # the second asked nothing of valgrind
    assert [r["instructions_per_call"] for r in first["rows"]] == [7.0, 7.0]
    assert [
        (r["case"], r["instructions_per_call"], r["counted_earlier_in_this_run"]) for r in again["rows"]
    ] == [
        ("slot_hash.bitwise.k16", 7.0, True),
        ("slot_hash.crc_hqx.k16", 7.0, True),
    ]
    assert not any(r["counted_earlier_in_this_run"] for r in first["rows"])
    micro.instruction_counts(["slot_hash.crc_hqx.k16"], calls=200)  # other calls: counted
    micro.instruction_counts(["slot_hash.crc_hqx.k16"], calls=100, build="compiled")  # other build
    assert len(made) == 8
    assert not list(tmp_path.glob("*.tmp"))
    # a counting child never sees the folder: a count is the same inside a run and outside
    assert micro.COUNTS_ENV not in micro._count_env(None)
    assert micro._count_env("compiled")["PYTHONHASHSEED"] == "0"


def test_pyperf_wall_times_in_worker_processes():
    # Only the shape: which case is faster is a benchmark's figure, and this test may share
    # the machine with others (a loaded CPU once spread one case over 33k-104k ns).
    rows = micro.wall_times(["slot_hash.crc_hqx.k16", "slot_hash.bitwise.k16"], smoke=True)
    by = {r["case"]: r for r in rows}
    assert set(by) == {"slot_hash.crc_hqx.k16", "slot_hash.bitwise.k16"}
    for row in rows:
        assert row["ns"]["low"] <= row["ns"]["median"] <= row["ns"]["high"] and len(row["values_ns"]) >= 2
        assert all(value > 0 for value in row["values_ns"])


def test_significance_is_welchs_two_sided_p_value():
    # scipy's Welch test on fixed samples: far apart, overlapping, and too few to test
    assert micro.significance([100.0, 101.0, 99.0], [10.0, 11.0, 9.0]) < 0.001
    assert micro.significance([1.0, 2.0, 3.0], [1.5, 2.5, 3.5]) > 0.5
    assert micro.significance([1.0], [2.0, 3.0]) is None


def test_an_unknown_case_is_named():
    with pytest.raises(ValueError, match=r"unknown or no micro-benchmark case\(s\) \['nope'\]"):
        micro.wall_times(["nope"])
    with pytest.raises(KeyError, match="no micro-benchmark case 'slot_map.flat.s7'"):
        perfcases.case_name("slot_map", "flat", "s7")


def test_a_zero_call_count_is_a_child_of_its_own_pair(monkeypatch):
    # two callers counting the same case (a story beside the unit tests) must not share
    # the stable folder of their 0-call runs: the second would get a random name, whose
    # characters moved the count by 20 instructions per call
    seen = []

    class Counted:
        output = "==1== I   refs:      1,000"

        def result(self, timeout):
            return None

    def start(function, spec, **options):
        seen.append((spec, options["stable"]))
        return Counted()

    monkeypatch.setattr(micro, "start_child", start)
    monkeypatch.setattr(micro, "valgrind_problem", lambda: None)
    micro.instruction_counts(["redirect.first_byte.bulk200"], calls=500)
    micro.instruction_counts(["redirect.first_byte.bulk200"], calls=2000)
    zero_calls = [spec for spec, stable in seen if spec["calls"] == 0 and stable]
    assert [spec["pair"] for spec in zero_calls] == [500, 2000]


def test_a_run_of_the_stories_shares_its_counts_only_while_it_runs(monkeypatch):
    from rediscluster_opt.lab.main import counts_shared_by_the_stories

    monkeypatch.delenv(micro.COUNTS_ENV, raising=False)
    with counts_shared_by_the_stories():
        folder = Path(os.environ[micro.COUNTS_ENV])
        assert folder.is_dir()  # the story kernels inherit it
    assert micro.COUNTS_ENV not in os.environ and not folder.exists()


def test_whole_gets_are_counted_at_fewer_calls_than_stage_cases(monkeypatch):
    made = []

    def count(name, calls, pair, build=None):  # stands in for valgrind
        made.append((name, pair))
        return 0

    monkeypatch.setattr(micro, "valgrind_problem", lambda: None)
    monkeypatch.setattr(micro, "_instructions", count)
    monkeypatch.delenv(micro.COUNTS_ENV, raising=False)
    rows = micro.stage_and_get_counts(["route.optimized.get", "slot_hash.crc_hqx.k16"], smoke=False)["rows"]
    assert {(r["case"], r["calls"]) for r in rows} == {
        ("slot_hash.crc_hqx.k16", 20_000),
        ("route.optimized.get", micro.whole_get_calls(False)),
    }
    assert {pair for _, pair in made} == {20_000, micro.whole_get_calls(False)}
