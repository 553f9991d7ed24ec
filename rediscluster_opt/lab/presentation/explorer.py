"""The stage explorer behind `notebooks/explorer.ipynb`: pick one variant per stage, run a
short interleaved benchmark of that combination against both presets (and the peers you
tick), and see the effect within seconds.

The measurement runs in a child process (`measure_plan`, through `rediscluster_opt.child`),
so the kernel's event loop is never blocked: its progress lines stream into the output
area while the widgets stay usable. Each run adds a row to a history table; `export`
copies the session's records (the usual schema) into the results folder.

Widgets come from ipywidgets; everything else (the run plan, reading a record back, the
history rows) is plain code, tested without a browser.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...bench.adapters import PEERS, ClientConfig
from ...bench.target import split_seeds
from ...child import ChildFailed, ChildRefused, Refused, run_child_streaming
from ...defaults import SEEDS, STANDALONE
from ...results import RESULTS_DIR, load_record, paired_ratio, save_record
from ...results.stability import machine_state
from ...stages import OPTIMIZED, REGISTRY, Stages
from ...workspace import adopt_notebook_root

__all__ = ["CHOSEN", "Explorer", "Plan", "history_row", "run_plan"]

CHOSEN = "chosen"  # the label of the combination being explored


@dataclass(frozen=True)
class Plan:
    """One explorer run: the chosen stages against both presets and the ticked peers."""

    stages: dict[str, str] = field(default_factory=lambda: dict(OPTIMIZED))
    mode: str = "cluster"
    concurrency: int = 32
    value_size: int = 200
    trial_s: float = 0.5
    repeats: int = 3
    peers: tuple[str, ...] = ()
    seeds: tuple[str, ...] = SEEDS
    standalone: str | None = STANDALONE
    folder: str = ""  # where the run's records go

    def configs(self) -> list[ClientConfig]:
        chosen = ClientConfig("ours", Stages.from_dict(self.stages).as_dict(), name=CHOSEN)
        presets = [ClientConfig.parse("baseline"), ClientConfig.parse("optimized")]
        return [chosen, *presets, *(ClientConfig.parse(p) for p in self.peers)]


def run_plan(plan: Plan) -> tuple[Path, Path]:
    """Measure `plan` (in this process: the explorer calls it in a child) and save two
    records: the interleaved comparison, and a cProfile run of the chosen combination."""
    from ...bench.runner import run_benchmark
    from ...bench.target import target_from
    from ...bench.workload import Workload

    target = target_from(list(plan.seeds), plan.standalone if plan.mode == "standalone" else None)
    common: dict[str, Any] = {  # the keywords both runs share, checked by run_benchmark
        "target": target,
        "modes": (plan.mode,),
        "workload": Workload(value_size=plan.value_size, key_count=1000),
        "concurrency": [plan.concurrency],
        "duration": plan.trial_s,
        "warmup": min(0.2, plan.trial_s),
        "pin": False,  # a short look, often from a laptop: no CPU pinning to set up
        # and no re-runs: on a busy laptop each would first wait up to 30 s for a quiet
        # second that may not come; the history's machine column says how busy it was
        "reruns": 0,
        "parameters": {"explorer": asdict(plan)},
    }
    configs = plan.configs()
    record = run_benchmark(configs, experiment="explorer", repeats=plan.repeats, **common)
    profile = run_benchmark(
        configs[:1], experiment="explorer-profile", repeats=1, profile="cprofile", **common
    )
    folder = Path(plan.folder)
    return save_record(record, folder), save_record(profile, folder)


def history_row(record: dict[str, Any], profile: dict[str, Any] | None) -> dict[str, Any]:
    """One line of the history table: the chosen stages and how they did."""
    rows = {r["config"]: r for r in record["summary"]["rows"]}
    plan = record["parameters"]["explorer"]

    def ops(label: str) -> float | None:
        row = rows.get(label)
        return row["ops_per_s"]["median"] if row else None

    vs_optimized = paired_ratio(record, CHOSEN, "optimized")
    top = _top(profile)
    chosen = rows.get(CHOSEN, {})
    changed = {k: v for k, v in plan["stages"].items() if OPTIMIZED.get(k) != v}
    return {
        "time": record["created"][11:19],
        "stages (vs optimized)": ", ".join(f"{k}={v}" for k, v in changed.items()) or "optimized",
        "mode": plan["mode"],
        "C": plan["concurrency"],
        "chosen ops/s": ops(CHOSEN),
        "baseline ops/s": ops("baseline"),
        "optimized ops/s": ops("optimized"),
        "chosen / optimized": vs_optimized.text() if vs_optimized else "-",
        "chosen CPU µs/op": (chosen.get("cpu_us_per_op") or {}).get("median"),
        "top function": top[0]["qualname"] if top else "-",
        "machine": _machine(record),
    }


def _machine(record: dict[str, Any]) -> str:
    """Whether the look was measured on a quiet machine, in a table cell's words."""
    state = machine_state([record])
    if state.contaminated:
        return f"busy in {state.contaminated} of {state.trials} trials"
    return "quiet" if state.quiet else "not known"


