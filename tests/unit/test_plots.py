"""The figures draw what their data says: every panel has data, verdicts sit in panels by
unit, censored values are arrows, and flame graphs start at the trial's own code."""

import matplotlib
import pytest

matplotlib.use("Agg")

from experiments.us008_final import charts as us008_charts  # noqa: E402
from experiments.us009_inlining import charts as us009_charts  # noqa: E402
from experiments.us016_scaling import charts as us016_charts  # noqa: E402
from rediscluster_opt.bench.profiling import fold_stacks  # noqa: E402
from rediscluster_opt.lab.criteria import Criterion, evaluate  # noqa: E402
from rediscluster_opt.lab.presentation import plots  # noqa: E402
from rediscluster_opt.results.stats import Interval, interval  # noqa: E402

SIX = {"n": 6, "method": "order statistic", "coverage": 0.969}


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_a_panel_with_only_reference_lines_is_empty():
    import matplotlib.pyplot as plt

    fig, (drawn, bare) = plt.subplots(1, 2)
    drawn.bar([1], [2])
    bare.axvline(0)
    bare.axhline(400)
    bare.axvspan(0, 1)
    bare.set_title("flood")
    assert plots.empty_panels(fig) == ["flood"]


def test_verdicts_sit_in_panels_by_unit_and_zero_criteria_are_drawn():
    criteria = [
        Criterion("throughput", "gain", ">=", 1, "PRD", "aa"),
        Criterion("ns per hash", "ns", "<", 1000, "PRD", unit="ns per call"),
        Criterion("lock operations", "locks", "<=", 0, "PRD", unit="lock operations"),
        Criterion("drop change", "drop", "<", 0, "PRD", "drop.aa", additive=True, unit="difference"),
        Criterion("not run", "missing", ">=", 1, "PRD"),
    ]
    measured = {
        "gain": Interval(1.3, 1.2, 1.4, **SIX),
        "aa": Interval(1.0, 0.95, 1.05, **SIX),
        "ns": Interval(525, 520, 530, **SIX),
        "locks": Interval.exact(0),
        "drop": Interval(-0.15, -0.2, -0.1, **SIX),
        "drop.aa": Interval(-0.02, -0.05, 0.01, **SIX),
    }
    fig = plots.verdicts(evaluate(criteria, measured))
    assert [ax.get_xlabel() for ax in fig.axes] == [
        "ratio (log scale)",
        "ns per call",
        "lock operations",
        "difference",
    ]
    assert plots.empty_panels(fig) == []
    locks = fig.axes[2]
    assert locks.get_xlim()[0] < 0 < locks.get_xlim()[1]  # a zero figure and threshold are in view
    assert "Not drawn: 1 not measured" in fig._supxlabel.get_text()


def test_a_censored_recovery_is_drawn_as_an_arrow():
    criterion = Criterion("served again within 1 s", "recovery", "<=", 1.0, "project target", unit="s")
    measured = {"recovery": interval([0.2, 0.3], censored=[2.5, 2.5, 2.5, 2.5])}
    (row,) = evaluate([criterion], measured)
    fig = plots.verdicts([row])
    arrows = [t for t in fig.axes[0].texts if getattr(t, "arrow_patch", None) is not None]
    assert row["verdict"] == "NOT met" and len(arrows) == 1


def test_fold_stacks_drops_the_machinery_and_line_numbers():
    raw = (
        "<module> (runpy.py:198);_run_code (runpy.py:88);run (asyncio/runners.py:190);"
        "Handle._run (asyncio/events.py:84);task (rediscluster_opt/bench/trial.py:110);"
        "Client._route (rediscluster_opt/client/client.py:167) 40\n"
        "<module> (runpy.py:198);Handle._run (asyncio/events.py:84);"
        "task (rediscluster_opt/bench/trial.py:112);"
        "Client._route (rediscluster_opt/client/client.py:170) 2\n"
        "<module> (runpy.py:198);BaseEventLoop._run_once (asyncio/base_events.py:1900) 5\n"
        "not a stack line\n"
    )
    stacks = fold_stacks(raw)
    route = "task (rediscluster_opt/bench/trial.py);Client._route (rediscluster_opt/client/client.py)"
    assert stacks == {route: 42, "(event loop)": 5}


