"""Write notebooks/<id>_<slug>.ipynb, one per story, from the story modules (lab.registry).

The notebooks are thin on purpose: a tagged parameters cell listing the parameters the
story uses, one call that runs the story (or, with rerun=False, reloads its latest
record), then tables, figures and a verdict paragraph generated from the data. A story
adds sections of its own (`Story.sections`) or, when it is not a speed comparison, gives
its whole shape (`Story.cells`, built from `opening`, `run_cell` and `closing`). Edit the
story module and rerun (`python -m rediscluster_opt.lab.presentation.builder`) rather than editing a
notebook by hand; cell ids are stable, so an unchanged story regenerates byte for byte
(a unit test checks it).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ...workspace import root
from ..parameters import story_values
from ..registry import stories
from ..story import Cell, Story

if TYPE_CHECKING:
    import nbformat

__all__ = [
    "KERNELSPEC",
    "cells",
    "closing",
    "code",
    "md",
    "notebook",
    "opening",
    "path_of",
    "run_cell",
    "write_all",
]

# The project's .venv, registered by `make lab`; executed notebooks keep it too (lab.main).
KERNELSPEC = {"name": "rediscluster_opt", "display_name": "Python (rediscluster_opt)", "language": "python"}

COMMENTS = {
    "seeds": "the local cluster, or an existing cluster's host:port seeds",
    "repeats": "interleaved repeats: the pairs behind every interval (6+ for 95 % coverage)",
    "smoke": "smallest possible run: checks the notebook, not the numbers",
    "pin": "client and redis-server processes on disjoint CPUs",
    "flamegraphs": "py-spy flame graphs (SVG) of before and after",
    "cachegrind": "instruction counts of the stage micro-benchmarks (valgrind)",
    "rerun": "False: draw the latest saved run (the committed reference's at first); True: measure",
    "results_dir": "relative folders are taken from the repository root",
}


# A notebook as opened draws the latest saved run (the committed reference until you
# measure your own), so a newcomer sees results at once; the main job passes rerun=True.
OPENED = {"rerun": False}


def parameters_cell(story: Story) -> str:
    values = {**story_values(story, "default"), **OPENED}
    comments = {**COMMENTS, **{own.name: own.comment for own in story.own if own.comment}}
    lines = [
        "# Parameters: papermill overrides these (rediscluster_opt/lab/modes.json holds the run modes).",
        "# Only this story's; lab.parameters documents every one.",
    ]
    for name, value in values.items():
        comment = f"  # {comments[name]}" if name in comments else ""
        lines.append(f"{name} = {value!r}{comment}")
    return "\n".join(lines)


def opening(story: Story) -> list[Cell]:
    """Title and introduction, the parameters, and their check."""
    checked = (
        "from rediscluster_opt.lab.presentation import notebook as nb\n\n"
        f'params = nb.story_parameters("{story.id}", globals())'
    )
    return [
        ("markdown", f"# {story.id}: {story.title}\n\n{story.intro}"),
        ("parameters", parameters_cell(story)),
        ("code", checked),
    ]


def run_cell(story: Story) -> str:
    return f'run = nb.run("{story.id}", params)\nprint("records:", *nb.record_paths(run))'


READING = (
    "How to read it: each criterion is data (the story's module in `experiments/`), judged on its "
    "interval (the `interval` column: method, pairs, coverage). **met** when the whole interval "
    "clears the threshold beyond the A/A noise; **NOT met** when it misses it; **inconclusive** "
    "otherwise; **indicative** instead of either when the interval covers the median less than "
    "90 % of the time (too few pairs); **holds before too** when the `before` figure meets it as "
    "well, so it does not tell before from after; *restates* marks a figure that only says again "
    "what another one said. None of the last three counts. docs/measurement.md has the rules."
)


def verdict_cells() -> list[Cell]:
    """Right after the run: the verdict paragraph, then every criterion, then how to read
    them, so the first screen under the title answers the story's question."""
    return [
        ("markdown", "## Verdict"),
        ("code", "from IPython.display import Markdown\n\nMarkdown(nb.verdict_paragraph(run))"),
        ("code", "nb.acceptance_table(run)"),
        ("markdown", READING),
    ]


