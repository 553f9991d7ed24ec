"""The `rcopt` command: the local cluster, the benchmarks, the main job, reports and run
comparisons. `python -m rediscluster_opt` is the same command.

Only the client's own modules are imported to build the parser: what the measuring
subcommands need (the lab extras) is imported inside them, so `rcopt --help` works on
the core install and a missing extra is named before a subcommand starts."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from .compiled import BuildError
from .defaults import CLUSTER_PORTS, SEEDS, STANDALONE, STANDALONE_PORT
from .localcluster import LocalCluster, LocalClusterError, parse_ports

__all__ = ["main"]

# The subparsers action build_parser hands to each command group (argparse keeps its class private).
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


# What each optional extra of pyproject.toml brings, by import name, and the subcommands
# that need it. Checked with find_spec (nothing is imported) before the subcommand runs.
EXTRAS = {
    "lab": (
        "papermill", "nbformat", "matplotlib", "pandas", "numpy", "scipy", "psutil", "pyperf",
        "line_profiler", "fastjsonschema", "orjson", "granian", "uvicorn", "httptools",
    ),
    "compat,dev": ("redis", "pytest", "pytest_asyncio"),
}  # fmt: skip
NEEDS = dict.fromkeys(
    ("bench", "rest", "experiments", "reference", "report", "compare", "docs", "history"), "lab"
) | {"redis-py-suite": "compat,dev"}


# The measurements of many minutes check first that the machine is idle (`_machine_is_ours`).
BUSY_ANYWAY = "--busy-anyway"
BUSY_HELP = "measure even when the machine is busy at the start (its trials are re-run while it is not quiet)"


class MissingExtra(Exception):
    """A subcommand's optional dependencies are not installed; the message says which
    extra to install."""

    def __init__(self, command: str, extra: str, module: str) -> None:
        super().__init__(
            f"rcopt {command} needs the '{extra}' extra (module {module} is not installed): "
            f"pip install 'rediscluster_opt[{extra}]'"
        )


def check_extra(command: str) -> None:
    """Raise MissingExtra when a module of the extra `command` needs is not installed."""
    extra = NEEDS.get(command)
    if extra is None:
        return
    for module in EXTRAS[extra]:
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(command, extra, module)


CLIENT_SPECS = (
    "comma list: baseline, optimized, optimized:stage=variant,..., redis-py, coredis, valkey-glide, "
    "compat (our redis-py drop-in), calibration:bare (a lower bound, not a client), calibration:loop "
    "(the event loop alone), calibration:redis-benchmark[:pipeline=N] (the C client)"
)


def _ports_argument(text: str) -> tuple[int, ...]:
    try:
        return parse_ports(text)
    except ValueError as exc:  # argparse prints only ArgumentTypeError messages verbatim
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cluster_from(args: argparse.Namespace) -> LocalCluster:
    options = {
        "ports": args.ports,
        "timeout": args.timeout,
        "replicas": args.replicas,
        "node_timeout": args.node_timeout,
        "password": os.environ.get(args.password_env) if args.password_env else None,
        "tls": args.tls,
    }
    if args.password_env and options["password"] is None:
        raise LocalClusterError(f"--password-env names {args.password_env}, which is not set")
    if args.acl_user:
        name, colon, secret_env = args.acl_user.partition(":")
        if not colon or secret_env not in os.environ:
            raise LocalClusterError("--acl-user takes NAME:ENV_VAR (the variable holds that user's password)")
        options["acl_user"] = (name, os.environ[secret_env])
    options["standalone_port"] = None if args.standalone_port == 0 else args.standalone_port
    if args.data_dir is not None:
        options["data_dir"] = args.data_dir
    return LocalCluster(**options)


def _cluster_command(args: argparse.Namespace) -> int:
    cluster = _cluster_from(args)
    if args.action == "up":
        started = cluster.up()
        state = "started" if started else "already up"
        print(f"cluster {state}: nodes {', '.join(cluster.seeds)}", end="")
        print(f"; standalone {cluster.standalone_address}" if cluster.standalone_address else "")
        if cluster.tls:
            print(f"TLS only; connect with {cluster.url()} (CA {cluster.certificates.ca})")
    elif args.action == "down":
        stopped = cluster.down()
        print(f"stopped {len(stopped)} redis-server process(es); removed {cluster.data_dir}")
    elif args.action == "flush":
        cluster.flush()
        print("flushed every running node")
    else:
        rows = cluster.status()
        print(json.dumps(rows, indent=2) if args.json else _status_table(rows))
        return 0 if cluster.is_up() else 3
    return 0


def _status_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'address':<18} {'role':<15} {'pid':>7}  state"]
    for row in rows:
        state = row.get("cluster_state", "running" if row["running"] else "stopped")
        if not row["running"]:
            state = "stopped"
        lines.append(f"{row['address']:<18} {row['role']:<15} {row['pid'] or '-':>7}  {state}")
    return "\n".join(lines)


def _csv(kind: Callable[[str], Any] = str) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        try:
            return [kind(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad list {text!r}") from None

    return parse


def _target(args: argparse.Namespace) -> Any:
    from .bench.target import target_from

    seeds = args.seeds or list(SEEDS)
    standalone = args.standalone
    if standalone is None:
        standalone = STANDALONE if args.seeds is None else None
    return target_from(seeds, standalone or None)


def _bench_command(args: argparse.Namespace) -> int:
    from .bench.adapters import ClientConfig
    from .bench.report import format_table
    from .bench.runner import run_benchmark
    from .bench.workload import Workload
    from .results import save_record, writable_folder

    writable_folder(args.results_dir)  # before minutes of measuring, not after
    configs = [
        ClientConfig.parse(spec, loop=args.loop, connections_per_node=args.connections_per_node)
        for spec in args.clients
    ]
    record = run_benchmark(
        configs,
        experiment=args.experiment,
        target=_target(args),
        modes=args.modes,
        workload=Workload(kind=args.workload, value_size=args.value_size, key_count=args.keys),
        concurrency=args.concurrency,
        duration=args.duration,
        warmup=args.warmup,
        repeats=args.repeats,
        profile=args.profile,
        flame_dir=args.flame_dir if args.profile == "pyspy" else None,
        pin=not args.no_pin,
        processes=args.processes,
        reruns=args.reruns,
    )
    path = save_record(record, args.results_dir)
    print()
    print(format_table(record, markdown=args.markdown))
    print(f"\nrecord: {path}")
    return 0 if not record["summary"]["failed_trials"] else 1


def _rest_command(args: argparse.Namespace) -> int:
    from .bench.adapters import ClientConfig
    from .bench.report import format_table
    from .rest.runner import run_rest_benchmark
    from .results import save_record, writable_folder

    writable_folder(args.results_dir)  # before minutes of measuring, not after
    record = run_rest_benchmark(
        [ClientConfig.parse(spec) for spec in args.backends],
        modes=args.modes,
        scenarios=args.scenarios,
        duration=args.duration,
        warmup=args.warmup,
        repeats=args.repeats,
        server=args.server,
        target=_target(args),
        experiment=args.experiment,
        reruns=args.reruns,
    )
    path = save_record(record, args.results_dir)
    print()
    print(format_table(record, markdown=args.markdown))
    print()
    print(format_rest_comparison(record))
    print(f"\nrecord: {path}")
    return 0 if not record["summary"]["failed_trials"] else 1


def format_rest_comparison(record: dict[str, Any]) -> str:
    from .results.tables import table

    def req(value: float | None) -> str:
        return f"{value:,.0f}" if value else "-"

    rows = [
        [row["scenario"], row["config"], req(row["standalone_req_s"]), req(row["cluster_req_s"]),
         f"{row['drop']:.1%}" if row["drop"] is not None else "-"]
        for row in record["summary"]["rest"]
    ]  # fmt: skip
    return table(["scenario", "backend", "standalone", "cluster", "drop"], rows)


def _experiments_command(args: argparse.Namespace) -> int:
    from .bench.target import check_target
    from .lab.main import run_notebooks
    from .workspace import root

    extra: dict[str, Any] = {"allow_destructive": True} if args.allow_destructive else {}
    if args.seeds is not None or args.standalone is not None:
        target = _target(args)  # a password written in a URL moves to the environment here
        check_target(target, ["cluster", *(["standalone"] if target.standalone else [])])
        extra["seeds"] = [target.url(target.seeds)]  # no secret: notebooks keep their parameters
        extra["standalone"] = target.url([target.standalone]) if target.standalone else None
        print(f"experiments: target {target.describe()}; no local cluster is started")
    results = args.results or root() / "results"
    if args.reference:  # the same run as `rcopt reference`: a clean tree, an idle machine
        published = _checked_reference("experiments --reference", args, results, extra)
        if published is None:
            return 3
        print(f"experiments: reference published: {published}")
        return 0
    run_dir = run_notebooks(args.mode, only=args.only, extra=extra, results=results)
    print(f"\nexperiments: done. Summary: {results / 'summary.md'}")
    print(f"experiments: executed notebooks and figures: {run_dir}")
    print(f"experiments: records: {results / 'cluster'}")
    return 0


def _machine_is_ours(command: str, args: argparse.Namespace) -> bool:
    """Before a measurement of many minutes whose trials are re-run while the machine is
    not ours: watch it for ten seconds and refuse, saying what was seen, when most of them
    were busy (other processes, or another guest's steal: its trials would spend the run
    re-running and waiting for quiet), or when the host ran our CPU at more than one speed
    in them (a probe per second; the arms of a pair would see different machines).
    `--busy-anyway` measures all the same."""
    from .bench.machine import SPEED_SPREAD_LIMIT, idle_seconds

    if args.busy_anyway or args.mode == "quick":
        return True
    watch = idle_seconds(10)
    steady = watch.speed_spread is None or watch.speed_spread <= SPEED_SPREAD_LIMIT
    if watch.quiet >= 8 and steady:
        return True
    if watch.quiet < 8:
        why = (
            f"the machine is not idle: {10 - watch.quiet} of 10 seconds were busy (others took "
            f"{watch.foreign:.2f} CPU, steal {watch.steal:.2f}); its trials would be re-run and wait "
            "for quiet seconds"
        )
    else:
        why = (
            f"the host runs this machine's CPU at changing speeds: a fixed loop's slowest second took "
            f"{watch.speed_spread:.2f} times its fastest (at most {SPEED_SPREAD_LIMIT:g} on a steady host), "
            "with nothing else running; interleaved arms would be measured on different machines"
        )
    print(f"rcopt {command}: {why}. Run it when the machine is idle, or pass --busy-anyway", file=sys.stderr)
    return False


def _reference_command(args: argparse.Namespace) -> int:
    summary = _checked_reference("reference", args, args.results)
    if summary is None:
        return 3
    print(f"reference: published: {summary}")
    return 0


def _checked_reference(
    command: str, args: argparse.Namespace, results: Path | None, extra: dict[str, Any] | None = None
) -> Path | None:
    """Watch the machine, then make and publish the reference (`rcopt reference` and
    `rcopt experiments --reference`): its summary.md, or None when the machine is not ours."""
    from .lab.reference import make_reference

    if not _machine_is_ours(command, args):
        return None
    return make_reference(results, mode=args.mode, only=args.only, extra=extra)


def _docs_command(args: argparse.Namespace) -> int:
    from .lab.docs import DocsError, render_all
    from .workspace import root

    try:
        problems = render_all(root(), check=args.check)
    except DocsError as exc:
        print(f"docs: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"docs: {problem}", file=sys.stderr)
    if not problems:
        print(
            "docs: every measured figure is rendered from results/reference/"
            + (" and current" if args.check else "")
        )
    return 1 if problems else 0


def _history_command(args: argparse.Namespace) -> int:
    from .lab.history import format_history, import_run, plot_history
    from .workspace import root

    folder = args.folder or root() / "results" / "history"
    if args.folder is not None and not args.folder.is_dir():
        raise FileNotFoundError(f"no history folder at {args.folder}")
    for run in args.add or ():
        for path in import_run(run, folder):
            print(f"history: added {path}")
    print(format_history(folder, args.story))
    if args.plot:
        print(f"history: plot {plot_history(folder, args.plot, args.story)}")
    return 0


def _headline_command(args: argparse.Namespace) -> int:
    from .lab.headline import HEADLINES, headline_figures, measure
    from .lab.parameters import Parameters, modes
    from .results import load_record, writable_folder
    from .workspace import root

    writable_folder(args.results_dir)
    if not _machine_is_ours("headline", args):
        return 3
    values = {k: v for k, v in modes()[args.mode].items() if k in ("duration", "warmup", "repeats", "pin")}
    target = _target(args)
    params = Parameters(
        seeds=tuple(target.url([s]) for s in target.seeds),
        standalone=target.url([target.standalone]) if target.standalone else None,
        **values,
    )
    record_path, entry_path = measure(params, args.results_dir, args.folder or root() / "results" / "history")
    figures = headline_figures(load_record(record_path))
    for headline in HEADLINES:
        found = figures.get(headline.name)
        print(f"{headline.text}: {found.text() if found else 'not measured'}")
    print(f"headline: record {record_path}; history entry {entry_path}")
    return 0


def _report_command(args: argparse.Namespace) -> int:
    from .bench.environment import staleness_text
    from .bench.report import compact_table, format_table
    from .results import load_record

    record = load_record(args.record, validate=True)
    print(compact_table(record) if args.compact else format_table(record, markdown=args.markdown))
    commit = ((record.get("environment") or {}).get("git") or {}).get("commit")
    print(f"\n{staleness_text(commit)}")
    return 0


def _compare_command(args: argparse.Namespace) -> int:
    from .results.compare import compare_runs, format_comparison, load_run

    rows = compare_runs(load_run(args.run_a), load_run(args.run_b))
    if not args.absolute:
        rows = [r for r in rows if not r["kind"].startswith("absolute")]
    print(format_comparison(rows))
    return 0


def _add_target_and_output(parser: argparse.ArgumentParser, experiment: str) -> None:
    """Options every benchmark command shares: where to run, and where the record goes."""
    _add_target(parser)
    add = parser.add_argument
    add("--experiment", default=experiment, help="experiment id in the record's file name")
    add("--results-dir", type=Path, default=Path("results/cluster"))
    add("--markdown", action="store_true", help="print the tables as Markdown")


def _add_target(parser: argparse.ArgumentParser) -> None:
    from .bench.target import split_seeds

    add = parser.add_argument
    add(
        "--seeds",
        "--target",
        dest="seeds",
        type=split_seeds,
        default=None,
        help=f"the cluster: host:port list, or a redis:// or rediss:// URL with credentials and TLS "
        f"options (default the local cluster, {SEEDS[0]})",
    )
    add(
        "--standalone",
        default=None,
        help=f"the standalone server: host:port or URL; '' for none (default {STANDALONE} when "
        "the cluster is the local one, else none)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rcopt", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for add_commands in (
        _cluster_command_parser,
        _bench_command_parser,
        _rest_command_parser,
        _run_command_parsers,
        _record_command_parsers,
    ):
        add_commands(commands)
    return parser


def _cluster_command_parser(commands: Subcommands) -> None:
    """rcopt cluster: the local cluster."""
    cluster = commands.add_parser("cluster", help="start, stop or inspect the local Redis cluster")
    cluster.add_argument("action", choices=["up", "down", "status", "flush"])
    cluster.add_argument(
        "--ports",
        type=_ports_argument,
        default=CLUSTER_PORTS,
        help=f"cluster master ports, e.g. {CLUSTER_PORTS[0]}-{CLUSTER_PORTS[-1]} (default)",
    )
    cluster.add_argument(
        "--standalone-port",
        type=int,
        default=STANDALONE_PORT,
        help=f"standalone server port (default {STANDALONE_PORT}; 0 for none)",
    )
    cluster.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where pid files, logs and cluster state live (default .rcopt/cluster)",
    )
    cluster.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="replicas per master, on the ports after the masters (default 0)",
    )
    cluster.add_argument(
        "--node-timeout",
        type=int,
        default=5000,
        help="cluster-node-timeout in ms: how soon a silent master is failed over (default 5000)",
    )
    cluster.add_argument(
        "--password-env",
        default=None,
        help="start the nodes with requirepass: the name of the variable holding the password",
    )
    cluster.add_argument(
        "--acl-user",
        default=None,
        help="also create an ACL user with every right: NAME:ENV_VAR (the variable holds its password)",
    )
    cluster.add_argument(
        "--tls",
        action="store_true",
        help="TLS-only nodes (tls-port, tls-cluster), certificates made by openssl into DATA_DIR/tls; "
        "give it to status and flush too",
    )
    cluster.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each step")
    cluster.add_argument("--json", action="store_true", help="status as JSON")
    cluster.set_defaults(handler=_cluster_command)


def _bench_command_parser(commands: Subcommands) -> None:
    """rcopt bench: the closed-loop benchmark."""
    from .bench.adapters import LOOPS, PEERS
    from .bench.runner import MODES, PROFILES
    from .bench.workload import KINDS

    bench = commands.add_parser("bench", help="closed-loop client benchmark, recorded as JSON")
    add = bench.add_argument
    add(
        "--clients",
        type=_csv(),
        default=["baseline", "optimized", *PEERS],
        help=CLIENT_SPECS,
    )
    add("--modes", type=_csv(), default=list(MODES), help=",".join(MODES))
    add("--concurrency", type=_csv(int), default=[1, 16, 64, 256], help="tasks in flight, e.g. 1,16,64,256")
    add("--duration", type=float, default=5.0, help="measured seconds per trial")
    add("--warmup", type=float, default=1.0, help="discarded seconds before each trial")
    add("--repeats", type=int, default=3, help="interleaved repeats of every trial")
    add("--workload", choices=KINDS, default=KINDS[0])
    add("--value-size", type=int, default=200)
    add("--keys", type=int, default=10_000)
    add("--loop", choices=LOOPS, default=LOOPS[0])
    add("--connections-per-node", type=int, default=1)
    add(
        "--processes",
        type=int,
        default=1,
        help="client processes per trial, each with its own client, event loop and --concurrency "
        "tasks; their figures are merged (for a many-core load machine)",
    )
    add(
        "--profile",
        choices=PROFILES,
        default=None,
        help="cprofile, line (line_profiler) or pyspy (sampled stacks per trial, folded into the record)",
    )
    add(
        "--flame-dir",
        type=Path,
        default=Path("results/flames"),
        help="where --profile pyspy leaves py-spy's raw stacks (the folded format flame graph tools read)",
    )
    add("--no-pin", action="store_true", help="do not pin the client and the servers to disjoint CPUs")
    _add_reruns(add)
    _add_target_and_output(bench, experiment="bench")
    bench.set_defaults(handler=_bench_command)


def _add_reruns(add: Callable[..., Any]) -> None:
    """--reruns, as rcopt bench and rcopt rest take it."""
    from .bench.runner import MAX_RERUNS

    add(
        "--reruns",
        type=int,
        default=MAX_RERUNS,
        help=f"how many times a trial runs again while other processes took the machine (default "
        f"{MAX_RERUNS}, each after up to 30 s waiting for a quiet second; 0: never, e.g. a check "
        "on a busy machine whose figures are not evidence)",
    )


def _rest_command_parser(commands: Subcommands) -> None:
    """rcopt rest: the REST benchmark."""
    from .bench.runner import MODES
    from .rest.loadgen import SCENARIOS
    from .rest.servers import SERVERS

    rest = commands.add_parser("rest", help="REST cache-aside benchmark under autocannon")
    add = rest.add_argument
    add(
        "--backends",
        type=_csv(),
        default=["baseline", "optimized", "redis-py", "coredis", "valkey-glide"],
        help=CLIENT_SPECS,
    )
    add("--modes", type=_csv(), default=list(reversed(MODES)), help=",".join(MODES))
    add(
        "--scenarios",
        type=_csv(),
        default=["get_single", "get_list", "post", "mixed"],
        help=", ".join(SCENARIOS),
    )
    add("--duration", type=float, default=30.0, help="measured whole seconds per scenario")
    add("--warmup", type=float, default=5.0, help="discarded whole seconds before each scenario")
    add("--repeats", type=int, default=2, help="interleaved repeats (backends alternate within each)")
    add(
        "--server",
        choices=list(SERVERS),
        default="granian",
        help="ASGI server for the app (granian measured fastest; see README)",
    )
    _add_reruns(add)
    _add_target_and_output(rest, experiment="rest")
    rest.set_defaults(handler=_rest_command)


def _run_command_parsers(commands: Subcommands) -> None:
    """rcopt experiments, reference and headline: the story runs."""
    from .lab.parameters import modes

    experiments = commands.add_parser(
        "experiments", help="the main job: every story notebook, then summary.md"
    )
    experiments.add_argument(
        "--mode", choices=list(modes()), default="default", help="run lengths (modes.json)"
    )
    experiments.add_argument(
        "--only", nargs="*", help="run only these stories, by id or id prefix (the modules in experiments/)"
    )
    experiments.add_argument(
        "--reference",
        action="store_true",
        help="run it as `rcopt reference` does and publish it to results/reference/ (refuses a dirty "
        "tree or a busy machine)",
    )
    experiments.add_argument(BUSY_ANYWAY, action="store_true", help=f"with --reference: {BUSY_HELP}")
    _add_target(experiments)
    experiments.add_argument(
        "--results", type=Path, default=None, help="where runs, records and summary.md go (default results/)"
    )
    experiments.add_argument(
        "--allow-destructive",
        action="store_true",
        help="allow steps that change the target beyond the lab's own rcopt: keys (the live slot "
        "migration); without it they are skipped on any cluster but the local one",
    )
    experiments.set_defaults(handler=_experiments_command)

    reference = commands.add_parser(
        "reference",
        help="every story in one run at this commit, published to results/reference/ (refuses a dirty tree)",
    )
    reference.add_argument(
        "--mode", choices=list(modes()), default="default", help="run lengths (modes.json)"
    )
    reference.add_argument(
        "--only", nargs="*", help="only these stories (a partial reference, for trying it out)"
    )
    reference.add_argument("--results", type=Path, default=None, help="where it goes (default results/)")
    reference.add_argument(BUSY_ANYWAY, action="store_true", help=BUSY_HELP)
    reference.set_defaults(handler=_reference_command)

    headline = commands.add_parser(
        "headline",
        help="the headline ratios in a run of their own, recorded in results/history/ (run it at separate "
        "times: the documents show the spread)",
    )
    headline.add_argument(
        "--mode", choices=list(modes()), default="default", help="trial lengths and repeats (modes.json)"
    )
    _add_target(headline)
    headline.add_argument("--results-dir", type=Path, default=Path("results/cluster"))
    headline.add_argument(
        "--folder", type=Path, default=None, help="the history folder (default results/history)"
    )
    headline.add_argument(BUSY_ANYWAY, action="store_true", help=BUSY_HELP)
    headline.set_defaults(handler=_headline_command)


def _record_command_parsers(commands: Subcommands) -> None:
    """rcopt docs, history, report, compare and build: what reads the records, and the build."""
    docs = commands.add_parser(
        "docs", help="render the measured figures of README.md and docs/ from results/reference/"
    )
    docs.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a document is not current"
    )
    docs.set_defaults(handler=_docs_command)

    history = commands.add_parser(
        "history", help="each headline figure across commits (results/history/), with its steps beyond A/A"
    )
    history.add_argument("--story", help="only stories whose id starts with this")
    history.add_argument("--plot", type=Path, help="also draw the figures across commits to this file (.png)")
    history.add_argument(
        "--add",
        type=Path,
        nargs="*",
        help="add entries for a published run first (e.g. an old results/reference)",
    )
    history.add_argument(
        "--folder", type=Path, default=None, help="the history folder (default results/history)"
    )
    history.set_defaults(handler=_history_command)

    report = commands.add_parser("report", help="print a result record's tables")
    report.add_argument("record", type=Path, help="a record file, e.g. results/cluster/<stamp>_bench.json")
    report.add_argument(
        "--compact", action="store_true", help="one row per client and mode (the README's table)"
    )
    report.add_argument("--markdown", action="store_true", help="Markdown tables")
    report.set_defaults(handler=_report_command)

    compare = commands.add_parser("compare", help="compare two runs: within-run ratios, B / A with intervals")
    compare.add_argument("run_a", type=Path, help="a record file or a run folder (e.g. results/reference)")
    compare.add_argument("run_b", type=Path, help="a record file or a run folder (e.g. results/runs/<stamp>)")
    compare.add_argument(
        "--absolute", action="store_true", help="also compare absolute medians across the runs"
    )
    compare.set_defaults(handler=_compare_command)

    suite = commands.add_parser(
        "redis-py-suite",
        help="run redis-py's own asyncio tests against redis-py and against the drop-in (compat), "
        "each on a fresh cluster of its own (ports 7310-7314), record both, render docs/redis-py-suite.md",
    )
    suite.add_argument("--selection", default="full", help="full (default, ~10 min) or ci (~1 min)")
    suite.add_argument(
        "--render", action="store_true", help="run nothing: render docs/ from the recorded full run"
    )
    suite.set_defaults(handler=_redis_py_suite_command)

    build = commands.add_parser(
        "build",
        help="compile the hot path with mypyc (the compiled build) and its native stage variants with "
        "Cython, or say their state",
    )
    build.add_argument("--force", action="store_true", help="compile again even when current")
    build.add_argument("--status", action="store_true", help="only say whether a current build exists")
    build.add_argument("--native", action="store_true", help="build only the native (Cython) stage variants")
    build.set_defaults(handler=_build_command)


def _redis_py_suite_command(args: argparse.Namespace) -> int:
    from .testing import redis_py_suite

    if not args.render:
        record = redis_py_suite.run_suite(args.selection)
        print(redis_py_suite.render(record))
    if args.render or args.selection == "full":
        redis_py_suite.write_docs()
    return 0


def _build_command(args: argparse.Namespace) -> int:
    """The exit status of --status is the compiled build's (make test-faults reads it)."""
    from . import compiled, native

    if args.status:
        ready = compiled.ready()
        print(
            f"compiled build of these sources: {'ready' if ready else 'not built'} ({compiled.build_dir()})"
        )
        chosen = os.environ.get(compiled.ENV, "")
        print(f"this process runs: {compiled.loaded()} (${compiled.ENV}={chosen!r})")
        state = "built" if native.load() is not None else "not built"
        print(f"native stage variants of this source: {state} ({native.build_dir()})")
        return 0 if ready else 1
    if not args.native:
        compiled.build(force=args.force)
    native.build(force=args.force)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_extra(args.command)
        code: int = args.handler(args)
        return code
    except ModuleNotFoundError as exc:  # an import the extras table does not list
        extra = NEEDS.get(args.command)
        if extra is None:  # a command of the core install: a real bug, not a missing extra
            raise
        print(f"rcopt: error: {MissingExtra(args.command, extra, exc.name or str(exc))}", file=sys.stderr)
        return 2
    # FileNotFoundError names the path
    except (MissingExtra, LocalClusterError, BuildError, ValueError, OSError) as exc:
        print(f"rcopt: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, not the traceback of whatever was waiting
        print(
            f"rcopt {args.command}: interrupted (Ctrl-C); what it had written so far stays as it "
            "was, and nothing more is published",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