def test_a_flame_graph_draws_every_frame_with_its_share():
    stacks = {"task (rediscluster_opt/bench/trial.py);get (rediscluster_opt/client/commands.py)": 90,
              "task (rediscluster_opt/bench/trial.py);send (selectors.py)": 10}  # fmt: skip
    fig = plots.flame_graph(stacks, title="US-000: where optimized spends its time")
    (ax,) = fig.axes
    widths = sorted(round(p.get_width(), 2) for p in ax.patches)
    assert widths == [0.1, 0.9, 1.0]  # the root frame, and its two children
    assert {t.get_text() for t in ax.texts} >= {"task", "get"}
    assert plots.empty_panels(fig) == []


def test_rest_bars_carry_whiskers_and_say_drop():
    row = {"scenario": "get_single", "config": "baseline", "drop": 0.5,
           "standalone_req_s": 100.0, "standalone_req_s_min": 90.0, "standalone_req_s_max": 110.0,
           "cluster_req_s": 50.0, "cluster_req_s_min": 40.0, "cluster_req_s_max": 60.0}  # fmt: skip
    fig = us008_charts.rest_bars([row, {**row, "config": "optimized", "drop": 0.1}], {"baseline": "before"})
    (ax,) = fig.axes
    assert len(ax.containers) == 4  # two bar groups and their error bars
    assert {t.get_text() for t in ax.texts} == {"drop 50%", "drop 10%"}
    assert ax.patches[0].get_facecolor()[:3] == matplotlib.colors.to_rgb(plots.ROLE_COLOURS["before"])


def test_colours_keep_one_meaning():
    # Green and red are verdicts only; every role and peer has a colour no verdict uses.
    roles = set(plots.ROLE_COLOURS.values())
    assert not roles & set(plots.VERDICT_COLOURS.values())
    assert len(roles) == len(plots.ROLE_COLOURS)
    assert plots.CLIENT_COLOURS["ours"] == plots.ROLE_COLOURS["after"]


def test_lines_take_their_role_colour_and_share_a_role_by_style():
    import pandas as pd

    rows = [
        {"status": "ok", "valid": True, "config": config, "concurrency": level, "ops_per_s": ops,
         "client_cpu_us_per_op": 5.0}
        for config, ops in (("composed", 100.0), ("shaped", 150.0), ("fused", 140.0), ("valkey-glide", 30.0))
        for level in (1, 16)
    ]  # fmt: skip
    roles = {"composed": "before", "shaped": "after", "valkey-glide": "valkey-glide"}
    fig = us009_charts.concurrency_sweep(pd.DataFrame(rows), roles)
    lines = {bars.get_label(): bars.lines[0] for bars in fig.axes[0].containers}  # median lines, by config
    rgb = matplotlib.colors.to_rgb
    assert rgb(lines["shaped"].get_color()) == rgb(plots.ROLE_COLOURS["after"])
    assert rgb(lines["valkey-glide"].get_color()) == rgb(plots.ROLE_COLOURS["valkey-glide"])
    assert rgb(lines["fused"].get_color()) == rgb(plots.ROLE_COLOURS["variant"])
    roles = plots.variant_roles("slot_map")
    assert (roles["ranges"], roles["flat"], roles["array"]) == ("before", "after", "variant")


def test_scaling_curves_draw_a_line_per_client_and_series_on_log_axes():
    def point(client, series, x, ops):
        return {"client": client, "series": series, "x": x,
                "ops_per_s": {"median": ops, "low": ops * 0.9, "high": ops * 1.1}}  # fmt: skip

    points = [
        point(c, s, x, 1000 * x)
        for c in ("ours", "calibration:bare")
        for s in ("C=16", "C=64")
        for x in (3, 6)
    ]
    fig = us016_charts.scaling_curves(points, [("ops_per_s", "ops/s")], x_label="masters (N)",
                               references={"ours": {"ops_per_s": 5000}})  # fmt: skip
    (ax,) = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log" and not plots.empty_panels(fig)
    handles, labels = ax.get_legend_handles_labels()
    assert labels == [
        "ours standalone",
        "ours C=16",
        "ours C=64",
        "calibration:bare C=16",
        "calibration:bare C=64",
    ]
    colours = {
        label: getattr(h, "lines", [h])[0].get_color() for h, label in zip(handles, labels, strict=True)
    }
    assert colours["ours C=16"] == plots.CLIENT_COLOURS["ours"] != colours["calibration:bare C=16"]
