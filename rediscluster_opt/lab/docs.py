"""Documents rendered from the reference (`rcopt docs`).

Every measured figure in README.md and docs/ sits in a block between two markers,
`<!-- rcopt:NAME -->` and `<!-- /rcopt:NAME -->`, whose text a renderer writes from the
reference (results/reference/: the story summaries, records and run.json). `rcopt docs`
rewrites the blocks; `rcopt docs --check` and tests/unit/test_docs.py fail when a
committed document differs from what the reference renders, or names a block no
renderer knows. A NAME is a kind and its arguments, separated by colons:

| block | renders |
|---|---|
| `measured-at` | the reference's commit, machine, date, mode and wall time |
| `staleness` | how far the client's packages moved since that commit |
| `commit` | that commit, short |
| `wall` | the reference run's wall time |
| `lead:US-008` | the story's lead verdict (summary.md's line) |
| `paragraph:US-013` | the story's verdict paragraph: its answer, figures and criteria |
| `figure:US-008:peer.redis-py` | one criterion's or recorded figure, `0.74 [0.67–0.79]` |
| `verdict:US-008:peer.redis-py` | that criterion's verdict |
| `aa:US-008:peer.redis-py` | the A/A control it was judged against |
| `verdicts:US-009:metric,metric` | a table of those criteria: figure, A/A, verdict |
| `table:US-018:c_client` | one of the story's own tables (its module's `tables`) |
| `leads` | every story's lead verdict and tally |
| `rest-table`, `client-table` | the final story's REST and client-benchmark tables |
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results.stats import Interval
from .blocks import STALENESS, Block, render_blocks, without_blocks

__all__ = [
    "DOCUMENTS",
    "STALENESS",
    "Block",
    "DocsError",
    "Reference",
    "hand_written_figures",
    "render_blocks",
    "render_document",
    "renderers",
    "render_all",
]

# The documents rendered from the reference, relative to the workspace root.
DOCUMENTS = ("README.md", "docs/*.md", "CONTRIBUTING.md", "results/reference/summary.md")


class DocsError(LookupError):
    """A block the reference cannot fill: the message names the block and what is missing."""


# A figure written by hand: a median with its interval (`0.74 [0.67–0.79]`). Code spans and
# blocks are left out: an example in backticks is not a measurement.
_INTERVAL = re.compile(r"\d[\d.,]*%?\s?\[-?\d[\d.,]*%?\s?[–-]\s?-?\d")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def hand_written_figures(text: str) -> list[str]:
    """Intervals outside the rendered blocks and code: figures nothing keeps true."""
    bare = _CODE.sub("", without_blocks(text))
    return [line.strip() for line in bare.splitlines() if _INTERVAL.search(line)]


@dataclass
class Reference:
    """The published reference, read once: story summaries by id, and run.json."""

    folder: Path
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> Reference:
        from .history import summaries_in
        from .summary import read_run

        return cls(folder, {found["story"]: found for found in summaries_in(folder)}, read_run(folder))

    def summary(self, story: str) -> dict[str, Any]:
        if story not in self.summaries:
            raise DocsError(f"the reference in {self.folder} has no story {story}")
        return self.summaries[story]

    def row(self, story: str, metric: str) -> dict[str, Any]:
        """A criterion's row, or a recorded figure's, of the story's summary."""
        found = self.summary(story)
        rows: list[dict[str, Any]] = [*found.get("acceptance", []), *found.get("recorded", [])]
        for row in rows:
            if row.get("metric") == metric:
                return row
        raise DocsError(f"{story} in the reference has no figure {metric!r}")

    def find(self, story: str, metric: str) -> dict[str, Any] | None:
        """`row`, or None where the reference has no such story or figure."""
        try:
            return self.row(story, metric)
        except DocsError:
            return None

    def first_record(self) -> dict[str, Any]:
        from .history import first_record

        found = next((r for s in self.summaries.values() if (r := first_record(s)) is not None), None)
        if found is None:
            raise DocsError(f"no record of the reference in {self.folder}")
        return found

    @functools.cached_property
    def _commits(self) -> list[str]:
        from .history import measured_commits

        return measured_commits(list(self.summaries.values()))  # reads every story's record: once

    def commits(self) -> list[str]:
        """The commits the stories were measured at, oldest story first."""
        return self._commits

    def story_run(self, story_id: str) -> Any:
        """The story's run from its published record, as its notebook loads it."""
        from ..results import load_record
        from ..workspace import locate
        from .registry import story
        from .story import Linked, StoryRun

        declared = story(story_id)
        paths = self.summary(story_id)["records"]
        for path in paths:
            record = load_record(path)
            if record.get("experiment") == story_id:
                run = StoryRun(declared, record, locate(path))
                for kind, linked in (record.get("extra", {}).get("records") or {}).items():
                    found = next((p for p in paths if linked and Path(p).name == Path(linked).name), None)
                    if found:  # the records it links to, as the reference holds them
                        run.linked[kind] = Linked(load_record(found), locate(found))
                return run
        raise DocsError(f"{story_id}: no story record in the reference")


