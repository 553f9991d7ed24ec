"""The one command line: every subcommand is listed, and the report and compare commands
work on the committed reference run without any server."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rediscluster_opt.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "results" / "reference"


def test_help_lists_every_subcommand_with_a_line_each():
    done = subprocess.run(
        [sys.executable, "-m", "rediscluster_opt", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    for command in (
        "cluster",
        "bench",
        "rest",
        "experiments",
        "reference",
        "docs",
        "history",
        "headline",
        "report",
        "compare",
    ):
        assert f"    {command} " in done.stdout, command
    assert build_parser().parse_args(["experiments", "--mode", "quick"]).mode == "quick"


def test_report_and_compare_on_the_reference_run(capsys):
    record = next((REFERENCE / "records").glob("*_US-008.json"))
    assert main(["report", str(record), "--compact"]) == 0
    out = capsys.readouterr().out
    assert "| optimized | cluster |" in out and re.search(r"measured at `\w+`: \d+ commit\(s\) behind", out)
    assert main(["compare", str(REFERENCE), str(REFERENCE)]) == 0
    out = capsys.readouterr().out
    assert "0 better, 0 worse" in out  # a run against itself changes nothing


def test_history_prints_the_committed_entries_and_says_when_there_are_none(capsys, tmp_path):
    assert main(["history", "--story", "US-002"]) == 0
    out = capsys.readouterr().out
    assert "entries in" in out and "US-002 client CPU per op, cumulative after / before (<= 1)" in out
    assert main(["history", "--folder", str(tmp_path)]) == 0
    assert "history: no entries in" in capsys.readouterr().out


def test_every_bad_record_or_folder_is_one_line_naming_it_and_exit_2(capsys, tmp_path):
    """Valid JSON of the wrong shape, an empty or cut-short record, a garbage or missing
    folder to import, a missing history folder, a story no entry has, and an output folder
    that cannot be written (refused before anything is measured)."""
    record = next((REFERENCE / "records").glob("*_US-008.json"))
    cut = tmp_path / "cut.json"
    cut.write_text(record.read_text()[:200])
    empty = tmp_path / "empty.json"
    empty.write_text("")
    shaped = tmp_path / "shape.json"
    shaped.write_text('{"experiment": "x", "trials": "not a list"}')
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "notes.txt").write_text("hello")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cases = [
        (["report", str(shaped)], f"{shaped}: not a valid result record"),
        (["report", str(empty)], f"{empty}: not a result record: not JSON"),
        (["report", str(cut)], f"{cut}: not a result record: not JSON"),
        (["history", "--add", str(tmp_path / "missing")], "no run at"),
        (["history", "--add", str(garbage)], f"{garbage}: not a run folder or a published reference"),
        (["history", "--folder", str(tmp_path / "nowhere")], "no history folder at"),
        (["history", "--story", "ZZZ"], "no history entry has a story starting with 'ZZZ'"),
        (
            ["bench", "--results-dir", str(blocker / "sub"), "--clients", "optimized"],
            "cannot write results to",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (argv, captured.err)
        assert "Traceback" not in captured.out + captured.err


def test_compare_names_a_missing_run(capsys):
    assert main(["compare", str(REFERENCE), "/nonexistent/run"]) == 2
    assert "no run at /nonexistent/run" in capsys.readouterr().err


def test_cluster_secrets_come_from_named_environment_variables(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("RCOPT_NO_SUCH_VAR", raising=False)
    options = ["--data-dir", str(tmp_path), "--ports", "7650-7652", "--standalone-port", "0"]
    assert main(["cluster", "status", *options, "--password-env", "RCOPT_NO_SUCH_VAR"]) == 2
    assert "--password-env names RCOPT_NO_SUCH_VAR, which is not set" in capsys.readouterr().err
    monkeypatch.setenv("RCOPT_PW", "pw")
    assert main(["cluster", "status", *options, "--password-env", "RCOPT_PW", "--acl-user", "lab"]) == 2
    assert "--acl-user takes NAME:ENV_VAR" in capsys.readouterr().err


def test_the_extras_table_names_modules_of_the_extras_pyproject_declares():
    """Each module the CLI checks for belongs to a package of that extra in pyproject.toml,
    so the message names the extra that really brings it."""
    import tomllib

    from rediscluster_opt.cli import EXTRAS, NEEDS

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, modules in EXTRAS.items():  # "compat,dev": what both extras bring
        specs = [spec for one in extra.split(",") for spec in declared[one]]
        packages = {re.split(r"[<>=;\[ ]", spec)[0].lower().replace("-", "_") for spec in specs}
        assert set(modules) <= packages, set(modules) - packages
    assert set(NEEDS.values()) <= set(EXTRAS)


def test_a_missing_extra_is_named_with_its_install_line_and_exit_2(monkeypatch, capsys, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "orjson" else real(name, *a)
    )
    monkeypatch.chdir(tmp_path)
    assert main(["rest", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "rcopt rest needs the 'lab' extra (module orjson is not installed)" in err
    assert "pip install 'rediscluster_opt[lab]'" in err
    assert (
        main(["cluster", "status", "--ports", "7990-7992", "--standalone-port", "0"]) == 3
    )  # no extra needed


def test_an_import_the_table_misses_is_still_named_not_a_traceback(monkeypatch, capsys):
    from rediscluster_opt import cli

    def handler(args):
        raise ModuleNotFoundError("No module named 'granian'", name="granian")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["report"].set_defaults(handler=handler)
    assert cli.main(["report", "x.json"]) == 2
    assert "rcopt report needs the 'lab' extra (module granian is not installed)" in capsys.readouterr().err


def test_ctrl_c_is_one_line_naming_the_command_and_exit_130(monkeypatch, capsys):
    from rediscluster_opt import cli

    def handler(args):
        raise KeyboardInterrupt

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["report"].set_defaults(handler=handler)
    assert cli.main(["report", "x.json"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("rcopt report: interrupted (Ctrl-C)") and "Traceback" not in err


@pytest.mark.parametrize(
    ("command", "module", "function"),
    [(["bench", "--clients", "optimized", "--duration", "0.1"], "bench.runner", "run_benchmark"),
     (["rest", "--backends", "optimized"], "rest.runner", "run_rest_benchmark")],
)  # fmt: skip
def test_reruns_reach_the_runner_and_a_negative_count_is_named(
    monkeypatch, capsys, tmp_path, command, module, function
):
    import importlib

    from rediscluster_opt import cli
    from rediscluster_opt.bench import runner

    seen = {}

    def stop_before_measuring(configs, **options):
        seen.update(options)
        raise runner.BenchmarkError("stopped here")

    monkeypatch.setattr(
        importlib.import_module(f"rediscluster_opt.{module}"), function, stop_before_measuring
    )
    monkeypatch.chdir(tmp_path)
    assert cli.main([*command, "--reruns", "0"]) != 0
    assert seen["reruns"] == 0
    assert cli.main(command) != 0 and seen["reruns"] == runner.MAX_RERUNS
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert cli.main([*command, "--reruns", "-1"]) == 2
    assert "reruns must be an integer >= 0, got -1" in capsys.readouterr().err


def test_a_long_measurement_refuses_a_busy_machine_saying_what_it_saw_unless_told(monkeypatch, capsys):
    from rediscluster_opt import cli
    from rediscluster_opt.bench import machine
    from rediscluster_opt.lab import reference

    made = []
    monkeypatch.setattr(reference, "make_reference", lambda *a, **k: made.append(k) or "summary.md")
    monkeypatch.setattr(machine, "idle_seconds", lambda seconds: machine.IdleWatch(3, 0.02, 0.31, 1.02))
    assert cli.main(["reference"]) == 3 and not made
    err = capsys.readouterr().err
    assert "rcopt reference: the machine is not idle: 7 of 10 seconds were busy" in err
    assert "steal 0.31" in err
    assert cli.main(["reference", "--busy-anyway"]) == 0 and len(made) == 1
    monkeypatch.setattr(machine, "idle_seconds", lambda seconds: machine.IdleWatch(9, 0.0, 0.01, 1.04))
    assert cli.main(["reference"]) == 0 and len(made) == 2
    # Idle, but the host ran the CPU at two speeds: refused too, saying so.
    monkeypatch.setattr(machine, "idle_seconds", lambda seconds: machine.IdleWatch(10, 0.0, 0.0, 1.61))
    assert cli.main(["reference"]) == 3 and len(made) == 2
    err = capsys.readouterr().err
    assert (
        "the host runs this machine's CPU at changing speeds" in err and "took 1.61 times its fastest" in err
    )


def test_experiments_with_reference_is_the_reference_run_with_its_checks(monkeypatch, capsys):
    """`rcopt experiments --reference` publishes nothing the reference command would refuse:
    it runs make_reference (a clean tree, kind "reference") after the same machine watch."""
    from rediscluster_opt import cli
    from rediscluster_opt.bench import machine
    from rediscluster_opt.lab import main, reference

    made, plain = [], []
    monkeypatch.setattr(reference, "make_reference", lambda *a, **k: made.append(k) or "summary.md")
    monkeypatch.setattr(main, "run_notebooks", lambda *a, **k: plain.append(k))
    monkeypatch.setattr(machine, "idle_seconds", lambda seconds: machine.IdleWatch(10, 0.0, 0.0, 1.75))
    assert cli.main(["experiments", "--reference", "--only", "US-015"]) == 3 and not made
    assert "rcopt experiments --reference: the host runs this machine's CPU" in capsys.readouterr().err
    assert cli.main(["experiments", "--reference", "--only", "US-015", "--busy-anyway"]) == 0
    assert made == [{"mode": "default", "only": ["US-015"], "extra": {}}] and plain == []


def test_the_idle_watch_counts_quiet_seconds_and_averages_what_others_took(monkeypatch):
    from rediscluster_opt.bench import machine

    seen = [{"foreign": 0.0, "steal": 0.0}, {"foreign": 0.0, "steal": 0.4}, {"foreign": 0.3, "steal": 0.0}]
    figures = iter(seen)
    probes = iter([40.0, 61.0, 44.0])
    monkeypatch.setattr(machine.time, "sleep", lambda s: None)
    monkeypatch.setattr(machine, "window", lambda *a, **k: next(figures))
    monkeypatch.setattr(machine, "probe_ns", lambda: next(probes))
    quiet, foreign, steal, spread = machine.idle_seconds(3)
    assert quiet == 1 and round(foreign, 2) == 0.1 and round(steal, 2) == 0.13
    assert spread == 1.525  # the slowest second's probe over the fastest's


def test_the_host_speed_probe_counts_cpu_time_and_a_window_carries_it():
    from rediscluster_opt.bench import machine

    first, second = machine.probe_ns(), machine.probe_ns()
    assert first > 0 and second > 0  # ns of CPU per step of the fixed loop
    reading = machine.read()
    figures = machine.window(reading, reading, 0.0, probes=(first, second))
    assert figures["probe_ns"] == [first, second]
    assert "probe_ns" not in machine.window(reading, reading, 0.0)
