"""US-019: what each stage contributes inside the final configuration. A leave-one-out
ablation of the optimized preset: the preset, and the preset with one stage set back to its
naive variant (one arm per stage), interleaved in one run with an A/A twin, the baseline
and the peers. The stage stories measured each step on top of the ones before it; this
measures each step with all the others in place, which is what the preset ships. The
presets follow its verdicts (tests/unit/test_presets.py)."""

from __future__ import annotations

from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion
from rediscluster_opt.lab.instruments import micro
from rediscluster_opt.lab.instruments.perfcases import case_name
from rediscluster_opt.lab.parameters import BENCH, Parameters, members
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.builder import without_profiles
from rediscluster_opt.lab.story import (
    AA,
    CPU_AA,
    NEGLIGIBLE,
    TARGET,
    THROUGHPUT_AA,
    Own,
    Section,
    Story,
    StoryRun,
    exact_criterion,
)
from rediscluster_opt.stages import BASELINE, OPTIMIZED, REGISTRY

# Why a variant stays in the optimized preset (stages.OPTIMIZED) when this story leaves its
# whole-route verdict open or finds no difference beyond +-5 % on this 2-core machine (the
# A/A band is wider than the stage's share of a command): each reason is a deterministic
# measure of the stage's own story, which does not depend on that noise. They live here,
# beside the verdicts they answer, so a new reference is answered without touching the
# client's packages.
KEPT_WITHOUT_A_VERDICT = {
    "slot_map": (
        "a lookup is one list index: a fraction of the range scan's instructions at the last slot, with no "
        "lock and no allocation per lookup (the slot-lookup story's cachegrind and tracemalloc counts)"
    ),
    "encoder": (
        "hiredis.pack_command is C and takes fewer instructions per command than the Python encoder (the "
        "submit story's instruction counts); the shaped route encodes its fast commands with a prefix anyway"
    ),
    "submit": (
        "over the plain future it is kept for bounded memory, not speed: fewer allocated blocks per command "
        "(the submit story's allocation counts) and a free list capped at FREE_CAP records after a burst; "
        "against the naive event submit it pays inside the preset"
    ),
    "node_select": (
        "no lock operation and fewer instructions per pick (the node-selection story's counts); with one "
        "connection per node the pick is one read either way, so the whole route cannot show it"
    ),
    "delivery": (
        "one dequeue call per socket read instead of one per reply (the reader story's dequeues per reply), "
        "which matters when a read carries many replies; at C=64 a read carries a few"
    ),
    "redirect": (
        "fewer instructions per no-redirect check and no allocation on that path (the redirect story's "
        "cachegrind and tracemalloc counts), with every MOVED and ASK of its live slot migration followed"
    ),
    "dispatch": (
        "fewer Python frames per GET than the composed route, and a GET prefix that encodes faster than "
        "hiredis.pack_command (the inlining story's counts and times); against the servers within A/A noise"
    ),
}

# Every stage the preset changes, set back to its naive variant; and, where the stage's own
# story left the last rung open, set back one rung: the pooled submit over the plain future
# (US-003), the shaped route over the fused one (US-009).
RUNGS = ("submit=future", "dispatch=fused")
ALL = (*(f"{stage}={BASELINE[stage]}" for stage in OPTIMIZED if OPTIMIZED[stage] != BASELINE[stage]), *RUNGS)
CONTESTED = ("submit=future", "delivery=per_reply", "dispatch=fused")  # inconclusive in their own stories


def named(ablation: str) -> str:
    """'submit' for the naive rung, 'submit over future' for another."""
    stage, _, variant = ablation.partition("=")
    return stage if variant == BASELINE[stage] else f"{stage} over {variant}"


# Every change one arm can make: a stage set to any variant but the preset's.
ABLATABLE = tuple(
    f"{stage}={v}" for stage, variants in REGISTRY.items() for v in variants if v != OPTIMIZED[stage]
)


def _ablations(name: str, value: object) -> tuple[str, ...]:
    return members(name, value, ABLATABLE)


