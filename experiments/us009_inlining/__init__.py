"""US-009: inlining the hot path (the `dispatch` stage), against the servers, by
concurrency, and in-process against a server-less fake transport."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine, limits
from rediscluster_opt.lab.compare import gain_metrics, ordered, roles, share_ratio
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.engine import headline_level
from rediscluster_opt.lab.instruments.inprocess import BARE
from rediscluster_opt.lab.parameters import BENCH, Parameters
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.frame import trials_frame
from rediscluster_opt.lab.story import (
    AA,
    CPU_AA,
    NEGLIGIBLE,
    PROFILE_SHARE,
    TARGET,
    THROUGHPUT_AA,
    Section,
    Story,
    StoryRun,
    exact_criterion,
    gain_criteria,
    share_criterion,
)
from rediscluster_opt.results import paired_ratio

from . import charts, inlining
from .inlining import (
    FRAMES_COMPOSED,
    FRAMES_OVER_BARE,
    FRAMES_OVER_BARE_BEFORE,
    FRAMES_SHAPED,
    INPROCESS_AA,
    INPROCESS_FUSED,
    INPROCESS_GAIN,
    INPROCESS_OVER_BARE,
    PREFIX_VS_PACK,
)

SWEEP = (1, 16, 64, 256)  # the concurrency sweep
SMOKE_SWEEP = 16  # the level of the sweep's criterion; a smoke run sweeps it alone
CURVE_REPEATS = 3  # repeats of the sweep's other levels: curves to look at, no criterion
SWEEP_ARMS = "sweep_arms"  # extra: the labels the sweep runs, drawn at every level
FULL_SWEEP = f"the full sweep; a smoke run sweeps C={SMOKE_SWEEP} alone"
SHAPES, BARE_CPU, SWEEP_AA = "throughput.shapes", "bare.cpu", "sweep.aa"
GLIDE_C16 = "peer.valkey-glide.c16"
PEERS_RUN = "the peer in `peers`, installed; a smoke run leaves the peers out"


def bare_metric(mode: str) -> str:
    """Throughput in `mode`, optimized / calibration:bare."""
    return f"bare.{mode}"


def sweep_metric(concurrency: int) -> str:
    """Cluster throughput at one concurrency of the sweep, optimized / calibration:bare."""
    return f"sweep.bare.c{concurrency}"


def peer_metric(peer: str) -> str:
    return f"peer.{peer}"


def run(story: Story, params: Parameters) -> StoryRun:
    """Composed vs fused vs shaped against the servers (both modes, with the bare
    calibration arm and the peers at the headline concurrency), a concurrency sweep, and
    the in-process figures of `inlining`."""
    found = roles(story)
    after = found["cumulative after"]
    fused = ClientConfig(
        "ours", after.stage_set().replace(dispatch="fused").as_dict(), name="fused (no shapes)"
    )
    bare = ClientConfig.parse(BARE)
    # US-008's smoke run already proves the peers; this one keeps to ours and the bare arm.
    chosen = () if params.smoke else params.peers
    peers = [ClientConfig.parse(p) for p in chosen if p in ("valkey-glide", "redis-py")]
    peers = [p for p in peers if p.available()]
    level = headline_level(params.concurrency)
    arms = limits.c_client_arms(params, after, level)  # the C client: the limit, and the servers' own
    # standalone figures read only the preset, the bare arm and the C client
    beside = [c.label for c in [*found.values(), fused, *peers] if c is not after]
    record = engine.bench(params, ordered(found, [fused, bare, *peers, *arms]), story.id,
                          modes=("cluster", "standalone"), cluster_only=beside)  # fmt: skip
    glide = [p for p in peers if p.label == "valkey-glide"]  # the fastest peer; the 2.5x target is at C=16
    swept = [found["cumulative before"], found[AA], after, bare, *glide]
    criterion_level, sweep = _sweeps(story, params, swept, level)
    profile = engine.profiles(params, story, [found["cumulative before"], after])
    names = {role: config.label for role, config in found.items()}
    data = inlining.in_process(params.smoke)
    measured = {
        **gain_metrics(record, names, level),
        PROFILE_SHARE: share_ratio(profile, names, story.share_functions),
        **_server_ratios(record, after.label, fused.label, bare.label, [p.label for p in peers], arms, level),
        SWEEP_AA: paired_ratio(
            criterion_level, found[AA].label, found["cumulative before"].label, concurrency=SMOKE_SWEEP
        ),
        **_sweep_ratios((criterion_level, sweep, record), after.label, bare.label),
        **inlining.measured_in_process(data),
    }
    if glide:
        measured[GLIDE_C16] = paired_ratio(
            criterion_level, after.label, "valkey-glide", concurrency=SMOKE_SWEEP
        )
    extra = {
        "roles": {**names, "fused (no shapes)": fused.label, "calibration": bare.label},
        SWEEP_ARMS: [c.label for c in swept],
        "in_process": data,
        "c_client": {"pipeline": max((a.pipeline for a in arms), default=None),
                     "fractions": limits.fractions(record, arms, level)},
    }  # fmt: skip
    return engine.save_run(
        story,
        params,
        record,
        measured,
        extra=extra,
        linked={
            "profile": profile,
            "sweep": criterion_level,
            **({} if sweep is criterion_level else {"sweep-curves": sweep}),
        },  # fmt: skip
        standalone_metrics=(
            bare_metric("standalone"),
            *(limits.c_client_metric(k, "standalone") for k in limits.KINDS),
        ),
    )


def _sweeps(
    story: Story, params: Parameters, arms: list[ClientConfig], measured: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the C=16 record, the other levels' record): C=16 holds a criterion, its own record
    with the run's repeats; the other levels draw the curves, three repeats each, but for
    the `measured` level the story's main record already holds with every repeat (a smoke
    run sweeps C=16 alone: the same record twice)."""
    criterion_level = engine.bench(params, arms, f"{story.id}-sweep", concurrency=[SMOKE_SWEEP])
    if params.smoke:
        return criterion_level, criterion_level
    curves = engine.bench(
        params, arms, f"{story.id}-sweep-curves",
        concurrency=[c for c in SWEEP if c not in (SMOKE_SWEEP, measured)],
        repeats=min(params.repeats, CURVE_REPEATS),
    )  # fmt: skip
    return criterion_level, curves


