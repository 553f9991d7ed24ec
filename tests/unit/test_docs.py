"""README.md and docs/ are rendered from the committed reference (`rcopt docs`): every
measured figure sits in a block a renderer fills from the reference's records, and a
document that differs from its rendering, a block nothing renders, or an interval written
by hand outside a block fails here."""

import dataclasses
import re
from pathlib import Path

import pytest

from rediscluster_opt.lab.docs import (
    Block,
    DocsError,
    Reference,
    hand_written_figures,
    render_all,
    render_blocks,
    render_document,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_committed_document_is_what_the_reference_renders():
    assert render_all(ROOT, check=True) == []


def test_an_interval_written_by_hand_is_found_but_not_one_in_a_block_or_in_code():
    text = (
        "ours did 0.74 [0.67–0.79] of the bare arm\n"
        f"and {Block('figure:US-009:bare.cluster').wrap('0.74 [0.67–0.79]')} rendered\n"
        "an example: `effect 1.30 [1.22–1.37]`\n"
        "| glide | 10,410 [8,287–12,532] |\n"
    )
    assert hand_written_figures(text) == [
        "ours did 0.74 [0.67–0.79] of the bare arm",
        "| glide | 10,410 [8,287–12,532] |",
    ]


def test_a_block_naming_a_missing_story_or_figure_or_kind_is_an_error(tmp_path):
    reference = Reference.load(ROOT / "results" / "reference")
    for name, message in (
        ("figure:US-999:x", "no story US-999"),
        ("figure:US-008:no.such.metric", "no figure 'no.such.metric'"),
        ("nosuchkind", "no renderer for block(s) nosuchkind"),
    ):
        document = tmp_path / "doc.md"
        document.write_text(f"a {Block(name).wrap('?')}\n")
        with pytest.raises(DocsError, match=re.escape(message)):
            render_document(document, reference)


def test_a_marker_in_backticks_is_text_about_markers_not_a_block():
    text = "write `<!-- rcopt:NAME -->` and `<!-- /rcopt:NAME -->` around a figure\n"
    assert render_blocks(text, {}) == (text, [])


def test_a_block_is_filled_from_the_reference(tmp_path):
    reference = Reference.load(ROOT / "results" / "reference")
    row = reference.row("US-008", "peer.redis-py")
    document = tmp_path / "doc.md"
    figure, verdict = Block("figure:US-008:peer.redis-py"), Block("verdict:US-008:peer.redis-py")
    document.write_text(f"redis-py: {figure.wrap('stale')} ({verdict.wrap('?')})\n")
    _, rendered = render_document(document, reference)
    assert rendered == (f"redis-py: {figure.wrap(row['measured'])} ({verdict.wrap(row['verdict'])})\n")


def test_rendered_tables_and_few_pair_figures_say_how_their_intervals_were_made(tmp_path):
    """A verdicts table has the interval's method, n and coverage per row; a final table
    says its brackets are the repeats' spread over n repeats; an inline figure of fewer
    than five pairs is marked."""
    reference = Reference.load(ROOT / "results" / "reference")
    document = tmp_path / "doc.md"
    blocks = [
        Block("verdicts:US-008:throughput.gain"),
        Block("client-table"),
        Block("figure:US-010:ours.recovery_hang_s"),
    ]
    document.write_text("\n".join(block.wrap("") for block in blocks) + "\n")
    _, rendered = render_document(document, reference)
    row = reference.row("US-008", "throughput.gain")
    assert f"| {row['measured']} | order statistic, n={row['effect']['n']}, coverage " in rendered
    final = next(s for s, found in reference.summaries.items() if found.get("client_table"))
    repeats = reference.story_run(final).record["parameters"]["repeats"]
    assert (
        f"median [min–max] over {repeats} repeats per row: the spread of the repeats, not an interval"
        in rendered
    )
    hang = reference.row("US-010", "ours.recovery_hang_s")
    assert (
        hang["effect"]["n"] < 5
        and f"{hang['measured']} (order statistic, n={hang['effect']['n']}" in rendered
    )
    assert "few pairs)" in rendered


def test_every_claim_is_decided_by_a_criterion_its_story_defines():
    """A claim naming a figure its story does not judge would read "not measured" for ever."""
    from rediscluster_opt.lab.claims import STANDING, claims, standing
    from rediscluster_opt.lab.registry import stories

    found = stories()
    assert len(claims()) >= 10
    for claim in claims():
        judged = {criterion.metric for criterion in found[claim.story].criteria}
        assert claim.metric in judged, claim
    assert standing("met") == "supported" and standing(None) == "not measured in this reference"
    assert set(STANDING) >= {"met", "NOT met", "inconclusive", "indicative", "equivalent", "holds before too"}


def test_the_machine_block_says_how_many_stories_were_graded_quiet(tmp_path):
    reference = Reference.load(ROOT / "results" / "reference")
    document = tmp_path / "doc.md"
    document.write_text(Block("machine").wrap("") + "\n")
    _, rendered = render_document(document, reference)
    states = [s.get("machine") or {} for s in reference.summaries.values()]
    quiet = sum(1 for m in states if m.get("quiet"))
    assert f"{quiet} of {len(states)} stories graded quiet: of " in rendered
    assert f"{sum(m.get('rerun', 0) for m in states)} ran again because another process" in rendered

    probed = {
        story: {**found, "machine": {**(found.get("machine") or {}), "speed_spread": 1.0 + i / 100}}
        for i, (story, found) in enumerate(reference.summaries.items())
    }
    _, rendered = render_document(document, dataclasses.replace(reference, summaries=probed))
    worst = 1.0 + (len(probed) - 1) / 100
    assert f"the slowest trial's probe took {worst:.2f} times the fastest's" in rendered

    unknown = {story: {**found, "machine": None} for story, found in reference.summaries.items()}
    older = dataclasses.replace(reference, summaries=unknown)
    _, rendered = render_document(document, older)
    assert "no story recorded the machine's state" in rendered


def test_the_spread_across_runs_counts_the_references_own_run(tmp_path):
    reference = Reference.load(ROOT / "results" / "reference")
    document = tmp_path / "doc.md"
    document.write_text(Block("headline-spread").wrap("") + "\n")
    _, rendered = render_document(document, reference)
    counts = re.findall(r"of (\d+) runs' medians: the reference's and (\d+) `rcopt headline`", rendered)
    rows = [line for line in rendered.splitlines() if line.startswith("| ") and "within the" not in line]
    assert len(counts) == len(rows)  # every ratio the reference measured has its own run counted
    assert all(int(n) == int(headline) + 1 for n, headline in counts)