ABLATIONS = Own("ablations", {"default": ALL, "quick": CONTESTED}, _ablations,
                "stage=variant: the preset with that one stage changed, one arm each")  # fmt: skip


def metric(ablation: str, figure: str) -> str:
    """`figure` ('throughput' or 'cpu') of the preset over the preset with `ablation`
    ('stage=variant'): above 1 in throughput, or below 1 in CPU per op, the stage pays."""
    return f"ablation.{ablation}.{figure}"


WHOLE_THROUGHPUT, WHOLE_CPU = "whole.throughput", "whole.cpu"  # the preset / the baseline


def arms(ablations: tuple[str, ...], peers: tuple[str, ...]) -> dict[str, ClientConfig]:
    """'optimized', 'baseline', one per ablation (by its 'stage=variant'), and the peers."""
    out = {"optimized": ClientConfig.parse("optimized"), "baseline": ClientConfig.parse("baseline")}
    out |= {a: ClientConfig.parse(f"optimized:{a}") for a in ablations}
    return out | {peer: ClientConfig.parse(peer) for peer in peers}


def run(story: Story, params: Parameters) -> StoryRun:
    ablations: tuple[str, ...] = params.own[ABLATIONS.name]
    configs = arms(ablations, () if params.smoke else params.peers)
    preset = configs["optimized"]
    twin = engine.twin(preset)
    level = engine.headline_level(params.concurrency)
    record = engine.bench(
        params, [preset, twin, *(c for k, c in configs.items() if k != "optimized")], story.id
    )
    where: dict[str, Any] = {"concurrency": level}
    measured = engine.aa_control(record, twin.label, preset.label, **where)
    for name, config in configs.items():
        if name == "optimized" or name in params.peers:
            continue
        throughput, cpu = engine.ratio_pair(record, preset.label, config.label, **where)
        if name == "baseline":
            measured |= {WHOLE_THROUGHPUT: throughput, WHOLE_CPU: cpu}
        else:
            measured |= {metric(name, "throughput"): throughput, metric(name, "cpu"): cpu}
    counts = _kept_counts(params, ablations)
    measured |= counts.pop("measured")
    roles = {"optimized": preset.label, AA: twin.label, "baseline": configs["baseline"].label}
    return engine.save_run(
        story,
        params,
        record,
        measured,
        extra={"roles": roles, "ablations": list(ablations), "counts": counts},
    )


def kept(ablations: tuple[str, ...]) -> list[str]:
    """The ablations of the stages the preset keeps without a whole-route verdict."""
    return [a for a in ablations if a.partition("=")[0] in KEPT_WITHOUT_A_VERDICT]


def _kept_counts(params: Parameters, ablations: tuple[str, ...]) -> dict[str, Any]:
    """For each stage kept without a verdict, what no noise moves: instructions per GET
    of the whole route in-process (cachegrind), the preset over the preset with it set
    back; and for the submit, the memory blocks a waiting command holds (tracemalloc)."""
    chosen = kept(ablations)
    routes = {a: case_name("route", a, "get") for a in ["optimized", *chosen]}
    instructions = (
        micro.instruction_counts(list(routes.values()), calls=200 if params.smoke else 2_000)
        if params.cachegrind and chosen
        else {"rows": [], "skipped": None if chosen else "no kept stage among the ablations"}
    )
    per_get = engine.by_case(instructions["rows"], "instructions_per_call")
    measured = {
        metric(a, "instructions"): engine.ratio_of(per_get, routes["optimized"], routes[a]) for a in chosen
    }
    held = {}
    if any(a.startswith("submit=") for a in chosen):
        held = {
            r["variant"]: r
            for r in micro.allocations_per_pending_command(pending=500 if params.smoke else 2000)
        }
        for a in chosen:
            if a.startswith("submit="):
                ablated = held[a.partition("=")[2]]["blocks_per_command"]
                measured[metric(a, "blocks")] = engine.exact(
                    held[OPTIMIZED["submit"]]["blocks_per_command"] / ablated if ablated else None
                )
    return {"instructions": instructions, "held": held, "measured": measured}


