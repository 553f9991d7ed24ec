"""Write notebooks/US-00x_<slug>.ipynb, one per story, from the texts below.

The notebooks are thin on purpose: a tagged parameters cell with literal defaults, one
call that runs the story's experiment (rediscluster_opt.lab.stories), then tables and
figures. Edit here and rerun (`python experiments/build_notebooks.py`) rather than editing
the notebooks by hand, so all eight keep the same shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = json.loads((ROOT / "experiments" / "modes.json").read_text())["default"]

INTRO = {
    "US-001": """Capture the baseline: `Stages.baseline()` on the REST **GET single** scenario (cluster) and on
the closed-loop client benchmark (cluster and standalone), then profile it. cProfile's
top cost centres by own time are the analogue of the PRD's `+RTS -p`; line_profiler shows
the hot path line by line. Every later story is measured against this configuration.""",
    "US-002": """Slot lookup: the key's CRC16 (bit-by-bit Python vs `binascii.crc_hqx`) and the slot -> node map
(a range list scanned under a lock vs a flat 16384-entry table). Is CRC16 under 1 µs per
call? Does the lookup's share of the profile fall?""",
    "US-003": """Per-command submit: RESP encoding (Python vs `hiredis.pack_command`), and how a caller waits
(an Event + `asyncio.wait_for` per command vs a bare future with one deadline sweep per
connection, with or without recycled pending records). The PRD's SlotPool idea is
measured here; in CPython the free list for tuples may already make pooling moot.""",
    "US-004": """Node selection in the multiplexer pool: a lock and one pool-wide round-robin counter vs
lock-free immutable maps with a per-node cycle and a single-connection fast path, swept
across tasks x connections per node (the original's threads x multiplexers sweep). In
asyncio there is no thread contention, so only the bookkeeping itself can differ.""",
    "US-005": """Writer batching: one `transport.write` per command vs a queue flushed once per event-loop
tick, with `b"".join` vs `transport.writelines`. Socket writes per command and commands per
write come from the client's own counters.""",
    "US-006": """Reader: the pure-Python RESP parser vs hiredis, and resolving each reply as it is parsed vs
draining every complete reply of a read and resolving them in one batch (a 2x2).""",
    "US-007": """MOVED/ASK detection on the common no-redirect path: rendering every reply as text for a
regex vs a type and first-byte check. Then a live slot migration under load: callers must
see correct values through ASK and MOVED, with zero wrong answers.""",
    "US-008": """The final comparison: the four REST scenarios (GET single, GET list, POST, Mixed) for the
baseline, the optimized preset and redis-py, standalone and cluster, and the client
benchmark table with every installed peer. Improvements are ratios measured in this same
run, never against another run's absolute numbers.""",
}

TITLES = {
    "US-001": ("baseline", "Profile the baseline"),
    "US-002": ("slot_lookup", "Slot lookup"),
    "US-003": ("submit", "Per-command submit"),
    "US-004": ("node_selection", "Node selection"),
    "US-005": ("writer", "Writer batching"),
    "US-006": ("reader", "Reader batch parsing"),
    "US-007": ("redirects", "Redirect detection"),
    "US-008": ("final", "Final comparison"),
}

MICRO = {
    "US-002": ["slot_hash", "slot_map"],
    "US-003": ["submit_cycle", "allocations"],
    "US-007": ["redirect_check"],
}


def parameters_cell() -> nbformat.NotebookNode:
    lines = [
        "# Parameters: papermill overrides these (experiments/modes.json holds the run modes).",
        'seeds = ["127.0.0.1:7000"]  # the local cluster, or an existing cluster\'s host:port seeds',
        'standalone = "127.0.0.1:7100"',
    ]
    for name in ("duration", "warmup", "repeats", "concurrency", "connections", "value_size", "key_count",
                 "rest_duration", "rest_warmup", "micro_repeats", "smoke"):  # fmt: skip
        value = DEFAULTS.get(name, {"value_size": 200}.get(name))
        lines.append(f"{name} = {value!r}")
    lines += [
        'peers = ["redis-py", "coredis", "valkey-glide"]',
        'results_dir = "../results/cluster"',
        'figures_dir = "../results/figures"',
    ]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = ["parameters"]
    return cell


def notebook(story: str) -> nbformat.NotebookNode:
    slug, title = TITLES[story]
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        md(f"# {story}: {title}\n\n{INTRO[story]}"),
        parameters_cell(),
        code(
            "from rediscluster_opt.lab import notebook as nb\n\n"
            "params = nb.check_parameters(\n"
            "    seeds=seeds, standalone=standalone, duration=duration, warmup=warmup, repeats=repeats,\n"
            "    concurrency=concurrency, connections=connections, value_size=value_size, key_count=key_count,\n"
            "    peers=peers, rest_duration=rest_duration, rest_warmup=rest_warmup, micro_repeats=micro_repeats,\n"
            "    smoke=smoke, results_dir=results_dir, figures_dir=figures_dir,\n"
            ")\nparams"
        ),
        md("## Run\n\nEvery trial runs in its own process; configurations are interleaved over the repeats."),
        code(
            f'run = nb.run_story("{story}", params)\nprint("records:", run.path, run.profile_path, run.rest_path)'
        ),
        code("nb.summary_table(run)"),
        code("figures = [nb.throughput_figure(run, params), nb.latency_figure(run, params)]"),
    ]
    if story in ("US-001", "US-008"):
        cells += [md("## REST benchmark"), code("nb.rest_table(run)")]
    for name in MICRO.get(story, []):
        cells += [md(f"## Micro-benchmark: {name.replace('_', ' ')}"), code(f'nb.micro_table(run, "{name}")')]
    if story == "US-007":
        cells += [md("## Live slot migration under load"),
                  code('import pandas as pd\npd.DataFrame(run.record["extra"]["migration"]).T')]  # fmt: skip
    if story != "US-008":
        cells += [
            md("## Profiles\n\ncProfile (own time) for each compared configuration, then line_profiler over the "
               "functions this story touches. Profiled runs are compared only with profiled runs."),
            code("nb.cprofile_table(run)"),
            code("figures.append(nb.profile_figure(run, params))"),
            code("nb.line_table(run)"),
            code("figures.append(nb.line_figure(run, params))"),
        ]  # fmt: skip
    cells += [
        md("## Acceptance criteria\n\nEach criterion is computed from the figures above."),
        code("nb.acceptance_table(run)"),
        code("nb.write_summary(run, params, figures)"),
    ]
    book = nbformat.v4.new_notebook(cells=cells)
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    book.metadata["language_info"] = {"name": "python"}
    return book


def main() -> None:
    folder = ROOT / "notebooks"
    folder.mkdir(exist_ok=True)
    for story, (slug, _) in TITLES.items():
        nbformat.write(notebook(story), folder / f"{story}_{slug}.ipynb")


if __name__ == "__main__":
    main()
