"""README.md and docs/ are rendered from the committed reference (`rcopt docs`): every
measured figure sits in a block a renderer fills from the reference's records, and a
document that differs from its rendering, a block nothing renders, or an interval written
by hand outside a block fails here."""

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
    assert "median [min–max] over 6 repeats per row: the spread of the repeats, not an interval" in rendered
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