def _server_ratios(
    record: dict[str, Any],
    after: str,
    fused: str,
    bare: str,
    peers: list[str],
    arms: list[ClientConfig],
    level: int,
) -> dict[str, Any]:
    """The preset against the servers, beside each arm: fused without shapes, the bare
    calibration arm (both modes, and its CPU), each peer, and the C client's arms."""
    where: dict[str, Any] = {"concurrency": level}
    c_client = {
        limits.c_client_metric(limits.kind(arm), m): paired_ratio(record, after, arm.label, mode=m, **where)
        for arm in arms
        for m in ("cluster", "standalone")
    }
    c_client_cpu = {
        limits.c_client_metric(limits.kind(arm), "cluster", "cpu"): paired_ratio(
            record, after, arm.label, "cpu_us_per_op", **where
        )
        for arm in arms
    }
    return {
        SHAPES: paired_ratio(record, after, fused, **where),
        **{
            bare_metric(m): paired_ratio(record, after, bare, mode=m, **where)
            for m in ("cluster", "standalone")
        },
        BARE_CPU: paired_ratio(record, after, bare, "cpu_us_per_op", **where),
        **{peer_metric(p): paired_ratio(record, after, p, **where) for p in peers},
        **c_client,
        **c_client_cpu,
    }


def _sweep_ratios(records: tuple[dict[str, Any], ...], after: str, bare: str) -> dict[str, Any]:
    """The preset over the bare arm at every level the sweep's records (and the main
    record, at the headline level) ran, in cluster mode."""
    return {
        sweep_metric(c): paired_ratio(each, after, bare, concurrency=c)
        for each in records
        for c in each["parameters"]["concurrency"]
    }


def _sweep_frame(run: StoryRun) -> Any:
    """The sweep's trials at every level: its own records', and the main record's at the
    headline level (cluster mode, the sweep's arms only)."""
    sweep = [found for name in ("sweep", "sweep-curves") if (found := run.linked_record(name)) is not None]
    if not sweep:
        return None
    frame = trials_frame([*sweep, run.record])
    swept = set(run.extra.get(SWEEP_ARMS) or frame["config"])
    return frame[frame["config"].isin(swept) & (frame["mode"] == "cluster")]


def figures(run: StoryRun, params: Parameters) -> list[Path]:
    out = []
    sweep = _sweep_frame(run)
    if sweep is not None:
        fig = charts.concurrency_sweep(
            sweep,
            nb.categories(run),
            title=f"{run.story.id}: by concurrency ({nb.workload_text(run, run.linked_record('sweep'))})",
        )
        out.append(nb.save_figure(fig, params, run, "concurrency_sweep"))
    if run.extra.get("in_process"):
        fig = charts.cost_waterfall(
            inlining.waterfall(run.extra["in_process"]),
            title=f"{run.story.id}: where each µs per GET goes (in-process, cluster, C=64)",
        )
        out.append(nb.save_figure(fig, params, run, "cost_waterfall"))
    return out


def c_client_table(run: StoryRun) -> Any:
    """Every client of the run, per mode, as a fraction of the C client's throughput, with
    and without pipelining (median paired ratio [interval])."""
    import pandas as pd

    rows = run.extra.get("c_client", {}).get("fractions")
    return pd.DataFrame(rows) if rows else None


def in_process_table(run: StoryRun) -> Any:
    """Frames and ns per GET per arm, in-process against the fake transport."""
    import pandas as pd

    data = run.extra.get("in_process")
    return pd.DataFrame(inlining.in_process_table(data)) if data else None