def _top(profile: dict[str, Any] | None) -> list[dict[str, Any]]:
    trials = [t for t in (profile or {}).get("trials", []) if (t.get("profile") or {}).get("top")]
    return trials[0]["profile"]["top"][:5] if trials else []


class Explorer:
    """The widget panel. `show()` displays it; every Run appends to `history`."""

    def __init__(self, results: Path | str | None = None) -> None:
        import ipywidgets as w

        adopt_notebook_root()  # Export writes under the workspace, not notebooks/
        self.results = Path(results) if results else Path(tempfile.mkdtemp(prefix="rcopt-explorer-"))
        self.history: list[dict[str, Any]] = []
        self.records: list[Path] = []
        self.stage_pickers = {
            stage: w.Dropdown(options=list(variants), value=OPTIMIZED[stage], description=stage)
            for stage, variants in REGISTRY.items()  # a new variant shows up here by itself
        }
        self.mode = w.ToggleButtons(options=["cluster", "standalone"], value="cluster", description="mode")
        self.concurrency = w.BoundedIntText(value=32, min=1, max=4096, description="concurrency")
        self.value_size = w.BoundedIntText(value=200, min=1, max=1_000_000, description="value bytes")
        self.trial_s = w.BoundedFloatText(value=1.0, min=0.1, max=60, step=0.1, description="trial s")
        self.seeds = w.Text(value=",".join(SEEDS), description="cluster")
        self.standalone = w.Text(value=STANDALONE, description="standalone")
        self.peers = {p: w.Checkbox(value=False, description=p, indent=False) for p in PEERS}
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.export_button = w.Button(description="Export records", icon="save")
        self.status = w.HTML()
        self.progress = w.Output(
            layout={"max_height": "160px", "overflow": "auto", "border": "1px solid #ddd"}
        )
        # Hidden until the first run draws into it: an Image widget with no picture shows
        # the browser's broken-image icon.
        self.chart = w.Image(format="png", layout={"display": "none"})
        self.details = w.HTML()
        self.table = w.HTML()
        self.run_button.on_click(lambda _b: self._start())
        self.export_button.on_click(lambda _b: self.export())
        self._task: asyncio.Task[Any] | None = None

    # -- layout -----------------------------------------------------------------------
    def widget(self) -> Any:
        import ipywidgets as w

        stages = w.VBox([w.HTML("<b>stages</b>"), *self.stage_pickers.values()])
        run = w.VBox(
            [
                w.HTML("<b>run</b>"),
                self.mode,
                self.concurrency,
                self.value_size,
                self.trial_s,
                self.seeds,
                self.standalone,
                w.HTML("<b>peers</b>"),
                w.HBox(list(self.peers.values())),
                w.HBox([self.run_button, self.export_button]),
            ]
        )
        return w.VBox(
            [w.HBox([stages, run]), self.status, self.progress, self.chart, self.details, self.table]
        )

    def show(self) -> None:
        from IPython.display import display

        display(self.widget())

    # -- running ----------------------------------------------------------------------
    def plan(self) -> Plan:
        standalone = self.standalone.value.strip() or None
        seeds = tuple(split_seeds(self.seeds.value))
        return Plan(
            stages={k: p.value for k, p in self.stage_pickers.items()},
            mode=self.mode.value,
            concurrency=self.concurrency.value,
            value_size=self.value_size.value,
            trial_s=self.trial_s.value,
            peers=tuple(name for name, box in self.peers.items() if box.value),
            seeds=seeds,
            standalone=standalone,
            folder=str(self.results),
        )

    def _start(self) -> None:
        if self._task is not None and not self._task.done():
            self.status.value = "<b>a run is in progress</b>; wait for it to finish"
            return
        self._task = asyncio.get_event_loop().create_task(self.run(self.plan()))

    async def run(self, plan: Plan) -> dict[str, Any] | None:
        """Run `plan` in a child process, streaming its progress; on success add a history
        row and redraw. Any failure becomes a message; the widgets stay usable."""
        self.run_button.disabled = True
        self.status.value = (
            f"running: chosen vs baseline and optimized, {plan.mode}, C={plan.concurrency} ..."
        )
        self.progress.clear_output()
        started = time.monotonic()
        try:
            return await self._run(plan, started)
        except Exception as exc:  # shown where the user looks, never lost in a task
            self.status.value = f"<b style='color:#b00'>explorer error:</b> {_escape(repr(exc))}"
            return None
        finally:
            self.run_button.disabled = False

    async def _run(self, plan: Plan, started: float) -> dict[str, Any] | None:
        """Measure, then show: a history row, the chart, CPU per op and the profile."""
        paths, problem = await self._measure(plan)
        if problem is not None:
            self.status.value = f"<b style='color:#b00'>run failed:</b> {_escape(problem)}"
            return None
        record, profile = (load_record(p) for p in paths)
        failed = [t for t in record["trials"] if t["status"] != "ok" or not t.get("valid")]
        row = history_row(record, profile)
        self.history.append(row)
        self.records += paths
        self._redraw(record, profile)
        note = f"; {len(failed)} trial(s) failed, see the progress above" if failed else ""
        self.status.value = f"done in {time.monotonic() - started:.1f} s{note}"
        return row

    async def _measure(self, plan: Plan) -> tuple[list[Path], str | None]:
        try:
            paths = await run_child_streaming(measure_plan, asdict(plan), self._progress)
        except ChildRefused as exc:
            return [], str(exc)
        except ChildFailed as exc:
            return [], f"the benchmark process {exc.reason}"
        return [Path(p) for p in paths], None

    def _progress(self, line: str) -> None:
        self.progress.append_stdout(line + "\n")

    # -- showing ----------------------------------------------------------------------
    def _redraw(self, record: dict[str, Any], profile: dict[str, Any] | None) -> None:
        import io

        from . import plots
        from .frame import trials_frame

        roles = {
            CHOSEN: "variant",
            "baseline": "before",
            "optimized": "after",
            **{peer: peer for peer in PEERS},  # each peer in its own colour (plots.ROLE_COLOURS)
        }
        fig = plots.bars_by_role(
            trials_frame([record]), roles, title="ops/s (bars: median, whiskers: min–max, dots: trials)"
        )
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        self.chart.value = buffer.getvalue()
        self.chart.layout.display = ""
        cpu = "".join(
            f"<tr><td>{r['config']}</td><td>{(r.get('cpu_us_per_op') or {}).get('median', 0):.1f}</td></tr>"
            for r in record["summary"]["rows"]
        )
        top = "".join(
            f"<tr><td>{rank}</td><td>{_escape(t['qualname'])}</td><td>{t['own_share']:.0%}</td></tr>"
            for rank, t in enumerate(_top(profile), 1)
        )
        self.details.value = (
            "<div style='display:flex;gap:2em'>"
            f"<table><tr><th>config</th><th>CPU µs/op</th></tr>{cpu}</table>"
            f"<table><tr><th>#</th><th>chosen: cProfile top 5 (own time)</th><th>share</th></tr>{top}</table>"
            "</div>"
        )
        self.table.value = _html_table(self.history)

    def export(self, folder: Path | str | None = None) -> list[Path]:
        """Copy every record of this session into `folder` (default results/cluster under
        the workspace root)."""
        target = Path(folder) if folder else RESULTS_DIR
        saved = [save_record(load_record(p), target) for p in self.records]
        self.status.value = f"exported {len(saved)} record(s) to {target}"
        return saved


def _escape(text: str) -> str:
    import html

    return html.escape(str(text))


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{_escape(k)}</th>" for k in rows[0])

    def cell(value: Any) -> str:
        return f"{value:,.0f}" if isinstance(value, float) and value > 100 else _escape(value)

    body = "".join(
        "<tr class='explorer-history-row'>" + "".join(f"<td>{cell(v)}</td>" for v in row.values()) + "</tr>"
        for row in rows
    )
    return f"<b>history</b><table class='explorer-history'><tr>{head}</tr>{body}</table>"


def measure_plan(spec: dict[str, Any]) -> list[str]:
    """The child's entry point (`rediscluster_opt.child`): measure one plan, printing
    progress; returns the two records' paths. A bad plan or target is refused with the
    reason (shown in the explorer), not a traceback."""
    from ...bench.target import BenchmarkError

    try:
        plan = Plan(**{**spec, "peers": tuple(spec["peers"]), "seeds": tuple(spec["seeds"])})
        return [str(path) for path in run_plan(plan)]
    except (BenchmarkError, ValueError, OSError) as exc:
        raise Refused(str(exc)) from None
