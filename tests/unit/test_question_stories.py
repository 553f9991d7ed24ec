"""The question stories' arms and answers (US-011 runtime settings, US-012 slot-map
containers), from constructed records; their notebooks run in the quick run of
tests/e2e/test_notebooks.py."""

from pathlib import Path

from rediscluster_opt.lab.registry import stories
from rediscluster_opt.lab.story import CPU_AA, THROUGHPUT_AA, StoryRun
from rediscluster_opt.results.stats import Interval

STORY = stories()["US-011"]


def _module(name="us011_runtime"):
    import importlib

    return importlib.import_module(f"experiments.{name}")


def test_every_setting_is_an_arm_of_its_own_beside_the_default():
    module = _module()
    smoke, full = module._configs(smoke=True), module._configs(smoke=False)
    assert {preset for preset, _ in smoke} == {"optimized"} and {p for p, _ in full} == {
        "optimized",
        "baseline",
    }
    labels = [c.label for c in full.values()]
    assert len(set(labels)) == len(labels)
    assert full[("optimized", "gc freeze")].gc == "freeze" and full[("baseline", "asyncio")].loop == "asyncio"


def _run(measured, story=STORY):
    record = {
        "parameters": {"modes": ["cluster"], "concurrency": [64], "duration_s": 2.0, "repeats": 6,
                       "workload": {"key_count": 10000, "value_size": 200}},
        "extra": {"measured": {k: v.as_dict() for k, v in measured.items()}},
        "summary": {"rows": []},
    }  # fmt: skip
    return StoryRun(story, record, Path("x.json"))


def test_the_answer_comes_first_and_names_what_pays():
    module = _module()
    six = {"n": 6, "method": "order statistic", "coverage": 0.969}
    steady = {THROUGHPUT_AA: Interval(1.0, 0.98, 1.02, **six), CPU_AA: Interval(1.0, 0.98, 1.02, **six)}
    nothing = _run({**steady, module.metric("optimized", "gc freeze"): Interval(1.0, 0.97, 1.03, **six),
                    module.collections_metric("optimized", "default"): Interval.exact(0.0)})  # fmt: skip
    text = module.paragraph(nothing)
    assert text.split(". ")[1].startswith("No setting pays beyond the A/A noise here")
    assert "made 0.00 young collections per 1,000 operations" in text
    pays = _run({**steady, module.metric("optimized", "gc freeze"): Interval(1.2, 1.1, 1.3, **six)})
    assert "Tuning pays beyond the A/A noise for: gc.freeze() after the warm-up pays" in module.paragraph(
        pays
    )


def test_the_containers_answer_whether_an_unboxed_array_beats_the_list():
    module = _module("us012_slot_containers")
    six = {"n": 6, "method": "order statistic", "coverage": 0.969}
    story = stories()["US-012"]
    steady = {THROUGHPUT_AA: Interval(1.0, 0.98, 1.02, **six), CPU_AA: Interval(1.0, 0.98, 1.02, **six)}
    even = {**steady, module.metric("array", "throughput"): Interval(0.99, 0.97, 1.01, **six),
            module.metric("array", "instructions"): Interval.exact(1.4)}  # fmt: skip
    text = module.paragraph(_run(even, story))
    assert "No: no container beats the list beyond its noise here" in text
    assert (
        "Node indexes in an unboxed array('H') over the list: instructions per lookup 1.4 (NOT met)" in text
    )
    faster = {**steady, module.metric("bytes", "throughput"): Interval(1.2, 1.1, 1.3, **six)}
    assert (
        module.paragraph(_run(faster, story))
        .split(". ")[1]
        .startswith("Yes, for: node indexes in bytes beats")
    )


def test_the_pool_story_compares_the_pool_with_none_and_with_a_small_cap():
    module = _module("us013_response_pool")
    arms = module.arms()
    assert arms["pooled"].stages["submit"] == "pooled" and arms["none"].stages["submit"] == "future"
    assert arms["small"].free_cap == module.SMALL_CAP and arms["pooled"].free_cap is None
    assert len({c.label for c in arms.values()}) == 3