def _markdown(rows: Any) -> str:
    """A story table (a pandas frame or a list of dicts) as a Markdown table."""
    from ..results.tables import table

    records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows or [])
    if not records:
        return "(no rows in the reference)"
    header = list(records[0])
    body = [["-" if r.get(k) is None else str(r.get(k)) for k in header] for r in records]
    return table(header, body, markdown=True)


FEW_PAIRS = 5  # below this many pairs an interval covers the median 88 % of the time or less
FEW = "few pairs"


def interval_label(row: dict[str, Any] | None) -> str:
    """How a criterion's or recorded figure's interval was made: method, n and coverage."""
    if not row:
        return "-"
    found = Interval.from_dict(row.get("effect") or row.get("value"))
    return found.label if found is not None else "-"


def headline_row(summary: dict[str, Any]) -> dict[str, Any] | None:
    from .criteria import headline

    return headline(summary.get("acceptance", []))


def renderers(reference: Reference) -> dict[str, Callable[..., str]]:
    """Each block kind's renderer over `reference`."""
    return Renderers(reference).kinds()


@dataclass
class Renderers:
    """The block renderers over one reference: a method per block kind that needs more than
    a line, the others in `kinds`."""

    reference: Reference

    def kinds(self) -> dict[str, Callable[..., str]]:
        from .summary import clock

        reference = self.reference
        return {
            "measured-at": self.measured_at,
            "machine": self.machine,
            "staleness": self.staleness,
            "commit": lambda: ", ".join(f"`{c[:7]}`" for c in reference.commits()),
            "wall": lambda: clock(reference.run["wall_s"]) if reference.run.get("wall_s") else "not recorded",
            "lead": lambda story: reference.summary(story)["headline"],
            "paragraph": lambda story: reference.summary(story).get("paragraph", ""),
            "figure": self.figure,
            "verdict": lambda story, metric: reference.row(story, metric)["verdict"],
            "aa": lambda story, metric: reference.row(story, metric).get("aa") or "-",
            "verdicts": self.verdicts,
            "table": self.story_table,
            "leads": self.leads,
            "claims": self.claims,
            "headline-spread": self.headline_spread,
            "rest-table": self.rest_table,
            "client-table": self.client_table,
        }

    def measured_at(self) -> str:
        from ..results.history import machine_of
        from .summary import clock

        record = self.reference.first_record()
        commits = self.reference.commits()
        where = f"commit `{commits[0][:7]}`" if len(commits) == 1 else f"{len(commits)} commits"
        wall = self.reference.run.get("wall_s")
        how = f"`make reference`, {clock(wall)} of wall time" if wall else "a run before `make reference`"
        return (
            f"measured at {where} on {machine_of(record['environment'])}, {record['created'][:10]}, "
            f"{self.reference.run.get('mode', 'default')} mode, by {how}"
        )

    def machine(self) -> str:
        """Whether the machine was the run's own: the stories graded quiet, the trials, and
        how many were run again because another process or the host took CPU."""
        states = [s.get("machine") for s in self.reference.summaries.values()]
        graded = [m for m in states if m]
        if not graded:
            return "no story recorded the machine's state (a run older than the contamination guard)"
        quiet = sum(1 for m in graded if m.get("quiet"))
        trials, rerun = sum(m.get("trials", 0) for m in graded), sum(m.get("rerun", 0) for m in graded)
        left = sum(m.get("contaminated", 0) for m in graded)
        spreads = [m["speed_spread"] for m in graded if m.get("speed_spread")]
        speed = (
            f"; the host's speed: in the story where it varied most, the slowest trial's probe took "
            f"{max(spreads):.2f} times the fastest's"
            if spreads
            else ""  # a reference older than the speed probe
        )
        return (
            f"{quiet} of {len(states)} stories graded quiet: of {trials:,} trials, {rerun} ran again "
            f"because another process or the host took CPU during it, and {left} stayed contaminated{speed}"
        )

    def staleness(self) -> str:
        from ..bench.environment import staleness_text

        commits = self.reference.commits()
        if len(commits) != 1:
            return f"a composite of {len(commits)} commits: staleness is per story (summary.md)"
        return staleness_text(commits[0], behind=False)

    def figure(self, story: str, metric: str) -> str:
        row = self.reference.row(story, metric)
        effect = row.get("effect") or row.get("value") or {}
        few = effect.get("method") not in (None, "exact") and effect.get("n", FEW_PAIRS) < FEW_PAIRS
        return str(row["measured"]) + (f" ({interval_label(row)}; {FEW})" if few else "")

    def verdicts(self, story: str, metrics: str) -> str:
        rows = [self.reference.row(story, m) for m in metrics.split(",")]
        body = [
            [r.get("criterion") or r["item"], r["measured"], interval_label(r), r.get("aa") or "",
             r.get("verdict", "recorded")]
            for r in rows
        ]  # fmt: skip
        return _markdown_table(["criterion", "measured", "interval", "A/A", "verdict"], body)

    def leads(self) -> str:
        from .criteria import tally

        body = []
        for story, found in self.reference.summaries.items():
            counts = ", ".join(f"{n} {state}" for state, n in tally(found.get("acceptance", [])).items() if n)
            lead = headline_row(found)
            label = interval_label(lead) if lead is not None and lead.get("effect") else "-"
            body.append([f"{story} {found['title']}", found["headline"], label, counts or "no criteria"])
        return _markdown_table(["story", "lead verdict", "its interval", "criteria"], body)

    def claims(self) -> str:
        """The product's claims (lab/claims.py), each with what the reference says of it."""
        from .claims import claims, standing

        body = []
        for claim in claims():
            row = self.reference.find(claim.story, claim.metric)
            verdict = row.get("verdict") if row else None
            figure = f"{row['measured']} ({claim.story})" if row else f"- ({claim.story})"
            needs = f"{row['comparison']} {row['threshold']:g}" if row and row.get("comparison") else "-"
            body.append([claim.words, standing(verdict), needs, figure])
        return _markdown_table(["claim", "the reference says", "needs", "figure"], body)

    def story_table(self, story: str, name: str) -> str:
        """One of the story's own tables, and the line under it: how its bracketed figures
        were made."""
        run = self.reference.story_run(story)
        labels = sorted(
            {
                interval_label(r)
                for r in self.reference.summary(story).get("acceptance", [])
                if r.get("effect")
            }
        )
        labels = [label for label in labels if label != "exact"]
        note = (
            f"Bracketed figures: median [interval] of paired ratios, {'; '.join(labels)}."
            if labels
            else "Figures are exact counts."
        )
        return f"\n{_markdown(run.story.tables[name](run))}\n\n{note}\n"

    def headline_spread(self) -> str:
        """Each headline ratio: the reference's within-run figure, the same ratio as other
        stories measured it, and the spread of separate runs at the reference's commit."""
        from .headline import HEADLINES, measured_in, spread

        commits = self.reference.commits()
        body = []
        for headline in HEADLINES:
            found = [
                (story, row)
                for story, metric in measured_in(headline)
                if (row := self.reference.find(story, metric))
            ]
            within = (
                f"{found[0][1]['measured']} ({found[0][0]}; {interval_label(found[0][1])})" if found else "-"
            )
            others = "; ".join(f"{story}: {row['measured']}" for story, row in found[1:]) or "-"
            # The reference's own run is one of the runs the spread is across.
            # (a criterion's figure is its effect, a recorded one's its value).
            first = (found[0][1].get("effect") or found[0][1].get("value")) if found else None
            own = [first["median"]] if first else []
            runs, n = (
                spread(self.reference.folder.parent / "history", commits[0], headline.name, also=own)
                if len(commits) == 1
                else (None, 0)
            )
            across = (
                f"{runs.text()} (median [min–max] of {n} runs' medians: the reference's and "
                f"{n - len(own)} `rcopt headline` run(s))"
                if runs is not None and n > len(own)
                else "not measured in separate runs at this commit yet (`rcopt headline`)"
            )
            body.append([headline.text, within, others, across])
        header = [
            "ratio",
            "within the reference's run",
            "the same ratio in other stories",
            "across separate runs",
        ]
        return _markdown_table(header, body)

    def rest_table(self) -> str:
        from .summary import rest_table

        rows = self._final("client_table").get("rest_table", [])
        return f"\n{rest_table(rows)}\n\nREST req/s: {self._spread_note('client_table', rest=True)}.\n"

    def client_table(self) -> str:
        from .summary import client_table

        rows = self._final("client_table")["client_table"]
        return f"\n{client_table(rows)}\n\nEach figure: {self._spread_note('client_table')}.\n"

    def _final(self, key: str) -> dict[str, Any]:
        found = next((s for s in self.reference.summaries.values() if s.get(key)), None)
        if found is None:
            raise DocsError(f"no story of the reference has a {key}")
        return found

    def _spread_note(self, key: str, rest: bool = False) -> str:
        """The line under a final table: its figures are medians with the repeats' spread."""
        story = next(name for name, found in self.reference.summaries.items() if found.get(key))
        run = self.reference.story_run(story)
        record = run.rest_record if rest else run.record
        parameters = (record or {}).get("parameters", {})
        repeats, side = parameters.get("repeats"), parameters.get("side_arms")
        n = f"{repeats} repeats" if repeats else "the repeats"
        if side:  # the peers beside the compared arms ran fewer
            n += f" ({', '.join(side)}: {parameters.get('side_repeats')})"
        few = f" ({FEW}: fewer than {FEW_PAIRS})" if repeats and repeats < FEW_PAIRS else ""
        return f"median [min–max] over {n} per row: the spread of the repeats, not an interval{few}"


