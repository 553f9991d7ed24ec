"""The lab's pure parts: parameters, story stages, summary.md, publishing a reference,
and the figures that must keep modes apart."""

from dataclasses import fields
from pathlib import Path
from unittest.mock import MagicMock

import pytest

from rediscluster_opt.lab import parameters as parameters_module
from rediscluster_opt.lab.compare import cumulative_stages, ordered, roles
from rediscluster_opt.lab.parameters import NotebookParameterError, Parameters, check_parameters, modes
from rediscluster_opt.lab.registry import stage_stories, stories, story
from rediscluster_opt.stages import Stages

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_come_from_the_default_mode_and_values_are_normalised():
    params = check_parameters(seeds="127.0.0.1:7000", concurrency=64, standalone="")
    assert params.seeds == ("127.0.0.1:7000",) and params.concurrency == (64,) and params.standalone is None
    assert check_parameters() == Parameters()
    default = modes()["default"]
    for field in fields(Parameters):
        if field.name not in ("results_dir", "figures_dir", "own"):
            value = getattr(Parameters(), field.name)
            assert (list(value) if isinstance(value, tuple) else value) == default[field.name], field.name
    assert Parameters().results_dir.endswith("results/cluster")  # relative folders: from the repo root


def test_every_mode_sets_only_known_parameters_and_every_parameter_has_a_check():
    known = {f.name for f in fields(Parameters)} - {"own"}
    assert set(parameters_module._CHECKS) == known
    for name, values in modes().items():
        assert set(values) == known, name
        check_parameters(**values)


def test_each_story_has_a_value_for_every_parameter_in_every_mode_and_checks_its_own():
    from rediscluster_opt.lab.parameters import check_story_parameters, parameter_names, story_values

    for each in stories().values():
        for mode in modes():
            values = story_values(each, mode)
            assert list(values) == parameter_names(each), (each.id, mode)
            checked = check_story_parameters(each, values)
            assert set(checked.own) == {own.name for own in each.own}, (each.id, mode)
        with pytest.raises(NotebookParameterError, match="unknown notebook parameter"):
            check_story_parameters(each, {**story_values(each, "quick"), "no_such_thing": 1})
    node_selection = story("US-004")
    assert story_values(node_selection, "quick")["connections"] == [1, 2]
    assert story_values(node_selection, "full")["connections"] == [1, 2, 4]  # the default mode's stands in


def test_papermill_hands_every_story_value_to_the_notebook_unchanged():
    """papermill writes parameters as Python source; a type it does not know (a tuple)
    arrives as its text, which the parameter checks would refuse."""
    from papermill.translators import PythonTranslator

    from rediscluster_opt.lab.parameters import story_values

    for each in stories().values():
        for mode in modes():
            for name, value in story_values(each, mode).items():
                assert eval(PythonTranslator.translate(value)) == value, (each.id, mode, name)  # noqa: S307


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"duration": 0}, "'duration': must be a positive number, got 0"),
        ({"warmup": -1}, "'warmup': must be a number >= 0"),
        ({"rest_warmup": 0.5}, "'rest_warmup': must be a whole number >= 0, got 0.5"),  # autocannon's seconds
        ({"rest_duration": 1.5}, "'rest_duration': must be a positive whole number, got 1.5"),
        ({"repeats": 2.5}, "'repeats': must be a positive integer"),
        ({"concurrency": []}, "'concurrency': must be a non-empty list"),
        ({"seeds": ["h:70000"]}, "'seeds': bad address"),
        ({"peers": ["jedis"]}, "'peers': must be a list drawn from redis-py"),
        ({"smoke": "yes"}, "'smoke': must be True or False"),
        ({"rerun": 1}, "'rerun': must be True or False"),
        ({"allow_destructive": "yes"}, "'allow_destructive': must be True or False"),
        ({"seeds": "redis://u:hunter@h:7000"}, "'seeds': a URL parameter must not hold its password"),
        ({"standalone": "redis://h:7100/x"}, "'standalone': bad URL"),
        ({"durations": 1}, "unknown notebook parameter(s) durations"),
    ],
)
def test_bad_parameters_are_named(values, message):
    with pytest.raises(
        NotebookParameterError, match=message.replace("(", r"\(").replace(")", r"\)")
    ) as caught:
        check_parameters(**values)
    assert "hunter" not in str(caught.value)