def test_the_pool_answer_says_keep_or_not_with_its_figure_and_why_no_striping():
    module = _module("us013_response_pool")
    story = stories()["US-013"]
    six = {"n": 6, "method": "order statistic", "coverage": 0.969}
    steady = {THROUGHPUT_AA: Interval(1.0, 0.98, 1.02, **six), CPU_AA: Interval(1.0, 0.98, 1.02, **six)}
    slower = {**steady, module.metric("none", "throughput"): Interval(0.9, 0.88, 0.93, **six),
              module.metric("small", "throughput"): Interval(0.99, 0.97, 1.02, **six)}  # fmt: skip
    run = _run(slower, story)
    run.record["extra"]["levels"] = [16, 64, 256]
    text = module.paragraph(run)
    assert (
        "Keep the pool: at C=256, no pool gives 0.90 [0.88–0.93] of the pool's throughput (met, A/A 1.00"
        in text
    )
    assert f"kept to {module.SMALL_CAP} records gives 0.99 [0.97–1.02] of the default's (equivalent)" in text
    assert module.STRIPING in text
    even = _run({**steady, module.metric("none", "throughput"): Interval(1.0, 0.97, 1.03, **six)}, story)
    assert "The pool makes no difference that matters (within +-5% (0.93–1.07 with the A/A))" in (
        module.paragraph(even)
    )
    wide = _run({**steady, module.metric("none", "throughput"): Interval(1.0, 0.8, 1.15, **six)}, story)
    assert "Not settled: at the highest concurrency, no pool gives" in module.paragraph(wide)
    assert "Not answered" in module.paragraph(_run(steady, story))


def test_the_refresh_story_runs_the_preset_more_often_and_never():
    module = _module("us014_refresh_interval")
    arms = module.arms()
    assert arms[module.DEFAULT_S].cluster_options is None  # the preset as it ships
    assert arms[None].cluster_options == {"refresh_interval": None}
    assert arms[module.OFTEN_S].cluster_options == {"refresh_interval": module.OFTEN_S}
    assert len({c.label for c in arms.values()}) == len(arms)
    import inspect

    from rediscluster_opt.client import ClusterClient

    shipped = inspect.signature(ClusterClient.__init__).parameters["refresh_interval"].default
    assert shipped == module.DEFAULT_S  # the story's "default" is the client's


def test_the_refresh_answer_gives_the_cost_and_the_heal_times():
    module = _module("us014_refresh_interval")
    story = stories()["US-014"]
    six = {"n": 6, "method": "order statistic", "coverage": 0.969}
    steady = {THROUGHPUT_AA: Interval(1.0, 0.98, 1.02, **six), CPU_AA: Interval(1.0, 0.98, 1.02, **six)}
    free = {**steady, module.metric("throughput", module.OFTEN_S): Interval(1.0, 0.99, 1.01, **six),
            module.metric("heal", 0.25): Interval(0.12, 0.05, 0.2, **six),
            module.metric("heal", 10.0): Interval(4.9, 1.2, 8.8, **six)}  # fmt: skip
    text = module.paragraph(_run(free, story))
    assert "Refreshing every 0.25 s instead of 10 s costs nothing that matters (no effect beyond +-5%" in text
    unsure = {**free, module.metric("throughput", module.OFTEN_S): Interval(1.0, 0.8, 1.1, **six)}
    assert "shows no cost beyond the noise, though one is not excluded: throughput 1.00" in (
        module.paragraph(_run(unsure, story))
    )
    assert "heals in a median 0.120 [0.050–0.200] s at 0.25 s, against 4.90 [1.20–8.80] s at 10 s" in text
    costly = {**steady, module.metric("throughput", module.OFTEN_S): Interval(0.9, 0.88, 0.92, **six)}
    assert "instead of 10 s costs: throughput 0.90" in module.paragraph(_run(costly, story))


def test_the_cache_answer_weighs_the_best_saving_against_the_cpu_noise():
    module = _module("us015_topology_cache")
    story = stories()["US-015"]
    six = {"n": 6, "method": "order statistic", "coverage": 0.969}
    steady = {THROUGHPUT_AA: Interval(1.0, 0.98, 1.02, **six), CPU_AA: Interval(1.0, 0.98, 1.02, **six)}
    small = {**steady, module.metric("bound_local", "saved"): Interval.exact(0.003),
             module.metric("contextvar", "saved"): Interval.exact(-0.004)}  # fmt: skip
    text = module.paragraph(_run(small, story))
    assert "No: the cheapest way, the table as a bound default argument, saves 0.30% of a command's" in text
    assert "cannot tell apart less than 2.00%" in text and module.UPKEEP in text
    large = {**steady, module.metric("closure", "saved"): Interval.exact(0.05)}
    assert (
        module.paragraph(_run(large, story))
        .split(". ")[1]
        .startswith("Yes: the cheapest way, the table as a")
    )
    assert "Not answered" in module.paragraph(_run(steady, story))