def _markdown_table(header: list[str], body: list[list[Any]]) -> str:
    from ..results.tables import table

    return "\n" + table(header, body, markdown=True) + "\n"


def render_document(path: Path, reference: Reference) -> tuple[str, str]:
    """(committed text, rendered text) of one document; DocsError for an unknown block."""
    text = path.read_text()
    rendered, unknown = render_blocks(text, renderers(reference))
    if unknown:
        raise DocsError(f"{path}: no renderer for block(s) {', '.join(unknown)}")
    return text, rendered


def documents(where: Path) -> list[Path]:
    return sorted({p for pattern in DOCUMENTS for p in where.glob(pattern)})


def render_all(where: Path, *, check: bool) -> list[str]:
    """Render every document under `where` from its reference; with `check`, write
    nothing. Returns the problems: documents that differ from the rendering (with
    `check`), and figures written by hand outside any block."""
    reference = Reference.load(where / "results" / "reference")
    problems = []
    for path in documents(where):
        text, rendered = render_document(path, reference)
        name = path.relative_to(where)
        if rendered != text:
            if check:
                problems.append(f"{name}: differs from what the reference renders (run `rcopt docs`)")
            else:
                path.write_text(rendered)
        if path.parent.name != "reference":  # summary.md is generated whole
            problems += [
                f"{name}: a figure written by hand: {line}" for line in hand_written_figures(rendered)
            ]
    return problems
