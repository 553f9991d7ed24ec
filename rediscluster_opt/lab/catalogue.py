"""The PRD's stories US-001..US-008, and the project's own (US-009, US-010), as data: slug, title, introduction, the stages each one
switches, the functions it profiles, the micro-benchmark tables and figures it shows, and
its acceptance criteria.

Runners (`lab.stories`), the notebook generator and summary.md all read them from here.
Each criterion names the measured figure it is judged on (`metric`); `lab.stories`
computes the figures, `lab.criteria` turns them into verdicts. Ratio criteria on
throughput or CPU name the A/A control they must clear.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..bench.profiling import HOT_PATH
from .criteria import Criterion, Recorded

__all__ = ["AA", "STAGE_STORIES", "STORIES", "Story"]

AA = "A/A twin"
PRD, TARGET = "PRD", "project target"
_S = "rediscluster_opt.stages."
_ROUTE = "rediscluster_opt.client.base.BaseClient._route"


@dataclass(frozen=True)
class Story:
    id: str
    slug: str
    title: str
    intro: str
    stages: tuple[str, ...] = ()
    line_functions: tuple[str, ...] = tuple(HOT_PATH)
    share_functions: tuple[str, ...] = ()  # bare names whose profile share the PRD wants reduced
    criteria: tuple[Criterion, ...] = ()
    recorded: tuple[Recorded, ...] = ()
    micro_tables: tuple[str, ...] = ()  # lab.notebook.micro_table names shown in the notebook
    figures: tuple[str, ...] = ()  # story-specific figures, see lab.notebook.story_figures


def _gain(what: str = "cumulative after / before") -> tuple[Criterion, ...]:
    """Throughput and CPU per op of the cumulative step, each against its A/A control,
    and this story's stages alone against the baseline."""
    return (
        Criterion(
            f"cluster throughput, {what}", "throughput.gain", ">=", 1, TARGET, "throughput.aa", headline=True
        ),
        Criterion(f"client CPU per op, {what}", "cpu.gain", "<=", 1, TARGET, "cpu.aa", headline=True),
        Criterion(
            "cluster throughput, isolated / baseline", "throughput.isolated", ">=", 1, TARGET, "throughput.aa"
        ),
    )


def _share(what: str) -> Criterion:
    return Criterion(f"profile share of {what}, after / before (reduced)", "profile.share", "<", 1, PRD)


def _exact(text: str, metric: str, comparison: str, threshold: float, source: str = PRD) -> Criterion:
    """A criterion on a deterministic count or ratio (no A/A noise to clear); instruction
    counts need valgrind's cachegrind."""
    needs = "cachegrind" if "instructions" in text else ""
    return Criterion(text, metric, comparison, threshold, source, fmt="{:.3g}", needs=needs)


def _rest(scenario: str) -> tuple[Criterion, ...]:
    """US-008: req/s, p50 and p99 of one REST scenario (cluster), optimized / baseline."""
    lead = scenario == "get_single"
    needs = f"rest_scenarios including {scenario}"
    return (
        Criterion(f"REST {scenario}: req/s optimized / baseline", f"rest.{scenario}.gain", ">=", 1, PRD, "rest.aa",
                  headline=lead, needs=needs),
        Criterion(f"REST {scenario}: p50 optimized / baseline", f"rest.{scenario}.p50", "<=", 1, PRD, needs=needs),
        Criterion(f"REST {scenario}: p99 optimized / baseline", f"rest.{scenario}.p99", "<=", 1, PRD, needs=needs),
    )  # fmt: skip