def test_every_way_to_the_table_reads_the_same_owner():
    from rediscluster_opt.lab.instruments.perfcases import CASES, TABLE_READS

    module = _module("us015_topology_cache")
    owners = {CASES[module.case(way)].make()() for way in TABLE_READS}
    assert owners == {"127.0.0.1:7004"}  # the last slot's master in the five-master layout


def _scaling_point(sweep, client, x, cpu, series="", per_write=None):
    found = {"sweep": sweep, "client": client, "x": x, "series": series,
             "cpu_us_per_op": {"median": cpu, "low": cpu, "high": cpu}}  # fmt: skip
    if per_write is not None:
        found["commands_per_write"] = {"median": per_write, "low": per_write, "high": per_write}
    return found


def test_the_scaling_story_sweeps_ours_the_bare_arm_and_glide_at_each_size():
    from rediscluster_opt.lab.parameters import check_parameters

    module = _module("us016_scaling")
    default = [c.client for c in module.clients(check_parameters())]
    assert default == ["ours", "calibration:bare", "valkey-glide"]
    assert [c.client for c in module.clients(check_parameters(smoke=True))] == ["ours", "calibration:bare"]
    assert module.at_size(module.clients(check_parameters())[1], 12).label == "calibration:bare N=12"
    assert module.swept_sizes((3, 5, 6, 3), target_masters=5) == (3, 6)  # the target is one point


def test_the_scaling_answer_says_how_each_cost_grows():
    module = _module("us016_scaling")
    story = stories()["US-016"]
    six = {"n": 6, "method": "order statistic", "coverage": 0.969}
    steady = {THROUGHPUT_AA: Interval(1.0, 0.98, 1.02, **six), CPU_AA: Interval(1.0, 0.98, 1.02, **six)}
    measured = {**steady, module.metric("masters", "largest", "over_bare"): Interval(0.7, 0.65, 0.75, **six)}
    run = _run(measured, story)
    run.record["extra"].update(
        sizes=[3, 5, 12],
        headline_level=64,
        points=[
            _scaling_point("masters", "ours", 3, 4.0, "C=64", per_write=18.0),
            _scaling_point("masters", "ours", 12, 6.0, "C=64", per_write=4.5),
            _scaling_point("masters", "calibration:bare", 3, 3.0, "C=64"),
            _scaling_point("masters", "calibration:bare", 12, 4.0, "C=64"),
            _scaling_point("value", "ours", 16, 4.0),
            _scaling_point("value", "ours", 65536, 30.0),
        ],
    )
    text = module.paragraph(run)
    assert (
        "From 3 to 12 masters at C=64, our client CPU per op goes from 4.00 to 6.00 µs (the bare "
        "multiplexer's from 3.00 to 4.00), and commands per write from 18.0 to 4.5 (C/N: 21.3 to 5.3); at 12 "
        "masters ours is 0.70 [0.65–0.75] of the bare arm (NOT met)." in text
    )
    assert "By value size, from 16 B to 65536 B our CPU per op goes from 4.00 to 30.00 µs." in text


def test_the_batching_story_runs_every_size_beside_implicit_batching_and_the_peers():
    module = _module("us017_batching")
    found = module.arms((1, 10, 100), peers=True)
    assert found[("ours", 0)].batch is None and [found[("ours", n)].batch for n in (1, 10, 100)] == [
        1,
        10,
        100,
    ]
    assert found[("redis-py", 100)].batch == found[("valkey-glide", 100)].batch == 100
    assert len({c.label for c in found.values()}) == len(found)
    assert set(module.arms((10,), peers=False)) == {("ours", 0), ("ours", 10)}


