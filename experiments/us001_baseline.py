"""US-001: profile the baseline (the PRD's first story). It records; no thresholds."""

from __future__ import annotations

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Recorded
from rediscluster_opt.lab.engine import cprofiles, exact, headline_level
from rediscluster_opt.lab.parameters import BENCH, Parameters
from rediscluster_opt.lab.story import AA, CPU_AA, THROUGHPUT_AA, Section, Story, StoryRun
from rediscluster_opt.results import interval, paired_ratio

REST_OPS, REST_P50 = "rest.get_single.cluster", "rest.get_single.cluster.p50"
OPS_CLUSTER, OPS_STANDALONE = "ops.cluster", "ops.standalone"
CLUSTER_OVER_STANDALONE = "ratio.cluster_over_standalone"
TOP5, LINE_FUNCTIONS = "profile.top5", "profile.line_functions"


def run(story: Story, params: Parameters) -> StoryRun:
    baseline = ClientConfig.parse("baseline")
    twin = engine.twin(baseline)
    record = engine.bench(params, [baseline, twin], story.id, modes=("cluster", "standalone"))
    profile = engine.profiles(params, story, [baseline])
    rest = engine.rest(params, [baseline], f"{story.id}-rest", ["get_single"], ("cluster",))
    level = headline_level(params.concurrency)
    top = [t["profile"]["top"][:5] for t in cprofiles(profile, baseline.label)]
    lines = [t for t in profile["trials"] if (t.get("profile") or {}).get("kind") == "line"]
    rest_trials = [t for t in rest["trials"] if t.get("status") == "ok" and t.get("valid")]
    measured = {
        REST_OPS: interval([t["ops_per_s"] for t in rest_trials]),
        REST_P50: interval([t["latency_us"]["p50"] for t in rest_trials]),
        OPS_CLUSTER: engine.ops(record, baseline.label, "cluster"),
        OPS_STANDALONE: engine.ops(record, baseline.label, "standalone"),
        CLUSTER_OVER_STANDALONE: paired_ratio(
            record, baseline.label, baseline.label, concurrency=level, denominator_mode="standalone"
        ),
        **engine.aa_control(record, twin.label, baseline.label, concurrency=level),
        TOP5: exact(float(len(top[0]))) if top else None,
        LINE_FUNCTIONS: exact(float(sum(1 for f in lines[0]["profile"]["functions"] if f["total_s"] > 0)))
        if lines
        else None,
    }
    return engine.save_run(
        story,
        params,
        record,
        measured,
        extra={"roles": {"baseline": baseline.label, AA: twin.label}, "top5": top[0] if top else []},
        linked={"profile": profile, "rest": rest},
        standalone_metrics=(OPS_STANDALONE, CLUSTER_OVER_STANDALONE),
    )


STORY = Story(
    "US-001", "baseline", "Profile the baseline",
    """Capture the baseline: `Stages.baseline()` on the REST **GET single** scenario (cluster) and on
the closed-loop client benchmark (cluster and standalone), then profile it. cProfile's top cost
centres by own time are the analogue of the PRD's `+RTS -p`; line_profiler shows the hot path line
by line. The baseline also runs as two arms (A/A): their ratio is this run's noise floor. This
story records; it has no thresholds to meet.""",
    run,
    recorded=(
        Recorded("REST GET single (cluster), baseline req/s", REST_OPS),
        Recorded("REST GET single (cluster), baseline p50 µs", REST_P50),
        Recorded("client benchmark, baseline cluster ops/s", OPS_CLUSTER),
        Recorded("client benchmark, baseline standalone ops/s", OPS_STANDALONE),
        Recorded("baseline cluster / standalone throughput", CLUSTER_OVER_STANDALONE, "{:.2f}"),
        Recorded("A/A throughput: baseline twin / baseline (noise floor)", THROUGHPUT_AA, "{:.2f}"),
        Recorded("A/A client CPU per op: baseline twin / baseline", CPU_AA, "{:.2f}"),
        Recorded("top cost centres documented (rows)", TOP5),
        Recorded("line_profiler: hot-path functions with hits", LINE_FUNCTIONS),
    ),
    parameters=(*BENCH, "rest_duration", "rest_warmup", "rest_repeats"),
    sections=(Section("## REST benchmark", ("nb.rest_table(run)",)),),
)  # fmt: skip
