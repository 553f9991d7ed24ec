"""Write notebooks/US-00x_<slug>.ipynb, one per story, from `lab.catalogue.STORIES` and the
fields of `lab.parameters.Parameters`.

The notebooks are thin on purpose: a tagged parameters cell, one call that runs the
story's experiment (or, with rerun=False, reloads its latest record), then tables, figures
and a verdict paragraph generated from the data. Edit the catalogue or this file and rerun
(`python experiments/build_notebooks.py`) rather than editing the notebooks by hand; cell
ids are stable, so an unchanged story regenerates byte for byte (a unit test checks it).
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

import nbformat

from rediscluster_opt.lab.catalogue import STORIES, Story
from rediscluster_opt.lab.parameters import Parameters, modes

ROOT = Path(__file__).resolve().parents[1]

COMMENTS = {
    "seeds": "the local cluster, or an existing cluster's host:port seeds",
    "repeats": "interleaved repeats: the pairs behind every interval (5+ for a bootstrap)",
    "smoke": "smallest possible run: checks the notebook, not the numbers",
    "pin": "client and redis-server processes on disjoint CPUs",
    "flamegraphs": "py-spy flame graphs (SVG) of before and after",
    "cachegrind": "instruction counts of the stage micro-benchmarks (valgrind)",
    "rerun": "False: redraw from the latest saved record, measure nothing",
    "results_dir": "relative folders are taken from the repository root",
}


def parameters_cell() -> str:
    defaults = modes()["default"]
    lines = ["# Parameters: papermill overrides these (rediscluster_opt/lab/modes.json holds the run modes)."]
    for field in fields(Parameters):
        comment = f"  # {COMMENTS[field.name]}" if field.name in COMMENTS else ""
        lines.append(f"{field.name} = {defaults[field.name]!r}{comment}")
    return "\n".join(lines)


def checked_parameters_cell() -> str:
    names = [f.name for f in fields(Parameters)]
    arguments = "".join(f"    {name}={name},\n" for name in names)
    return f"from rediscluster_opt.lab import notebook as nb\n\nparams = nb.check_parameters(\n{arguments})\nparams"


def resilience_cells(story: Story) -> list[tuple[str, str]]:
    """US-010: the same shape (parameters, run, tables, figures, criteria, verdict), with
    fault timelines where the speed stories have ratio plots and profiles."""
    md = lambda text: ("markdown", text)  # noqa: E731
    code = lambda text: ("code", text)  # noqa: E731
    return [
        md(f"# {story.id}: {story.title}\n\n{story.intro}"),
        ("parameters", parameters_cell()),
        code(checked_parameters_cell()),
        md(
            "## Run\n\n`faults` picks the faults, `fault_repeats` how often each runs per client and "
            "`flood_commands` the size of the write flood. Every (fault, client) runs in its own process; "
            "the cluster is brought back to health between runs. With `rerun = False` nothing is measured: "
            "the latest saved record is redrawn."
        ),
        code(f'run = nb.run("{story.id}", params)\nprint("records:", *nb.record_paths(run))'),
        md("## Faults, clients and outcomes"),
        code("nb.fault_table(run)"),
        md(
            "## Timelines\n\nSuccesses per second (from 250 ms bins) on the node the fault hits (solid) "
            "and on another node (dotted); errors per bin below. The fault is at 0 s; dashed: the "
            "replica's promotion, or the restart."
        ),
        code("figures = nb.fault_figures(run, params)"),
        md(
            "## Acceptance criteria\n\nAbsolute targets on our client (issue #11), over the runs; the "
            "peers' figures are recorded beside them, measured in the same run."
        ),
        code("nb.acceptance_table(run)"),
        code("nb.recorded_table(run)"),
        code("from IPython.display import Markdown\n\nMarkdown(nb.verdict_paragraph(run))"),
        code("nb.write_summary(run, params, figures)"),
    ]


def cells(story: Story) -> list[tuple[str, str]]:
    """(kind, source) of every cell, kind being 'markdown', 'code' or 'parameters'."""
    if story.id == "US-010":
        return resilience_cells(story)
    md = lambda text: ("markdown", text)  # noqa: E731
    code = lambda text: ("code", text)  # noqa: E731
    out = [
        md(f"# {story.id}: {story.title}\n\n{story.intro}"),
        ("parameters", parameters_cell()),
        code(checked_parameters_cell()),
        md(
            "## Run\n\nEvery trial runs in its own process; configurations are interleaved (A B A B ...) "
            "over the repeats and compared pairwise per repeat. With `rerun = False` nothing is measured: "
            "the latest saved record is redrawn."
        ),
        code(f'run = nb.run("{story.id}", params)\nprint("records:", *nb.record_paths(run))'),
        md(
            "## Roles\n\nbaseline, isolated, cumulative before/after, and the A/A twin: the 'before' "
            "configuration run a second time, whose ratio to 'before' is this run's noise floor."
        ),
        code("nb.roles_table(run)"),
        code("nb.summary_table(run)"),
        md("## Verdicts at a glance\n\nEach ratio criterion with its interval; the grey band is the A/A noise."),
        code("figures = [nb.verdict_figure(run, params), nb.throughput_figure(run, params), "
             "nb.latency_figure(run, params)]"),
    ]  # fmt: skip
    if story.id in ("US-001", "US-008"):
        out += [md("## REST benchmark"), code("nb.rest_table(run)")]
    if story.id == "US-009":
        out += [
            md(
                "## In-process: frames and ns per GET\n\nThe client against a fake transport that answers "
                "every request on the next loop tick: no servers, so only the client's cost (and the fake "
                "server's, the same for every arm). Frames are counted with `sys.setprofile` and are "
                "deterministic; ns per GET are interleaved repeats, with an A/A twin of `composed`."
            ),
            code("nb.in_process_table(run)"),
        ]
    for name in story.micro_tables:
        out += [md(f"## Micro-benchmark: {name.replace('_', ' ')}"), code(f'nb.micro_table(run, "{name}")')]
    if story.figures:
        out += [md("## Story figures"), code("figures += nb.story_figures(run, params)")]
    if story.id == "US-007":
        out += [
            md("## Live slot migration under load"),
            code(
                "import pandas as pd\n\n"
                'pd.DataFrame(run.extra["migration"]).T.drop(columns=["timeline"], errors="ignore")'
            ),
        ]
    out += [
        md(
            "## Profiles\n\ncProfile (own time per operation, qualified names) for each compared "
            "configuration, line_profiler over the functions this story touches, and py-spy flame "
            "graphs, which sample without slowing the hot path. Profiled runs are compared only "
            "with profiled runs."
        ),
        code("nb.cprofile_table(run)"),
        code("figures.append(nb.profile_figure(run, params))"),
        code("nb.line_table(run)"),
        code("figures.append(nb.line_figure(run, params))"),
        code(
            "from IPython.display import SVG, display\n\n"
            "flames = nb.flamegraphs(run, params)\n"
            "figures += flames\n"
            "for flame in flames:\n"
            "    print(flame.name)\n"
            "    display(SVG(filename=str(flame)))"
        ),
        md(
            "## Acceptance criteria\n\nEach criterion is data (`rediscluster_opt/lab/catalogue.py`): "
            "met when its whole interval clears the threshold beyond the A/A noise, NOT met when it "
            "misses it, inconclusive otherwise, not measured when the figure is missing."
        ),
        code("nb.acceptance_table(run)"),
        code("nb.recorded_table(run)"),
        code("from IPython.display import Markdown\n\nMarkdown(nb.verdict_paragraph(run))"),
        code("nb.write_summary(run, params, figures)"),
    ]
    return out


def explorer_cells() -> list[tuple[str, str]]:
    return [
        (
            "markdown",
            """# Stage explorer