def stage_verdict(rows: dict[str, dict[str, Any]], ablation: str) -> str:
    """'pays' when the throughput or the CPU verdict of removing it is met (and neither
    is NOT met), 'costs' when one is NOT met, 'no difference' when both are equivalent
    (no effect beyond the negligible band), else 'not settled'."""
    verdicts = {rows[m]["verdict"] for f in ("throughput", "cpu") if (m := metric(ablation, f)) in rows}
    if "NOT met" in verdicts:
        return "costs"
    if "met" in verdicts:
        return "pays"
    return "no difference" if verdicts == {"equivalent"} else "not settled"


def against_the_rule(
    rows: dict[str, dict[str, Any]], ablations: list[str], kept: dict[str, str]
) -> list[str]:
    """What breaks the presets' rule in a run's verdicts (`rows` by metric): a preset
    variant that does not pay against one of its ablations with no reason in `kept`
    (stage -> why the preset keeps it), and a reason kept for a stage that pays against
    every ablation (a stale excuse)."""
    found = []
    for stage in {a.partition("=")[0] for a in ablations}:
        verdicts = {a: stage_verdict(rows, a) for a in ablations if a.partition("=")[0] == stage}
        failing = {a: v for a, v in verdicts.items() if v != "pays"}
        if failing and stage not in kept:
            found += [
                f"{stage}={OPTIMIZED[stage]} against {a}: {v}, and no reason to keep it"
                for a, v in failing.items()
            ]
        if not failing and stage in kept:
            found.append(
                f"{stage}={OPTIMIZED[stage]} pays against every ablation: its reason to be kept is stale"
            )
    return sorted(found)


def paragraph(run: StoryRun) -> str:
    """The answer first: which stages pay inside the preset, which cost, which the noise
    does not settle; then every stage's figures, then the criteria."""
    rows = {r["metric"]: r for r in run.acceptance}
    ablations = [a for a in run.extra.get("ablations", ALL) if metric(a, "throughput") in rows]
    lines = [f"**{run.story.id} verdict** ({nb.workload_text(run)})."]
    whole = rows.get(WHOLE_CPU)
    if whole and whole["effect"]:
        lines.append(f"The whole preset runs at {whole['measured']} of the baseline's client CPU per op.")
    by_verdict: dict[str, list[str]] = {}
    for ablation in ablations:
        by_verdict.setdefault(stage_verdict(rows, ablation), []).append(named(ablation))
    said = {"pays": "Pays inside the preset (its removal is slower beyond the A/A band)",
            "costs": "Costs inside the preset (its removal is faster)",
            "no difference": "No difference beyond +-5 % either way (both verdicts equivalent)",
            "not settled": "Not settled by this run (within the A/A band)"}  # fmt: skip
    lines += [f"{text}: {', '.join(by_verdict[key])}." for key, text in said.items() if by_verdict.get(key)]
    figures = [
        f"{a}: {rows[metric(a, 'throughput')]['measured']} and {rows[metric(a, 'cpu')]['measured']}"
        for a in ablations
        if rows[metric(a, "throughput")]["effect"]
        and metric(a, "cpu") in rows
        and rows[metric(a, "cpu")]["effect"]
    ]
    if figures:
        lines.append("The preset over the preset with one stage set back (throughput, then CPU per op), "
                     + "; ".join(figures) + ".")  # fmt: skip
    return " ".join([*lines, *nb.state_lines(run.acceptance), *nb.warning_lines(run)])


def ablation_rows(run: StoryRun) -> list[dict[str, str]]:
    """Per stage set back: the preset over that arm in throughput and in CPU per op, and
    what the two verdicts say together (`stage_verdict`)."""
    rows = {r["metric"]: r for r in run.acceptance}
    out = []
    for ablation in run.extra.get("ablations", ALL):
        throughput, cpu = rows.get(metric(ablation, "throughput")), rows.get(metric(ablation, "cpu"))
        if throughput is None or cpu is None:
            continue
        stage, _, variant = ablation.partition("=")
        out.append({
            "stage": f"{stage}={OPTIMIZED[stage]}", "set back to": variant,
            "throughput, preset / without": throughput["measured"], "CPU per op, preset / without": cpu["measured"],
            "A/A (throughput, CPU)": f"{throughput['aa']}, {cpu['aa']}", "inside the preset": stage_verdict(rows, ablation),
        })  # fmt: skip
    return out


