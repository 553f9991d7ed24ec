"""The `rcopt` command: local cluster control and the client benchmark."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .localcluster import DEFAULT_STANDALONE_PORT, LocalCluster, LocalClusterError, parse_ports

__all__ = ["main"]


def _ports_argument(text: str) -> tuple[int, ...]:
    try:
        return parse_ports(text)
    except ValueError as exc:  # argparse prints only ArgumentTypeError messages verbatim
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cluster_from(args: argparse.Namespace) -> LocalCluster:
    options = {"ports": args.ports, "timeout": args.timeout}
    options["standalone_port"] = None if args.standalone_port == 0 else args.standalone_port
    if args.data_dir is not None:
        options["data_dir"] = args.data_dir
    return LocalCluster(**options)


def _cluster_command(args: argparse.Namespace) -> int:
    cluster = _cluster_from(args)
    if args.action == "up":
        started = cluster.up()
        state = "started" if started else "already up"
        print(f"cluster {state}: masters {', '.join(cluster.seeds)}", end="")
        print(f"; standalone {cluster.standalone_address}" if cluster.standalone_address else "")
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


def _status_table(rows: list[dict]) -> str:
    lines = [f"{'address':<18} {'role':<15} {'pid':>7}  state"]
    for row in rows:
        state = row.get("cluster_state", "running" if row["running"] else "stopped")
        if not row["running"]:
            state = "stopped"
        lines.append(f"{row['address']:<18} {row['role']:<15} {row['pid'] or '-':>7}  {state}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rcopt", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    cluster = commands.add_parser("cluster", help="start, stop or inspect the local Redis cluster")
    cluster.add_argument("action", choices=["up", "down", "status", "flush"])
    cluster.add_argument(
        "--ports",
        type=_ports_argument,
        default=(7000, 7001, 7002, 7003, 7004),
        help="cluster master ports, e.g. 7000-7004 (default)",
    )
    cluster.add_argument(
        "--standalone-port",
        type=int,
        default=DEFAULT_STANDALONE_PORT,
        help="standalone server port (default 7100; 0 for none)",
    )
    cluster.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where pid files, logs and cluster state live (default .rcopt/cluster)",
    )
    cluster.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each step")
    cluster.add_argument("--json", action="store_true", help="status as JSON")
    cluster.set_defaults(handler=_cluster_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (LocalClusterError, ValueError) as exc:
        print(f"rcopt: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