def test_the_batching_answer_leads_with_pipelines_of_100():
    module = _module("us017_batching")
    story = stories()["US-017"]
    six = {"n": 6, "method": "order statistic", "coverage": 0.969}
    steady = {THROUGHPUT_AA: Interval(1.0, 0.98, 1.02, **six), CPU_AA: Interval(1.0, 0.98, 1.02, **six)}
    measured = {**steady, module.metric("ours", 100, "throughput"): Interval(1.4, 1.3, 1.5, **six),
                module.metric("ours", 10, "throughput"): Interval(1.1, 1.0, 1.2, **six),
                module.metric("redis-py", 100, "over"): Interval(4.0, 3.5, 4.5, **six)}  # fmt: skip
    run = _run(measured, story)
    run.record["extra"]["in_flight"] = 1000
    text = module.paragraph(run)
    assert (
        "Pipelines of 100 GETs give 1.40 [1.30–1.50] of the throughput of the multiplexer's implicit" in text
    )
    assert "at the same 1000 commands in flight (met" in text
    assert "ours is 4.00 [3.50–4.50]x redis-py's." in text
    assert "by pipeline size, 10: 1.10 [1.00–1.20]; 100: 1.40 [1.30–1.50]." in text


def test_the_ablation_sets_back_one_stage_per_arm_beside_the_preset_and_the_baseline():
    from rediscluster_opt.stages import BASELINE, OPTIMIZED

    module = _module("us019_ablation")
    changed = {stage for stage in OPTIMIZED if OPTIMIZED[stage] != BASELINE[stage]}
    assert {a.split("=")[0] for a in module.ALL} == changed  # every stage the preset changes
    found = module.arms(module.ALL, ("redis-py",))
    for ablation in module.ALL:
        stage, _, variant = ablation.partition("=")
        differs = {k for k, v in found[ablation].stages.items() if v != OPTIMIZED[k]}
        assert differs == {stage} and found[ablation].stages[stage] == variant
    assert found["baseline"].stages == BASELINE and found["redis-py"].client == "redis-py"
    assert len({c.label for c in found.values()}) == len(found)


def test_an_ablation_parameter_names_a_known_variant_other_than_the_presets():
    import pytest

    from rediscluster_opt.lab.parameters import NotebookParameterError

    module = _module("us019_ablation")
    assert module._ablations("ablations", ["submit=future"]) == ("submit=future",)
    for bad in (["submit=pooled"], ["submit=nope"], ["nostage=x"], []):
        with pytest.raises(NotebookParameterError, match="'ablations'"):
            module._ablations("ablations", bad)


def test_the_ablation_answer_sorts_the_stages_into_pays_costs_no_difference_and_not_settled():
    module = _module("us019_ablation")
    story = stories()["US-019"]
    six = {"n": 6, "method": "order statistic", "coverage": 0.969}
    steady = {THROUGHPUT_AA: Interval(1.0, 0.98, 1.02, **six), CPU_AA: Interval(1.0, 0.98, 1.02, **six)}
    measured = {
        **steady,
        module.WHOLE_CPU: Interval(0.2, 0.18, 0.22, **six),
        module.metric("parser=python", "throughput"): Interval(1.5, 1.4, 1.6, **six),
        module.metric("parser=python", "cpu"): Interval(0.7, 0.65, 0.75, **six),
        module.metric("dispatch=fused", "throughput"): Interval(1.01, 0.97, 1.05, **six),
        module.metric("dispatch=fused", "cpu"): Interval(0.99, 0.95, 1.03, **six),
        module.metric("writer=direct", "throughput"): Interval(0.9, 0.85, 0.95, **six),
        module.metric("writer=direct", "cpu"): Interval(1.1, 1.05, 1.15, **six),
        module.metric("redirect=regex", "throughput"): Interval(1.06, 0.9, 1.22, **six),
        module.metric("redirect=regex", "cpu"): Interval(0.95, 0.8, 1.1, **six),
    }
    run = _run(measured, story)
    run.record["extra"]["ablations"] = ["parser=python", "dispatch=fused", "writer=direct", "redirect=regex"]
    text = module.paragraph(run)
    assert "The whole preset runs at 0.20 [0.18–0.22] of the baseline's client CPU per op." in text
    assert "Pays inside the preset (its removal is slower beyond the A/A band): parser." in text
    assert "Costs inside the preset (its removal is faster): writer." in text
    assert "No difference beyond +-5 % either way (both verdicts equivalent): dispatch over fused." in text
    assert "Not settled by this run (within the A/A band): redirect." in text
    assert "parser=python: 1.50 [1.40–1.60] and 0.70 [0.65–0.75]" in text
    rows = {r["set back to"]: r for r in module.ablation_rows(run)}
    assert rows["python"]["stage"] == "parser=hiredis" and rows["python"]["inside the preset"] == "pays"
    assert rows["fused"]["throughput, preset / without"] == "1.01 [0.97–1.05]"
    assert rows["direct"]["inside the preset"] == "costs"
