"""`make experiments`: run every story notebook with papermill, in order, then write
results/summary.md.

    python -m rediscluster_opt.lab.main --mode quick|default|full [--reference]

Executed notebooks and their PNG figures go to results/runs/<UTC timestamp>/; records to
results/cluster/. `--reference` also copies the run's summary and figures to
results/reference/, the committed reference run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "modes", "run_notebooks", "write_summary_md"]

ROOT = Path(__file__).resolve().parents[2]


def modes() -> dict[str, dict[str, Any]]:
    data = json.loads((ROOT / "experiments" / "modes.json").read_text())
    return {name: values for name, values in data.items() if not name.startswith("_")}


def run_notebooks(
    mode: str, *, notebooks: Path = ROOT / "notebooks", results: Path = ROOT / "results",
    only: list[str] | None = None, extra: dict[str, Any] | None = None,
) -> Path:  # fmt: skip
    """Execute the notebooks; returns the run folder. Raises SystemExit(1) on a failing
    notebook after saying which cell failed and where the partial notebook is."""
    import logging

    import papermill
    from papermill.exceptions import PapermillExecutionError

    # papermill echoes each cell's output (the trial progress lines) through logging.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("papermill").setLevel(logging.INFO)

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run_dir = results / "runs" / stamp
    figures = run_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    parameters = {**modes()[mode], **(extra or {}),
                  "results_dir": str(results / "cluster"), "figures_dir": str(figures)}  # fmt: skip
    books = sorted(notebooks.glob("US-*.ipynb"))
    if only:
        books = [b for b in books if any(b.name.startswith(o) for o in only)]
    started = time.monotonic()
    for number, book in enumerate(books, 1):
        elapsed = time.monotonic() - started
        print(f"\n=== [{number}/{len(books)}] {book.name} (mode {mode}, elapsed {elapsed:.0f} s)", flush=True)
        output = run_dir / book.name
        try:
            papermill.execute_notebook(
                str(book), str(output), parameters=parameters, cwd=str(notebooks),
                log_output=True, progress_bar=False, kernel_name="python3",
            )  # fmt: skip
        except PapermillExecutionError as exc:
            print(f"\nexperiments: {book.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}",
                  file=sys.stderr)  # fmt: skip
            print(f"experiments: the partially executed notebook is {output}", file=sys.stderr)
            raise SystemExit(1) from None
    write_summary_md(run_dir, results / "summary.md", mode)
    return run_dir


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(row) + " |" for row in rows
    ]


def _num(value: Any, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def write_summary_md(run_dir: Path, target: Path, mode: str) -> Path:
    """results/summary.md: a line per story with its headline, then the final tables,
    with links to the figures (relative to the summary's folder)."""
    summaries = [json.loads(p.read_text()) for p in sorted((run_dir / "figures").glob("*.summary.json"))]
    figures_dir = run_dir / "figures"
    link_base = (
        figures_dir.relative_to(target.parent) if figures_dir.is_relative_to(target.parent) else figures_dir
    )
    lines = [
        f"# Experiment summary ({mode} mode, {run_dir.name})",
        "",
        "Each line: the story's headline figure and how many of its acceptance criteria the measured "
        "figures meet. Ratios compare configurations measured in the same run.",
        "",
    ]
    for s in summaries:
        figures = ", ".join(f"[{f.split('_', 1)[1][:-4]}]({link_base / f})" for f in s["figures"])
        lines.append(f"- **{s['story']} {s['title']}**: {s['headline']}. Figures: {figures}")
    final = next((s for s in summaries if s["story"] == "US-008"), None)
    if final:
        lines += ["", "## REST benchmark (US-008)", ""]
        lines += _table(
            [[r["scenario"], r["config"], _num(r["standalone_req_s"]), _num(r["cluster_req_s"]),
              _num(r["cluster_p50_us"] and r["cluster_p50_us"] / 1000, "{:.1f}"),
              _num(r["cluster_p99_us"] and r["cluster_p99_us"] / 1000, "{:.1f}"), _num(r["drop"], "{:.1%}")]
             for r in final.get("rest_table", [])],
            ["scenario", "backend", "standalone req/s", "cluster req/s", "cluster p50 ms", "cluster p99 ms",
             "standalone->cluster drop"],
        )  # fmt: skip
        lines += ["", "## Client benchmark (US-008)", ""]
        lines += _table(
            [[r["config"], r["mode"], str(r["concurrency"]), _num(r["ops_per_s"]), _num(r["p50_us"]),
              _num(r["p99_us"])] for r in final.get("client_table", [])],
            ["client", "mode", "C", "ops/s (median)", "p50 µs", "p99 µs"],
        )  # fmt: skip
        lines += ["", "## US-008 acceptance", ""]
        lines += [f"- {'met' if a['met'] else 'NOT met'}: {a['criterion']}: {a['measured']}"
                  for a in final["acceptance"]]  # fmt: skip
    target.write_text("\n".join(lines) + "\n")
    return target


def publish_reference(run_dir: Path, results: Path, mode: str) -> Path:
    """Copy a run's figures and summary to results/reference/ (committed). Only the
    figures folder is replaced: records kept beside it (benchmark runs) stay."""
    reference = results / "reference"
    if (reference / "figures").exists():
        shutil.rmtree(reference / "figures")
    (reference / "figures").mkdir(parents=True)
    for figure in (run_dir / "figures").iterdir():
        shutil.copy2(figure, reference / "figures" / figure.name)
    return write_summary_md(reference, reference / "summary.md", mode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rediscluster_opt.lab.main", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--mode", choices=list(modes()), default="default")
    parser.add_argument("--only", nargs="*", help="run only these stories, e.g. US-002 US-003")
    parser.add_argument("--reference", action="store_true", help="also publish to results/reference/")
    args = parser.parse_args(argv)
    run_dir = run_notebooks(args.mode, only=args.only)
    print(f"\nexperiments: done. Summary: {ROOT / 'results' / 'summary.md'}")
    print(f"experiments: executed notebooks and figures: {run_dir}")
    print(f"experiments: records: {ROOT / 'results' / 'cluster'}")
    if args.reference:
        print(f"experiments: reference published: {publish_reference(run_dir, ROOT / 'results', args.mode)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