US001 = Story(
    "US-001", "baseline", "Profile the baseline",
    """Capture the baseline: `Stages.baseline()` on the REST **GET single** scenario (cluster) and on
the closed-loop client benchmark (cluster and standalone), then profile it. cProfile's top cost
centres by own time are the analogue of the PRD's `+RTS -p`; line_profiler shows the hot path line
by line. The baseline also runs as two arms (A/A): their ratio is this run's noise floor. This
story records; it has no thresholds to meet.""",
    recorded=(
        Recorded("REST GET single (cluster), baseline req/s", "rest.get_single.cluster"),
        Recorded("REST GET single (cluster), baseline p50 µs", "rest.get_single.cluster.p50"),
        Recorded("client benchmark, baseline cluster ops/s", "ops.cluster"),
        Recorded("client benchmark, baseline standalone ops/s", "ops.standalone"),
        Recorded("baseline cluster / standalone throughput", "ratio.cluster_over_standalone", "{:.2f}"),
        Recorded("A/A throughput: baseline twin / baseline (noise floor)", "throughput.aa", "{:.2f}"),
        Recorded("A/A client CPU per op: baseline twin / baseline", "cpu.aa", "{:.2f}"),
        Recorded("top cost centres documented (rows)", "profile.top5"),
        Recorded("line_profiler: hot-path functions with hits", "profile.line_functions"),
    ),
)  # fmt: skip

US002 = Story(
    "US-002", "slot_lookup", "Slot lookup: CRC16 and the slot map",
    """Slot lookup: the key's CRC16 (bit-by-bit Python vs `binascii.crc_hqx`) and the slot -> node map (a
range list scanned under a lock vs a flat 16384-entry table). Is CRC16 under 1 µs per call? Is the
topology read lock-free and allocation-free, and the lookup O(1)? Does the lookup's profile share fall?""",
    ("slot_hash", "slot_map"),
    ("rediscluster_opt.client.cluster.ClusterClient._keyed", _S + "slot_hash.slot_bitwise",
     _S + "slot_hash.slot_crc_hqx", _S + "slot_map.RangeScanSlotMap.lookup", _S + "slot_map.FlatSlotMap.lookup"),
    ("slot_bitwise", "slot_crc_hqx", "slot_table", "lookup", "crc16_bitwise", "hash_tag"),
    criteria=(
        Criterion("crc_hqx slot hash under 1 µs per call, 64 B key (ns)", "micro.crc_ns", "<", 1000, PRD,
                  fmt="{:.0f}"),
        _exact("slot map O(1): flat lookup instructions, last / first slot", "micro.flat_o1", "<=", 1.05),
        _exact("instructions per lookup at the last slot, flat / ranges", "micro.flat_vs_ranges", "<", 1, TARGET),
        _exact("topology read lock-free: lock operations per lookup (flat)", "hot.slot_map.locks", "<=", 0),
        _exact("topology read allocation-free: bytes over 1000 lookups (flat)", "hot.slot_map.bytes", "<=", 0),
        _share("slot hashing and lookup"),
        *_gain(),
    ),
    micro_tables=("wall", "instructions", "hot_path"),
    figures=("slot_hash_ns",),
)  # fmt: skip

US003 = Story(
    "US-003", "submit", "Per-command submit: encoding, allocation, timeouts",
    """Per-command submit: RESP encoding (Python vs `hiredis.pack_command`), and how a caller waits (an
Event + `asyncio.wait_for` per command vs a bare future with one deadline sweep per connection, with
or without recycled pending records). The PRD's SlotPool idea is measured here; in CPython the free
lists of the runtime may already make pooling moot, and the experiment says so if it does.""",
    ("encoder", "submit"),
    (_S + "encoder.encode_hiredis", "rediscluster_opt.core.resp.encode_command", _S + "submit.EventSubmit.call",
     _S + "submit.PooledFutureSubmit.call", _S + "submit.PooledFutureSubmit.deliver_many",
     _S + "submit.EventSubmit.deliver_one"),
    ("call", "encode_command", "encode_hiredis", "encode_python", "wait_for", "deliver_one", "deliver_many"),
    criteria=(
        _exact("memory blocks per pending command, pooled / event (alloc reduced)", "alloc.pooled_vs_event", "<", 1),
        _exact("instructions per submit cycle, pooled / event", "micro.submit_vs_event", "<", 1, TARGET),
        Criterion("recycled records pay: throughput pooled / plain futures", "throughput.pool", ">=", 1, TARGET,
                  "throughput.aa"),
        _share("encoding and submitting"),
        *_gain(),
    ),
    micro_tables=("wall", "instructions", "allocations"),
    figures=("blocks_per_command",),
)  # fmt: skip

