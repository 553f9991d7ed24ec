"""US-002: slot lookup, the key's CRC16 and the slot -> node map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rediscluster_opt.lab import engine
from rediscluster_opt.lab.compare import compare_stages
from rediscluster_opt.lab.criteria import Criterion
from rediscluster_opt.lab.engine import by_case, exact, ratio_of, wall_ns
from rediscluster_opt.lab.instruments import perfcases
from rediscluster_opt.lab.parameters import BENCH, Parameters
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation import plots
from rediscluster_opt.lab.story import (
    PRD,
    TARGET,
    Story,
    StoryRun,
    exact_criterion,
    gain_criteria,
    share_criterion,
)

_S = "rediscluster_opt.stages."
CRC_NS = "micro.crc_ns"
FLAT_O1, FLAT_VS_RANGES = "micro.flat_o1", "micro.flat_vs_ranges"
LOCKS, BYTES = "hot.slot_map.locks", "hot.slot_map.bytes"
# The same figures for the before variants (bit-by-bit CRC, range list): a criterion they
# meet as well does not tell the variants apart.
CRC_NS_BEFORE, RANGES_O1 = "micro.crc_ns.bitwise", "micro.ranges_o1"
LOCKS_BEFORE, BYTES_BEFORE = "hot.slot_map.locks.ranges", "hot.slot_map.bytes.ranges"

CRC_64B, CRC_64B_BEFORE = (perfcases.case_name("slot_hash", v, "k64") for v in ("crc_hqx", "bitwise"))
FLAT_FIRST, FLAT_LAST = (perfcases.case_name("slot_map", "flat", s) for s in ("s0", "s16383"))
RANGES_FIRST, RANGES_LAST = (perfcases.case_name("slot_map", "ranges", s) for s in ("s0", "s16383"))


def run(story: Story, params: Parameters) -> StoryRun:
    lengths = ("k8", "k64", "k512") if params.smoke else ("k8", "k16", "k64", "k256", "k512")
    cases = [c.name for c in perfcases.cases_for("slot_hash") if c.param in lengths]
    cases += [
        c.name for c in perfcases.cases_for("slot_map") if c.variant in ("ranges", "flat")
    ]  # US-012: the rest
    found = compare_stages(story, params, micro_cases=cases)
    wall = {r["case"]: r for r in found.micro["wall"]}
    instructions = by_case(found.micro["instructions"]["rows"], "instructions_per_call")
    hot = {r["case"]: r for r in found.micro["hot_path"]}
    found.measured |= {
        CRC_NS: wall_ns(wall, CRC_64B),
        CRC_NS_BEFORE: wall_ns(wall, CRC_64B_BEFORE),
        FLAT_O1: ratio_of(instructions, FLAT_LAST, FLAT_FIRST),
        RANGES_O1: ratio_of(instructions, RANGES_LAST, RANGES_FIRST),
        FLAT_VS_RANGES: ratio_of(instructions, FLAT_LAST, RANGES_LAST),
        LOCKS: exact(hot[FLAT_LAST]["lock_operations_per_call"]),
        LOCKS_BEFORE: exact(hot[RANGES_LAST]["lock_operations_per_call"]),
        BYTES: exact(hot[FLAT_LAST]["peak_bytes_allocated"]),
        BYTES_BEFORE: exact(hot[RANGES_LAST]["peak_bytes_allocated"]),
    }
    extra = {"roles": found.names, "micro": found.micro}
    return engine.save_run(
        story, params, found.record, found.measured, extra=extra, linked={"profile": found.profile}
    )


def figures(run: StoryRun, params: Parameters) -> list[Path]:
    wall = [r for r in run.extra.get("micro", {}).get("wall", []) if r["ns"]]
    if not wall:
        return []
    fig = slot_hash_ns(wall, title=f"{run.story.id}: slot hash cost")
    return [nb.save_figure(fig, params, run, "slot_hash_ns")]


def slot_hash_ns(rows: list[dict[str, Any]], *, title: str = "") -> Any:
    """ns per CRC16 slot hash against key length, per variant, with the PRD's 1 µs line."""
    fig, axes = plots.figure(1, 1, width=7, height=4)
    ax = axes[0][0]
    variants = dict.fromkeys(r["variant"] for r in rows if r["stage"] == "slot_hash")
    styles = plots.line_styles(variants, plots.variant_roles("slot_hash"))
    for variant in variants:
        points = sorted(
            (int(r["param"][1:]), r["ns"])
            for r in rows
            if r["stage"] == "slot_hash" and r["variant"] == variant
        )
        x = [p[0] for p in points]
        ax.errorbar(
            x,
            [p[1]["median"] for p in points],
            yerr=[
                [p[1]["median"] - p[1]["low"] for p in points],
                [p[1]["high"] - p[1]["median"] for p in points],
            ],
            marker="o",
            capsize=3,
            label=variant,
            **styles[variant],
        )
    ax.axhline(1000, color=plots.MARK, linestyle="--", label="1 µs (PRD)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("key length, bytes")
    ax.set_ylabel("ns per call (pyperf median, 95% interval)")
    ax.legend(fontsize=8)
    ax.set_title(title or "Slot hash cost by key length")
    return fig


STORY = Story(
    "US-002", "slot_lookup", "Slot lookup: CRC16 and the slot map",
    """Slot lookup: the key's CRC16 (bit-by-bit Python vs `binascii.crc_hqx`) and the slot -> node map (a
range list scanned under a lock vs a flat 16384-entry table). Is CRC16 under 1 µs per call? Is the
topology read lock-free and allocation-free, and the lookup O(1)? Does the lookup's profile share fall?""",
    run,
    ("slot_hash", "slot_map"),
    ("rediscluster_opt.client.cluster.ClusterClient._keyed", _S + "slot_hash.slot_bitwise",
     _S + "slot_hash.slot_crc_hqx", _S + "slot_map.RangeScanSlotMap.lookup", _S + "slot_map.FlatSlotMap.lookup"),
    ("slot_bitwise", "slot_crc_hqx", "slot_table", "lookup", "crc16_bitwise", "hash_tag"),
    criteria=(
        Criterion("crc_hqx slot hash under 1 µs per call, 64 B key (ns)", CRC_NS, "<", 1000, PRD, fmt="{:.0f}",
                  before=CRC_NS_BEFORE, unit="ns per call"),
        exact_criterion("slot map O(1): flat lookup instructions, last / first slot", FLAT_O1, "<=", 1.05,
                        before=RANGES_O1),
        exact_criterion("instructions per lookup at the last slot, flat / ranges", FLAT_VS_RANGES, "<", 1, TARGET),
        exact_criterion("topology read lock-free: lock operations per lookup (flat)", LOCKS, "<=", 0,
                        before=LOCKS_BEFORE, unit="lock operations"),
        exact_criterion("topology read allocation-free: bytes over 1000 lookups (flat)", BYTES, "<=", 0,
                        before=BYTES_BEFORE, unit="bytes"),
        share_criterion("slot hashing and lookup"),
        # The first stage story: its cumulative before is the baseline, so no isolated criterion.
        *gain_criteria(isolated=False),
    ),
    micro_tables=("wall", "instructions", "hot_path"),
    parameters=(*BENCH, "cachegrind"),
    figures=figures,
)  # fmt: skip