def test_a_target_may_be_urls_with_the_password_in_the_environment(monkeypatch):
    monkeypatch.setenv("STAGING_PW", "s3cret")
    params = check_parameters(
        seeds="rediss://ops@10.0.0.5:7000?password_env=STAGING_PW&ssl_ca_certs=/ca.pem",
        standalone="10.0.0.9:6379",
        allow_destructive=None,
    )
    target = params.target
    assert target.seeds == ("10.0.0.5:7000",) and target.standalone == "10.0.0.9:6379"
    assert (target.username, target.password, target.tls.ca_certs) == ("ops", "s3cret", "/ca.pem")
    assert "s3cret" not in repr(params.as_dict())


def test_cumulative_configuration_ends_at_the_optimized_preset():
    assert cumulative_stages(story("US-002")) == Stages.baseline().replace(
        slot_hash="crc_hqx", slot_map="flat"
    )
    assert cumulative_stages(story("US-007")) == Stages.optimized().replace(dispatch="composed")
    assert cumulative_stages(story("US-009")) == Stages.optimized()
    found = list(stories())
    assert found[:8] == [f"US-00{i}" for i in range(1, 9)] and found == sorted(found)


def test_every_stage_story_runs_an_aa_twin_of_its_before_configuration():
    from rediscluster_opt.lab.story import AA

    for each in stage_stories():
        found = roles(each)
        assert found[AA].stages == found["cumulative before"].stages
        assert found[AA].label != found["cumulative before"].label
        labels = [c.label for c in ordered(found)]
        assert labels[:3] == [found[r].label for r in ("cumulative before", AA, "cumulative after")]
        assert len(labels) == len(set(labels))


def _summary(story="US-002", verdict="met"):
    return {
        "story": story,
        "title": "t",
        "headline": "h",
        "paragraph": "p",
        "figures": [f"{story}_throughput.png"],
        "records": [],
        "recorded": [{"item": "i", "measured": "1"}],
        "acceptance": [
            {
                "criterion": "c",
                "source": "PRD",
                "comparison": ">=",
                "threshold": 1,
                "measured": "1.30 [1.22–1.37]",
                "aa": "1.00 [0.93–1.08]",
                "verdict": verdict,
            }
        ],
    }


def test_publishing_a_reference_copies_notebooks_records_and_rewrites_links(tmp_path):
    import json
    import shutil

    from rediscluster_opt.lab.publish import publish_reference
    from rediscluster_opt.lab.summary import write_summary_md

    run = tmp_path / "runs" / "r1"
    (run / "figures").mkdir(parents=True)
    from rediscluster_opt.workspace import root

    papermill = {"input_path": str(root() / "notebooks" / "US-002_slot_lookup.ipynb"),
                 "output_path": str(run / "US-002_slot_lookup.ipynb")}  # fmt: skip
    (run / "US-002_slot_lookup.ipynb").write_text(json.dumps({"metadata": {"papermill": papermill}}))
    (run / "figures" / "US-002_throughput.png").write_bytes(b"png")
    records = tmp_path / "cluster"
    records.mkdir()
    story = records / "20260101T000000Z_US-002.json"
    profile = records / "20260101T000001Z_US-002-profile.json"
    flame = {
        "config": "cumulative after",
        "profile": {"kind": "pyspy", "flamegraph": "results/runs/r1/x.svg"},
    }
    profile.write_text(json.dumps({"experiment": "US-002-profile", "trials": [flame]}))
    (run / "figures" / "US-002_flame_cumulative-after.svg").write_text("<svg/>")
    story.write_text(
        json.dumps({"experiment": "US-002", "trials": [], "extra": {"records": {"profile": str(profile)}}})
    )
    (run / "figures" / "US-002.summary.json").write_text(
        json.dumps({**_summary(), "records": [str(story), str(profile)]})
    )
    reference = tmp_path / "reference"
    (reference / "figures").mkdir(parents=True)
    (reference / "figures" / "old.png").write_bytes(b"old")
    (reference / "keep.json").write_text("{}")
    summary = publish_reference(run, tmp_path, "default")
    assert (reference / "keep.json").exists() and not (reference / "figures" / "old.png").exists()
    notebook = json.loads((reference / "notebooks" / "US-002_slot_lookup.ipynb").read_text())
    assert notebook["metadata"]["papermill"]["input_path"] == "notebooks/US-002_slot_lookup.ipynb"
    assert sorted(p.name for p in (reference / "records").iterdir()) == sorted([profile.name, story.name])
    copied = json.loads((reference / "records" / story.name).read_text())
    assert copied["extra"]["records"]["profile"].endswith(f"reference/records/{profile.name}")
    (published_flame,) = json.loads((reference / "records" / profile.name).read_text())["trials"]
    assert published_flame["profile"]["flamegraph"].endswith(
        "reference/figures/US-002_flame_cumulative-after.svg"
    )
    published = json.loads((reference / "figures" / "US-002.summary.json").read_text())
    assert all("reference/records/" in p for p in published["records"])
    text = summary.read_text()
    assert "[throughput](figures/US-002_throughput.png)" in text
    assert "| c | PRD | >= 1 | 1.30 [1.22–1.37] | - | 1.00 [0.93–1.08] | - | met |" in text

    # A partial run (--only US-010) replaces that story's files and keeps the others.
    later = tmp_path / "runs" / "r2"
    (later / "figures").mkdir(parents=True)
    (later / "US-010_resilience.ipynb").write_text("{}")
    (later / "figures" / "US-010_fault_client_kill.png").write_bytes(b"png")
    resilience = records / "20260102T000000Z_US-010.json"
    resilience.write_text(json.dumps({"experiment": "US-010", "trials": [], "created": "2026-01-02"}))
    (later / "figures" / "US-010.summary.json").write_text(
        json.dumps(
            {**_summary("US-010"), "figures": ["US-010_fault_client_kill.png"], "records": [str(resilience)]}
        )
    )
    text = publish_reference(later, tmp_path, "default", stories=["US-010"]).read_text()
    notebook = json.loads((reference / "notebooks" / "US-002_slot_lookup.ipynb").read_text())
    assert notebook["metadata"]["papermill"]["input_path"] == "notebooks/US-002_slot_lookup.ipynb"
    assert (reference / "notebooks" / "US-010_resilience.ipynb").exists()
    assert sorted(p.name for p in (reference / "records").iterdir()) == sorted(
        [profile.name, story.name, resilience.name]
    )
    assert "**US-002 t**" in text and "**US-010 t**" in text
    resilience.write_text(
        json.dumps(
            {
                "experiment": "US-010",
                "trials": [],
                "created": "2026-01-02",
                "environment": {"git": {"commit": "abc"}},
            }
        )
    )
    shutil.copy2(resilience, reference / "records" / resilience.name)
    text = write_summary_md(reference, reference / "summary.md", "default").read_text()
    assert "Measured separately: commit `abc`, 2026-01-02." in text
    assert text.count("Measured separately") == 1  # the stories of the first run are not