US004 = Story(
    "US-004", "node_selection", "Node selection in the multiplexer pool",
    """Node selection in the multiplexer pool: a lock and one pool-wide round-robin counter vs lock-free
immutable maps with a per-node cycle and a single-connection fast path, swept across connections per
node (the original's threads x multiplexers sweep). In asyncio there is no thread contention, so only
the bookkeeping itself can differ.""",
    ("node_select",),
    (_S + "node_select.LockedSelector.pick", _S + "node_select.LockFreeSelector.pick", _ROUTE),
    ("pick",),
    criteria=(
        _exact("lock-free read: lock operations per pick (lockfree)", "hot.node_select.locks", "<=", 0),
        _exact("instructions per pick, 4 connections per node, lockfree / locked", "micro.pick_vs_locked", "<", 1),
        _share("node selection (pick)"),
        *(Criterion(f"throughput lock-free / locked, {n} connection(s) per node", f"throughput.x{n}", ">=", 1,
                    TARGET, "throughput.aa", needs=f"connections including {n}") for n in (1, 2, 4)),
        Criterion("cluster throughput lock-free / locked, first connection count", "throughput.gain", ">=", 1,
                  TARGET, "throughput.aa", headline=True),
        Criterion("client CPU per op lock-free / locked, first connection count", "cpu.gain", "<=", 1, TARGET,
                  "cpu.aa", headline=True),
    ),
    micro_tables=("wall", "instructions", "hot_path"),
)  # fmt: skip

US005 = Story(
    "US-005", "writer", "Writer batching",
    """Writer batching: one `transport.write` per command vs a queue flushed once per event-loop tick, with
`b"".join` vs `transport.writelines` (vectored I/O, which the PRD asks for). Socket writes per command
and commands per write come from the client's own counters.""",
    ("writer",),
    (_S + "writer.DirectWriter.send", _S + "writer.JoinWriter.send", _S + "writer.JoinWriter._flush",
     _S + "writer.WritelinesWriter._emit"),
    ("send", "_flush", "_emit", "write", "writelines"),
    criteria=(
        Criterion("socket writes per command, batched / per-command writer", "writes.gain", "<", 1, TARGET,
                  fmt="{:.3f}"),
        Criterion("vectored I/O pays: throughput writelines / join", "throughput.vectored", ">=", 1, PRD,
                  "throughput.aa"),
        _share("the writer and send path"),
        *_gain(),
    ),
    recorded=(Recorded("commands per socket write, batched writer", "io.commands_per_write", "{:.1f}"),),
    figures=("writes_per_command",),
)  # fmt: skip

US006 = Story(
    "US-006", "reader", "Reader: batch parsing and batch resolve",
    """Reader: the pure-Python RESP parser vs hiredis, and resolving each reply as it is parsed vs draining
every complete reply of a read and resolving them in one batch (a 2x2; its corners are the cumulative
before and after).""",
    ("parser", "delivery"),
    (_S + "delivery.PerReplyDelivery.data_received", _S + "delivery.BatchDelivery.data_received",
     _S + "submit.PooledFutureSubmit.deliver_many", _S + "submit.PooledFutureSubmit.deliver_one",
     "rediscluster_opt.core.resp.PythonReader.gets"),
    ("data_received", "gets", "feed", "deliver_one", "deliver_many"),
    criteria=(
        Criterion("several replies parsed per socket read", "io.replies_per_read", ">", 1, PRD, fmt="{:.1f}"),
        Criterion("batch dequeue: dequeue calls per reply", "profile.dequeues_per_reply", "<", 1, PRD,
                  fmt="{:.3f}"),
        _exact("instructions per 200 B reply parsed, hiredis / python", "micro.hiredis_vs_python", "<", 1, TARGET),
        Criterion("batch resolve pays: hiredis+batch / hiredis+per_reply", "throughput.batch", ">=", 1, TARGET,
                  "throughput.aa"),
        Criterion("hiredis pays: hiredis+batch / python+batch", "throughput.hiredis", ">=", 1, TARGET,
                  "throughput.aa"),
        _share("the reader path"),
        *_gain(),
    ),
    micro_tables=("wall", "instructions"),
)  # fmt: skip