def closing() -> list[Cell]:
    """The recorded figures and the summary file."""
    return [
        ("markdown", "## Recorded figures\n\nMeasured and kept, with no threshold: never counted as met."),
        ("code", "nb.recorded_table(run)"),
        ("code", "nb.write_summary(run, params, figures)"),
    ]


HOW_IT_RAN = (
    "## How it ran\n\nEvery trial runs in its own process; configurations are interleaved "
    "(A B A B ...) over the repeats and compared pairwise per repeat. As opened (`rerun = False`) "
    "nothing is measured: the latest saved run is drawn, the committed reference's until you "
    "measure your own; set `rerun = True` to measure. The roles table names each configuration's "
    "part; the A/A twin is the reference configuration run a second time, whose ratio to it is this "
    "run's noise floor."
)
PROFILES = (
    "## Profiles\n\ncProfile (own time per operation, qualified names) for each compared "
    "configuration, line_profiler over the functions this story touches, and py-spy flame "
    "graphs, which sample without slowing the hot path. Profiled runs are compared only "
    "with profiled runs."
)


def cells(story: Story) -> list[Cell]:
    """(kind, source) of every cell, kind being 'markdown', 'code' or 'parameters'."""
    if story.cells is not None:
        return story.cells(story)
    return _frame(story, profiles=True)


def without_profiles(story: Story) -> list[Cell]:
    """The common frame without the profile sections, for a story whose arms run the same
    Python code in another runtime setting or container (cProfile would show the same
    functions); a story module passes it as its `cells`."""
    return _frame(story, profiles=False)


def _frame(story: Story, profiles: bool) -> list[Cell]:
    """The common shape: the verdict first, how it ran, the story's sections, micro tables
    and figures, the profiles (when `profiles`), the recorded figures."""
    out: list[Cell] = [
        *opening(story),
        code(run_cell(story)),
        *verdict_cells(),
        md("## Verdicts at a glance\n\nEach criterion with its interval, in panels by unit; the grey "
           "band is the threshold widened by the A/A noise."),
        code("figures = nb.verdict_figures(run, params)"),
        md(HOW_IT_RAN),
        code("nb.roles_table(run)"),
        code("nb.summary_table(run)"),
        code("figures += [nb.throughput_figure(run, params), nb.latency_figure(run, params)]"),
    ]  # fmt: skip
    for section in story.sections:
        out += [md(section.markdown), *(code(source) for source in section.code)]
    for name in story.micro_tables:
        out += [md(f"## Micro-benchmark: {name.replace('_', ' ')}"), code(f'nb.micro_table(run, "{name}")')]
    if story.figures is not None:
        out += [md("## Story figures"), code("figures += nb.story_figures(run, params)")]
    if profiles:
        out += [
            md(PROFILES),
            code("nb.cprofile_table(run)"),
            code("figures.append(nb.profile_figure(run, params))"),
            code("nb.line_table(run)"),
            code("figures.append(nb.line_figure(run, params))"),
            code("figures += nb.flamegraphs(run, params)"),
        ]
    return [*out, *closing()]


def md(text: str) -> Cell:
    return ("markdown", text)


def code(text: str) -> Cell:
    return ("code", text)


def explorer_cells() -> list[Cell]:
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
            "from rediscluster_opt.lab.presentation.explorer import Explorer\n\n"
            "explorer = Explorer()\nexplorer.show()",
        ),
    ]


def notebook(story: Story | None) -> nbformat.NotebookNode:
    """A story's notebook, or with None the stage explorer's."""
    # Imported here, not with the module: every story module imports this one (for
    # `without_profiles`), so every kernel would import nbformat, whose schema checks
    # import jsonschema's format checkers; with rfc3987-syntax installed (Jupyter needs
    # it) that alone took 3 s of CPU per process.
    import nbformat

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
    book.metadata["kernelspec"] = dict(KERNELSPEC)
    book.metadata["language_info"] = {"name": "python"}
    return book


def path_of(story: Story, folder: Path) -> Path:
    return folder / f"{story.id}_{story.slug}.ipynb"


def write_all(folder: Path | None = None) -> list[Path]:
    import nbformat

    folder = folder or root() / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for story in stories().values():
        path = path_of(story, folder)
        nbformat.write(notebook(story), path)
        paths.append(path)
    nbformat.write(notebook(None), folder / "explorer.ipynb")
    return [*paths, folder / "explorer.ipynb"]


if __name__ == "__main__":
    for written in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(written)