Pick one variant per stage, then **Run**: a short interleaved benchmark of that combination
(`chosen`) against the baseline and optimized presets, plus the peers you tick, in a child
process while this kernel stays responsive. Each run adds a row to the history; **Export
records** copies the session's records (the usual schema) into `results/cluster/`. The
dropdowns list the registry's variants, so a new variant appears here by itself. Short
trials on a shared machine are noisy: read the whiskers and the A/B ratio's interval, and
measure for real in the story notebooks.""",
        ),
        (
            "code",
            "from rediscluster_opt.lab.explorer import Explorer\n\nexplorer = Explorer()\nexplorer.show()",
        ),
    ]


def notebook(story: Story | None) -> nbformat.NotebookNode:
    """A story's notebook, or with None the stage explorer's."""
    book = nbformat.v4.new_notebook()
    slug = story.slug if story else "explorer"
    for number, (kind, source) in enumerate(cells(story) if story else explorer_cells(), 1):
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
        cell["id"] = f"{slug}-{number:02d}"  # stable: regenerating changes nothing
        book.cells.append(cell)
    # The project's .venv, registered by `make lab` (papermill names its kernel itself).
    book.metadata["kernelspec"] = {
        "name": "rediscluster_opt",
        "display_name": "Python (rediscluster_opt)",
        "language": "python",
    }
    book.metadata["language_info"] = {"name": "python"}
    return book


def path_of(story: Story, folder: Path) -> Path:
    return folder / f"{story.id}_{story.slug}.ipynb"


def write_all(folder: Path = ROOT / "notebooks") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for story in STORIES.values():
        path = path_of(story, folder)
        nbformat.write(notebook(story), path)
        paths.append(path)
    nbformat.write(notebook(None), folder / "explorer.ipynb")
    return [*paths, folder / "explorer.ipynb"]


if __name__ == "__main__":
    for written in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "notebooks"):
        print(written)