US007 = Story(
    "US-007", "redirects", "MOVED/ASK detection on the no-redirect path",
    """MOVED/ASK detection on the common no-redirect path: rendering every reply as text for a regex vs a
type and first-byte check. Then a live slot migration under load: callers must see correct values
through ASK and MOVED, with zero wrong answers.""",
    ("redirect",),
    (_S + "redirect.redirect_regex", _S + "redirect.redirect_first_byte", _ROUTE),
    ("redirect_regex", "redirect_first_byte", "_as_text"),
    criteria=(
        _exact("no-redirect check, 200 B reply: instructions first_byte / regex", "micro.first_byte_vs_regex",
               "<", 1),
        _exact("no allocation on the no-redirect path: bytes over 1000 checks", "hot.redirect.bytes", "<=", 0),
        _exact("wrong answers + errors in a live slot migration (both stage sets)", "migration.failures", "<=", 0),
        _exact("ASK redirects seen and followed in the migration", "migration.ask", ">", 0),
        _exact("MOVED redirects seen and followed in the migration", "migration.moved", ">", 0),
        _share("redirect detection"),
        *_gain(),
    ),
    recorded=(Recorded("ms from the end of the move to routing at the new owner", "migration.recover_ms",
                       "{:.1f}"),),
    micro_tables=("wall", "instructions", "hot_path"),
    figures=("migration_timeline",),
)  # fmt: skip

US008 = Story(
    "US-008", "final", "Final comparison: REST scenarios and the client benchmark",
    """The final comparison: the four REST scenarios (GET single, GET list, POST, Mixed) for the baseline,
the optimized preset and every installed peer, standalone and cluster, and the client benchmark
with every peer. Improvements are paired ratios measured in this same run against the US-001
configuration (the baseline preset), never against another run's absolute numbers. Last, what
TLS costs: each client against the local cluster and a TLS twin of it, interleaved, as TLS / plain
ratios of throughput and of client CPU per operation.""",
    criteria=(
        *_rest("get_single"), *_rest("get_list"), *_rest("post"), *_rest("mixed"),
        Criterion("guard rail: REST GET single standalone, optimized / baseline", "rest.get_single.standalone",
                  ">=", 1, PRD, "rest.aa"),
        Criterion("guard rail: client bench standalone, optimized / baseline", "throughput.standalone", ">=", 1,
                  PRD, "throughput.aa"),
        _exact("guard rail: new hotspots (optimized top-5 modules outside the baseline top 10)", "profile.new_hotspots",
               "<=", 0),
        Criterion("REST GET single: standalone->cluster drop, optimized minus baseline", "rest.drop_change", "<",
                  0, PRD, fmt="{:+.1%}"),
        Criterion("client bench (cluster): optimized / valkey-glide", "peer.valkey-glide", ">=", 5, TARGET,
                  "throughput.aa"),
        Criterion("client bench (cluster): optimized / redis-py", "peer.redis-py", ">=", 10, TARGET,
                  "throughput.aa"),
        Criterion("client bench: optimized cluster / standalone (within 3%)", "ratio.cluster_over_standalone",
                  ">=", 0.97, TARGET, "throughput.aa", fmt="{:.3f}"),
        Criterion("client bench (cluster): optimized / baseline", "throughput.gain", ">=", 1, TARGET,
                  "throughput.aa", headline=True),
        Criterion("client bench (cluster): CPU per op optimized / baseline", "cpu.gain", "<=", 1, TARGET,
                  "cpu.aa", headline=True),
    ),
    # What TLS costs each client: recorded, no threshold (a cost to know, not a target).
    recorded=tuple(
        Recorded(f"TLS / plain {what}, {client} (cluster)", f"tls.{client}.{metric}", "{:.2f}")
        for client in ("ours", "redis-py", "coredis", "valkey-glide")
        for what, metric in (("throughput", "throughput"), ("client CPU per op", "cpu"))
    ),
    figures=("rest_bars", "tls_cost"),
)  # fmt: skip


