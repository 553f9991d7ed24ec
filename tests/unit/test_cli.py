"""The one command line: every subcommand is listed, and the report and compare commands
work on the committed reference run without any server."""

import subprocess
import sys
from pathlib import Path

from rediscluster_opt.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "results" / "reference"


def test_help_lists_every_subcommand_with_a_line_each():
    done = subprocess.run(
        [sys.executable, "-m", "rediscluster_opt", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    for command in ("cluster", "bench", "rest", "experiments", "report", "compare"):
        assert f"    {command} " in done.stdout, command
    assert build_parser().parse_args(["experiments", "--mode", "quick"]).mode == "quick"


def test_report_and_compare_on_the_reference_run(capsys):
    record = next((REFERENCE / "records").glob("*_US-008.json"))
    assert main(["report", str(record), "--compact"]) == 0
    assert "| optimized | cluster |" in capsys.readouterr().out
    assert main(["compare", str(REFERENCE), str(REFERENCE)]) == 0
    out = capsys.readouterr().out
    assert "0 better, 0 worse" in out  # a run against itself changes nothing


def test_compare_names_a_missing_run(capsys):
    assert main(["compare", str(REFERENCE), "/nonexistent/run"]) == 2
    assert "no run at /nonexistent/run" in capsys.readouterr().err