def test_the_latency_figure_keeps_modes_and_concurrencies_apart():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from rediscluster_opt.lab.presentation.plots import latency_percentiles

    rows = [
        {
            "config": "a",
            "mode": m,
            "concurrency": c,
            "status": "ok",
            "valid": True,
            "p50_us": base,
            "p90_us": base * 2,
            "p99_us": base * 3,
            "p99.9_us": base * 4,
        }
        for m, c, base in [
            ("cluster", 64, 100),
            ("standalone", 64, 50),
            ("cluster", 16, 20),
            ("cluster", 64, 110),
        ]
    ]
    fig = latency_percentiles(pd.DataFrame(rows))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["cluster, C=64", "standalone, C=64", "cluster, C=16"]
    cluster64 = fig.axes[0].lines[0].get_ydata()
    assert list(cluster64) == [105, 210, 315, 420]  # the median of the two cluster C=64 trials only


def test_bars_are_coloured_by_role():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from matplotlib.colors import to_hex

    from rediscluster_opt.lab.presentation.plots import ROLE_COLOURS, bars_by_role

    rows = [
        {
            "config": c,
            "mode": "cluster",
            "concurrency": 64,
            "status": "ok",
            "valid": True,
            "ops_per_s": v,
            "client_cpu_us_per_op": 10.0,
        }
        for c, v in [("before", 100), ("twin", 101), ("after", 150), ("redis-py", 20)]
    ]
    roles = {"before": "before", "twin": "A/A", "after": "after", "redis-py": "peer"}
    fig = bars_by_role(pd.DataFrame(rows), roles, title="cluster, C=64, 10k keys, 200 B, 2 s x 5")
    colours = [to_hex(bar.get_facecolor()) for bar in fig.axes[0].patches]
    assert colours == [ROLE_COLOURS[r] for r in ("before", "A/A", "after", "peer")]
    assert "10k keys" in fig._suptitle.get_text()


def test_the_committed_reference_carries_no_machine_paths_and_its_links_resolve():
    import json
    import re

    reference = ROOT / "results" / "reference"
    absolute = re.compile(r"(?<![\w:/.<>-])/(?:[\w.-]+/){2,}[\w.-]+")
    files = [*reference.glob("records/*.json"), *(ROOT / "results" / "archive").glob("*/*.json"),
             *reference.glob("figures/*.summary.json"), reference / "summary.md"]  # fmt: skip
    for path in files:
        assert not absolute.findall(path.read_text()), path.name
    for path in reference.glob("figures/*.summary.json"):
        for record in json.loads(path.read_text())["records"]:
            assert (ROOT / record).exists(), record
    for path in reference.glob("records/*.json"):
        record = json.loads(path.read_text())
        links = [*((record.get("extra") or {}).get("records") or {}).values()]
        links += [
            t["profile"]["flamegraph"] for t in record["trials"] if (t.get("profile") or {}).get("flamegraph")
        ]
        for link in filter(None, links):
            assert (ROOT / link).exists(), (path.name, link)