STORY = Story(
    "US-009", "inlining", "Inlining the hot path",
    """The PRD asks for INLINE pragmas on the hot path; CPython has no inliner. Its stand-in is the
`dispatch` stage: `composed` calls one function per stage (over a dozen Python frames per GET),
`fused` compiles one route from the chosen stages when the client is built and fuses submit with
the writer per connection, and `shaped` adds GET/SET/INCR... methods whose RESP prefix is built
once. Measured against the servers (cluster and standalone, interleaved, with an A/A twin), at
C = 1, 16, 64 and 256, and in-process against a server-less fake transport that isolates the
client: frames per GET, ns per GET and where each µs goes, stage by stage. The yardstick is
`calibration:bare`, a 70-line multiplexer with none of the client's guarantees (no timeouts,
redirects, retries or backpressure): the least a GET can cost in this runtime, never a client.""",
    run,
    ("dispatch",),
    (),  # line_profiler: the functions each configuration really runs (its generated route included)
    ("_keyed", "_route", "get", "keyed", "slot_crc_hqx", "lookup", "pick", "encode_hiredis", "call", "send",
     "execute", "redirect_first_byte", "to_bytes"),
    criteria=(
        *gain_criteria("shaped / composed"),
        Criterion("cluster throughput, optimized / calibration:bare", bare_metric("cluster"), ">=", 0.85, TARGET,
                  THROUGHPUT_AA),
        Criterion("standalone throughput, optimized / calibration:bare", bare_metric("standalone"), ">=", 0.85,
                  TARGET, THROUGHPUT_AA),
        Criterion("client CPU per op (cluster), optimized / calibration:bare", BARE_CPU, "<=", 1.2, TARGET, CPU_AA),
        Criterion("client bench (cluster): optimized / valkey-glide", peer_metric("valkey-glide"), ">=", 5, TARGET,
                  THROUGHPUT_AA, needs=PEERS_RUN),
        Criterion("client bench (cluster): optimized / redis-py", peer_metric("redis-py"), ">=", 10, TARGET,
                  THROUGHPUT_AA, needs=PEERS_RUN),
        Criterion("client bench (cluster), C=16: optimized / valkey-glide", GLIDE_C16, ">=", 2.5,
                  TARGET, SWEEP_AA, needs=PEERS_RUN),
        Criterion("command shapes pay: throughput shaped / fused", SHAPES, ">=", 1, TARGET, THROUGHPUT_AA,
                  before=THROUGHPUT_AA, equivalence=NEGLIGIBLE),
        Criterion("in-process ns per GET, shaped / composed", INPROCESS_GAIN, "<", 1, TARGET, INPROCESS_AA,
                  before=INPROCESS_AA),
        exact_criterion("Python frames per GET above the bare design's (shaped, in-process)", FRAMES_OVER_BARE,
                        "<=", 2, TARGET, before=FRAMES_OVER_BARE_BEFORE, unit="frames"),
        Criterion("GET encoding ns, prebuilt prefix / hiredis.pack_command", PREFIX_VS_PACK, "<", 1, TARGET),
        share_criterion("the route, submit and writer"),
    ),
    recorded=(
        Recorded("Python frames per GET, composed (in-process)", FRAMES_COMPOSED, "{:.2f}"),
        Recorded("Python frames per GET, shaped (in-process)", FRAMES_SHAPED, "{:.2f}"),
        Recorded("in-process ns per GET, fused / composed", INPROCESS_FUSED, "{:.2f}"),
        Recorded("in-process ns per GET, shaped / calibration:bare", INPROCESS_OVER_BARE, "{:.2f}"),
        *(Recorded(f"cluster throughput at C={c}, optimized / calibration:bare", sweep_metric(c), "{:.2f}",
                   needs="" if c == SMOKE_SWEEP else FULL_SWEEP) for c in SWEEP),
        *(Recorded(f"{what}, optimized / redis-benchmark {arm}", limits.c_client_metric(k, mode, figure), "{:.2f}",
                   needs=limits.NEEDS)
          for k, arm in limits.KINDS.items()
          for what, mode, figure in (("cluster throughput", "cluster", "throughput"),
                                     ("standalone throughput", "standalone", "throughput"),
                                     ("client CPU per op (cluster)", "cluster", "cpu"))),
    ),
    parameters=(*BENCH, "peers"),
    figures=figures,
    tables={"in_process": in_process_table, "c_client": c_client_table},
    sections=(
        Section(
            "## The C client as the limit\n\n`redis-benchmark` against the same servers, pinned to the "
            "client CPU as every arm is, with the same value size, key count and concurrency: without "
            "pipelining (a connection-per-request C client) and pipelined as deep as our multiplexer's "
            "own commands per write (what the servers give a client that costs next to nothing). Each "
            "client of the run as a fraction of both; redis-benchmark checks no reply.",
            ('nb.story_table(run, "c_client")',),
        ),
        Section(
            "## In-process: frames and ns per GET\n\nThe client against a fake transport that answers "
            "every request on the next loop tick: no servers, so only the client's cost (and the fake "
            "server's, the same for every arm). Frames are counted with `sys.setprofile` and are "
            "deterministic; ns per GET are interleaved repeats, with an A/A twin of `composed`.",
            ('nb.story_table(run, "in_process")',),
        ),
    ),
    headlines={"optimized_over_glide": peer_metric("valkey-glide"), "optimized_over_redis_py": peer_metric("redis-py"),
               "optimized_over_bare": bare_metric("cluster")},
)  # fmt: skip
