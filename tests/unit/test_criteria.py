"""Criteria are data; every one of them can fail, and a missing figure is never met."""

import pytest

from rediscluster_opt.lab.criteria import Criterion, evaluate, headline, tally
from rediscluster_opt.lab.registry import stories
from rediscluster_opt.results.stats import Interval

STORIES = stories()

ALL = [(story.id, c) for story in STORIES.values() for c in story.criteria]


def _missing_the_threshold(criterion):
    """An exact figure on the wrong side of the criterion's threshold."""
    t = criterion.threshold
    step = max(abs(t) * 0.5, 1.0)
    return Interval.exact(t - step if criterion.comparison in (">=", ">") else t + step)


@pytest.mark.parametrize(("story", "criterion"), ALL, ids=[f"{s}:{c.metric}" for s, c in ALL])
def test_no_criterion_is_met_by_existence_alone(story, criterion):
    # A figure that exists but misses the threshold must fail the criterion...
    (row,) = evaluate([criterion], {criterion.metric: _missing_the_threshold(criterion)})
    assert row["verdict"] == "NOT met" and not row["met"], (story, criterion.text)
    # ...and no figure at all is "not measured", never met.
    (row,) = evaluate([criterion], {})
    assert row["verdict"] == "not measured" and row["measured"].startswith("not measured")


def test_every_story_declares_what_it_checks_and_the_stage_stories_have_a_headline():
    for story in STORIES.values():
        assert story.criteria or story.recorded, story.id
        for criterion in story.criteria:
            assert criterion.source in ("PRD", "project target")
    for story in STORIES.values():
        if story.stages or story.id == "US-008":
            leads = [c for c in story.criteria if c.headline]
            assert {c.metric.split(".")[0] for c in leads} >= {"throughput", "cpu"}, story.id
            assert all(c.control for c in leads)


def test_throughput_and_cpu_verdicts_are_judged_against_an_aa_control():
    for story in STORIES.values():
        for c in story.criteria:
            if c.metric.startswith(("throughput.", "cpu.", "peer.", "rest.")) and c.metric.endswith(
                ("gain", "isolated", "pool", "vectored", "batch", "hiredis", "standalone")
            ):
                assert c.control, (story.id, c.text)


def test_the_headline_is_the_verdict_on_the_steadier_metric():
    criteria = [
        Criterion("throughput", "throughput.gain", ">=", 1, "project target", "throughput.aa", headline=True),
        Criterion("cpu", "cpu.gain", "<=", 1, "project target", "cpu.aa", headline=True),
        Criterion("other", "x", "<", 1, "PRD"),
    ]
    measured = {
        "throughput.gain": Interval(1.3, 1.2, 1.4, 5, "b"),
        "throughput.aa": Interval(1.0, 0.90, 1.10, 5, "b"),  # noisy
        "cpu.gain": Interval(0.7, 0.68, 0.72, 5, "b"),
        "cpu.aa": Interval(1.0, 0.99, 1.01, 5, "b"),  # steady
    }
    rows = evaluate(criteria, measured)
    assert headline(rows)["criterion"] == "cpu"
    expected = {"met": 2, "NOT met": 0, "inconclusive": 0, "indicative": 0, "not measured": 1, "skipped": 0}
    assert tally(rows) == expected
    assert rows[0]["measured"] == "1.30 [1.20–1.40]" and rows[0]["aa"] == "1.00 [0.90–1.10]"


def test_a_bad_declaration_is_refused():
    with pytest.raises(ValueError, match="unknown comparison"):
        Criterion("x", "m", "=>", 1, "PRD")
    with pytest.raises(ValueError, match="source must be one of"):
        Criterion("x", "m", ">=", 1, "gut feeling")


def test_a_skipped_figure_says_why_and_is_never_met():
    from rediscluster_opt.lab.criteria import Recorded, recorded

    migration = Criterion("ASK seen", "migration.ask", ">", 0, "PRD", fmt="{:.0f}")
    other = Criterion("throughput", "throughput.gain", ">=", 1.2, "PRD")
    skipped = {"migration": "needs --allow-destructive"}
    rows = evaluate([migration, other], {}, skipped)
    assert [r["verdict"] for r in rows] == ["skipped", "not measured"]  # a prefix, not a substring
    assert rows[0]["measured"] == "skipped: needs --allow-destructive" and not rows[0]["met"]
    assert tally(rows)["skipped"] == 1
    # a figure that was measured after all is judged, whatever the skip list says
    (row,) = evaluate([migration], {"migration.ask": Interval.exact(3)}, skipped)
    assert row["verdict"] == "met"
    (item,) = recorded([Recorded("standalone ops/s", "ops.standalone")], {}, {"ops.standalone": "needs X"})
    assert item["measured"] == "skipped: needs X"
