"""The presets follow the verdicts: a variant stays in the optimized preset only when
US-019 (the leave-one-out ablation, in the committed reference) says it pays where it
ships, or the preset says why it keeps it (US-019's `KEPT_WITHOUT_A_VERDICT`)."""

import importlib
from pathlib import Path

from rediscluster_opt.lab.docs import Reference
from rediscluster_opt.lab.registry import stories
from rediscluster_opt.stages import BASELINE, OPTIMIZED

ROOT = Path(__file__).resolve().parents[2]
stories()  # imports the experiments package
ABLATION = importlib.import_module("experiments.us019_ablation")


def _rows(verdicts):
    """US-019's verdict rows by metric, from ablation -> (throughput verdict, CPU verdict)."""
    return {
        ABLATION.metric(ablation, figure): {"metric": ABLATION.metric(ablation, figure), "verdict": verdict}
        for ablation, pair in verdicts.items()
        for figure, verdict in zip(("throughput", "cpu"), pair, strict=True)
    }


def test_the_rule_flags_a_variant_that_does_not_pay_unless_the_preset_says_why():
    rows = _rows({
        "parser=python": ("met", "met"),
        "submit=event": ("met", "met"),
        "submit=future": ("inconclusive", "inconclusive"),
    })  # fmt: skip
    ablations = ["parser=python", "submit=event", "submit=future"]
    (found,) = ABLATION.against_the_rule(rows, ablations, {})
    assert found == "submit=pooled against submit=future: not settled, and no reason to keep it"
    assert ABLATION.against_the_rule(rows, ablations, {"submit": "bounded memory"}) == []
    (stale,) = ABLATION.against_the_rule(rows, ablations, {"submit": "x", "parser": "y"})
    assert stale == "parser=hiredis pays against every ablation: its reason to be kept is stale"


def test_every_preset_variant_pays_in_the_reference_or_the_preset_says_why():
    summary = Reference.load(ROOT / "results" / "reference").summary("US-019")
    rows = {r["metric"]: r for r in summary["acceptance"]}
    ran = [a for a in ABLATION.ALL if ABLATION.metric(a, "throughput") in rows]
    assert ran == list(ABLATION.ALL)  # the reference ablated every stage the preset changes
    assert ABLATION.against_the_rule(rows, ran, ABLATION.KEPT_WITHOUT_A_VERDICT) == []


def test_each_reason_names_a_stage_the_preset_changes_and_says_why():
    for stage, why in ABLATION.KEPT_WITHOUT_A_VERDICT.items():
        assert OPTIMIZED[stage] != BASELINE[stage], stage
        assert len(why.split()) >= 8, stage  # a reason, not a label


def test_a_stage_with_no_difference_either_way_is_neither_paying_nor_stale():
    rows = _rows({
        "delivery=per_reply": ("equivalent", "equivalent"),
        "redirect=regex": ("equivalent", "inconclusive"),
    })  # fmt: skip
    assert ABLATION.stage_verdict(rows, "delivery=per_reply") == "no difference"
    assert ABLATION.stage_verdict(rows, "redirect=regex") == "not settled"
    ablations = ["delivery=per_reply", "redirect=regex"]
    assert sorted(ABLATION.against_the_rule(rows, ablations, {})) == [
        "delivery=batch against delivery=per_reply: no difference, and no reason to keep it",
        "redirect=first_byte against redirect=regex: not settled, and no reason to keep it",
    ]
    assert ABLATION.against_the_rule(rows, ablations, {"delivery": "d", "redirect": "r"}) == []