_PEERS_RUN = "the peer in `peers`, installed; a smoke run leaves the peers out"

US009 = Story(
    "US-009", "inlining", "Inlining the hot path",
    """The PRD asks for INLINE pragmas on the hot path; CPython has no inliner. Its stand-in is the
`dispatch` stage: `composed` calls one function per stage (about ten Python frames per GET),
`fused` compiles one route from the chosen stages when the client is built and fuses submit with
the writer per connection, and `shaped` adds GET/SET/INCR... methods whose RESP prefix is built
once. Measured against the servers (cluster and standalone, interleaved, with an A/A twin), at
C = 1, 16, 64 and 256, and in-process against a server-less fake transport that isolates the
client: frames per GET, ns per GET and where each µs goes, stage by stage. The yardstick is
`calibration:bare`, a 70-line multiplexer with none of the client's guarantees (no timeouts,
redirects, retries or backpressure): the least a GET can cost in this runtime, never a client.""",
    ("dispatch",),
    (),  # line_profiler: the functions each configuration really runs (its generated route included)
    ("_keyed", "_route", "get", "keyed", "slot_crc_hqx", "lookup", "pick", "encode_hiredis", "call", "send",
     "execute", "redirect_first_byte", "to_bytes"),
    criteria=(
        *_gain("shaped / composed"),
        Criterion("cluster throughput, optimized / calibration:bare", "bare.cluster", ">=", 0.85, TARGET,
                  "throughput.aa"),
        Criterion("standalone throughput, optimized / calibration:bare", "bare.standalone", ">=", 0.85, TARGET,
                  "throughput.aa"),
        Criterion("client CPU per op (cluster), optimized / calibration:bare", "bare.cpu", "<=", 1.2, TARGET,
                  "cpu.aa"),
        Criterion("client bench (cluster): optimized / valkey-glide", "peer.valkey-glide", ">=", 5, TARGET,
                  "throughput.aa", needs=_PEERS_RUN),
        Criterion("client bench (cluster): optimized / redis-py", "peer.redis-py", ">=", 10, TARGET,
                  "throughput.aa", needs=_PEERS_RUN),
        Criterion("client bench (cluster), C=16: optimized / valkey-glide", "peer.valkey-glide.c16", ">=", 2.5,
                  TARGET, "sweep.aa", needs=_PEERS_RUN),
        Criterion("command shapes pay: throughput shaped / fused", "throughput.shapes", ">=", 1, TARGET,
                  "throughput.aa"),
        Criterion("in-process ns per GET, shaped / composed", "inprocess.gain", "<", 1, TARGET, "inprocess.aa"),
        _exact("Python frames per GET above the bare design's (shaped, in-process)", "frames.over_bare", "<=", 2,
               TARGET),
        Criterion("GET encoding ns, prebuilt prefix / hiredis.pack_command", "encode.prefix_vs_pack", "<", 1,
                  TARGET),
        _share("the route, submit and writer"),
    ),
    recorded=(
        Recorded("Python frames per GET, composed (in-process)", "frames.composed", "{:.2f}"),
        Recorded("Python frames per GET, shaped (in-process)", "frames.shaped", "{:.2f}"),
        Recorded("in-process ns per GET, fused / composed", "inprocess.fused", "{:.2f}"),
        Recorded("in-process ns per GET, shaped / calibration:bare", "inprocess.over_bare", "{:.2f}"),
        *(Recorded(f"cluster throughput at C={c}, optimized / calibration:bare", f"sweep.bare.c{c}", "{:.2f}")
          for c in (1, 16, 64, 256)),
    ),
    figures=("concurrency_sweep", "cost_waterfall"),
)  # fmt: skip