def test_profiles_name_files_without_this_machines_paths():
    import sysconfig

    from rediscluster_opt.bench.profiling import _short, portable

    stdlib = sysconfig.get_paths()["stdlib"]
    text = f"{ROOT}/rediscluster_opt/stages/writer.py:33(send)\n{stdlib}/asyncio/tasks.py:436(wait_for)"
    assert (
        portable(text)
        == "rediscluster_opt/stages/writer.py:33(send)\n<stdlib>/asyncio/tasks.py:436(wait_for)"
    )
    assert _short(f"{stdlib}/asyncio/tasks.py") == "<stdlib>/asyncio/tasks.py"


def test_result_folders_are_kept_as_given_and_resolved_from_the_workspace_root(monkeypatch):
    from rediscluster_opt.results import repo_relative

    monkeypatch.setenv("RCOPT_ROOT", str(ROOT))
    params = check_parameters(results_dir="results/cluster", figures_dir="/elsewhere/figures")
    assert params.as_dict()["results_dir"] == "results/cluster"  # what records and notebooks show
    assert params.results_path == ROOT / "results" / "cluster"
    assert params.figures_path == parameters_module.Path("/elsewhere/figures")
    assert repo_relative(ROOT / ".venv" / "bin" / "python") == ".venv/bin/python"  # a symlink is not followed


def test_without_a_standalone_server_the_standalone_comparisons_are_skipped():
    from rediscluster_opt.lab.engine import served, without_standalone

    alone = check_parameters(standalone=None)
    metrics = ("ops.standalone", "bare.standalone")
    assert served(alone, ("cluster", "standalone")) == ("cluster",)
    assert set(without_standalone(alone, metrics)) == set(metrics)
    assert all("needs a standalone server" in why for why in without_standalone(alone, metrics).values())
    assert without_standalone(Parameters(), metrics) == {}
    assert served(Parameters(), ("standalone",)) == ("standalone",)


def test_the_summary_names_the_version_the_measured_servers_reported():
    from rediscluster_opt.lab.summary import _server_version

    local_only = {"redis_server": "7.0.15"}
    assert _server_version(local_only) == "7.0.15"
    assert _server_version({**local_only, "cluster_redis_version": "7.2.4"}) == "7.2.4"
    assert _server_version({"standalone_redis_version": "6.2.1"}) == "6.2.1"


@pytest.mark.parametrize("in_notebook", [True, False])
def test_a_saved_figure_is_shown_from_its_file_and_closed(tmp_path, monkeypatch, in_notebook):
    """Closed once saved, so the inline backend never draws it a second time; in a
    notebook the saved PNG is what shows, at matplotlib's screen size."""
    import matplotlib

    matplotlib.use("Agg")
    import IPython
    import IPython.display
    import matplotlib.pyplot as plt

    from rediscluster_opt.lab.presentation import notebook

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: MagicMock() if in_notebook else None)
    monkeypatch.setattr(IPython.display, "display", shown.append)
    fig = plt.figure(figsize=(6, 3))
    path = tmp_path / "figure.png"
    fig.savefig(path)
    notebook._show(fig, path)
    assert not plt.fignum_exists(fig.number)
    if in_notebook:
        (image,) = shown
        assert image.data == path.read_bytes() and image.width == 600
    else:
        assert shown == []


def test_line_profile_bars_draw_source_lines_that_hold_dollar_signs(tmp_path):
    """A generated route's lines hold RESP prefixes ("$3\\r\\nGET"): matplotlib must show
    them as text, not parse them as mathtext (a quick run failed on it)."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from rediscluster_opt.lab.presentation import plots

    code = "        payload = b'*2\\r\\n$3\\r\\nGET\\r\\n$%d\\r\\n%b\\r\\n' % (len(key), key)"
    row = {"config": "optimized", "function": "get", "line": 9, "code": code, "time_s": 0.01}
    frame = pd.DataFrame([row])
    fig = plots.line_profile_bars(frame, title="lines")
    fig.savefig(tmp_path / "lines.png")  # drawing the labels is where mathtext would fail
    label = fig.axes[0].get_yticklabels()[0].get_text()
    assert "$3" in label.replace("\\$", "$") and (tmp_path / "lines.png").stat().st_size > 1000