def _criteria(ablation: str) -> tuple[Criterion, ...]:
    stage, _, variant = ablation.partition("=")
    what = f"{stage}={OPTIMIZED[stage]} pays inside the preset (against {variant})"
    needs = f"ablations including {ablation}"
    noisy = (
        Criterion(f"{what}: throughput, preset / without it", metric(ablation, "throughput"), ">", 1, TARGET,
                  THROUGHPUT_AA, before=THROUGHPUT_AA, needs=needs, equivalence=NEGLIGIBLE),
        Criterion(f"{what}: client CPU per op, preset / without it", metric(ablation, "cpu"), "<", 1, TARGET,
                  CPU_AA, before=CPU_AA, needs=needs, equivalence=NEGLIGIBLE),
    )  # fmt: skip
    if stage not in KEPT_WITHOUT_A_VERDICT:
        return noisy
    exact = [exact_criterion(f"{what}: instructions per GET of the whole route in-process, preset / without it",
                             metric(ablation, "instructions"), "<", 1, TARGET, needs=needs)]  # fmt: skip
    if stage == "submit":
        exact.append(exact_criterion(f"{what}: memory blocks a waiting command holds, preset / without it",
                                     metric(ablation, "blocks"), "<", 1, TARGET, needs=needs))  # fmt: skip
    return (*noisy, *exact)


STORY = Story(
    "US-019", "ablation", "Leave one out: what each stage contributes inside the optimized preset",
    """The stage stories (US-002..US-009) measured each optimization on top of the ones before it, in the order
the PRD lists them. What ships is the optimized preset, where every stage sits beside all the others: a step that
paid on a slow route may not pay once the rest is fast, and one whose own verdict was inconclusive may still pay
(or cost) here. A leave-one-out ablation: the preset, and the preset with exactly one stage set back to its naive
variant, one arm per stage (and, where a stage's own story left the last rung open, one rung down: the plain future submit and the fused
route), interleaved in one run
with an A/A twin of the preset, the baseline and the peers. Each verdict is the preset over its ablated arm:
above 1 in throughput, or below 1 in client CPU per op, beyond the A/A band, means the stage pays where it is. The
presets follow these verdicts: a variant stays in the optimized preset only with a met verdict here, or a reason
written in this story's module (`KEPT_WITHOUT_A_VERDICT`), and a unit test checks the reference for it.""",
    run,
    criteria=(
        Criterion("The whole preset over the baseline: client CPU per op", WHOLE_CPU, "<", 1, TARGET, CPU_AA,
                  before=CPU_AA, headline=True),
        Criterion("The whole preset over the baseline: throughput", WHOLE_THROUGHPUT, ">", 1, TARGET, THROUGHPUT_AA,
                  before=THROUGHPUT_AA, headline=True),
        *(c for ablation in ALL for c in _criteria(ablation)),
    ),
    parameters=(*BENCH, "peers", "cachegrind"),
    own=(ABLATIONS,),
    tables={"ablation": ablation_rows},
    sections=(
        Section("## Each stage inside the preset\n\nThe preset over the preset with that one stage set back, paired per "
                "repeat: above 1 in throughput, or below 1 in CPU per op, beyond the A/A band, the stage pays where "
                "it sits.", ('nb.story_table(run, "ablation")',)),
    ),
    cells=without_profiles,  # the arms differ by one stage each: profiles are the stage stories'
    paragraph=paragraph,
    headlines={"optimized_over_baseline": WHOLE_THROUGHPUT},
    claims={"The optimized preset, whole, pays over the baseline inside one run": WHOLE_THROUGHPUT},
)  # fmt: skip