def _ours(
    text: str,
    figure: str,
    comparison: str,
    threshold: float,
    fault: str,
    fmt: str = "{:.2f}",
    headline: bool = False,
) -> Criterion:
    """US-010: a figure of our client over the runs of `fault` (a median with its spread,
    or an exact total for "zero" targets); no A/A control: the faults are the treatment
    and the targets are absolute. `fault` says what a run needs to measure it."""
    return Criterion(
        text,
        f"ours.{figure}",
        comparison,
        threshold,
        TARGET,
        fmt=fmt,
        headline=headline,
        needs=fault,
    )


US010 = Story(
    "US-010", "resilience", "Resilience under production faults",
    """Production clusters crash, hang, fail over, kill connections and get flooded. Each fault
runs under a checked SET/GET load (every caller reads back its own values, so a reply handed to
the wrong caller is caught) for our optimized client, redis-py and valkey-glide in turn, each
in its own process and with the same 1 s command timeout. Failover faults run on a cluster
with one replica per master (1.5 s node timeout) that the story starts on ports 7500-7505. Each
fault gets a timeline (successes and errors per 250 ms, the fault and the promotion marked) and a
table: errors by type, wrong values, time to serve again after the promotion, peak RSS growth.
Not a speed story: the criteria are absolute (issue #11), judged on our client. A client that
never serves the failed slots again within its run is counted at the whole rest of the run.""",
    criteria=(
        _ours("wrong values, every fault (zero)", "wrong_values", "<=", 0, "any fault", "{:.0f}"),
        _ours("served again after a crashed master's promotion, s", "recovery_crash_s", "<=", 1.0,
              "fault kill_replica"),
        _ours("served again after a hung master's promotion, s", "recovery_hang_s", "<=", 1.0,
              "fault sigstop_replica", headline=True),
        _ours("errors under CLIENT KILL x5 (zero)", "client_kill_errors", "<=", 0, "fault client_kill", "{:.0f}"),
        _ours("errors during a graceful failover (zero)", "graceful_errors", "<=", 0, "fault graceful_failover",
              "{:.0f}"),
        _ours("peak RSS growth under the write flood, MB", "flood_rss_mb", "<", 400, "fault write_flood", "{:.0f}"),
        _ours("errors of untouched masters' callers during failovers (zero)", "elsewhere_errors", "<=", 0,
              "a failover fault", "{:.0f}"),
        _ours("replies unlike a single execution's under a CLIENT KILL storm (zero)", "resend_wrong_replies",
              "<=", 0, "fault kill_storm", "{:.0f}"),
    ),
    recorded=tuple(
        Recorded(f"{peer}: {what}", f"{peer}.{figure}", fmt)
        for peer in ("redis-py", "valkey-glide")
        for what, figure, fmt in (
            ("wrong values", "wrong_values", "{:.0f}"),
            ("served again after a crashed master's promotion, s", "recovery_crash_s", "{:.2f}"),
            ("served again after a hung master's promotion, s", "recovery_hang_s", "{:.2f}"),
            ("errors under CLIENT KILL x5", "client_kill_errors", "{:.0f}"),
            ("replies unlike a single execution's under a CLIENT KILL storm", "resend_wrong_replies", "{:.0f}"),
            ("peak RSS growth under the write flood, MB", "flood_rss_mb", "{:.0f}"),
        )
    ),
)  # fmt: skip

STORIES = {s.id: s for s in (US001, US002, US003, US004, US005, US006, US007, US008, US009, US010)}
STAGE_STORIES = [s for s in STORIES.values() if s.stages]
