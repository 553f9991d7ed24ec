"""What the benchmark runs against: checking a target before any trial, filling it with
the workload's keys, and finding its server processes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..admin import command
from ..core.address import parse_address, split_address
from ..core.resp import ReplyError
from ..core.topology import TopologyError, parse_cluster_slots
from .adapters import Target
from .workload import Workload

__all__ = ["BenchmarkError", "check_target", "node_addresses", "populate", "server_pids"]


class BenchmarkError(ValueError):
    """Bad parameters or an unusable target, found before any trial starts."""


def _info_fields(reply: bytes) -> dict[str, str]:
    return dict(line.split(":", 1) for line in reply.decode().splitlines() if ":" in line)


def check_target(target: Target, modes: Sequence[str]) -> dict[str, Any]:
    """Fail early, with the reason, when the target cannot serve a benchmark."""
    info: dict[str, Any] = {}
    for mode in modes:
        addresses = [parse_address(a) for a in target.address_for(mode)]
        reply: object = None
        address = addresses[0]
        for address in addresses:
            try:
                reply = command(*split_address(address), "INFO", "server", timeout=3)
                break
            except OSError as exc:
                reply = exc
        if not isinstance(reply, bytes):
            raise BenchmarkError(f"{mode} target {', '.join(addresses)} is unreachable: {reply}")
        info[f"{mode}_redis_version"] = _info_fields(reply).get("redis_version")
        if mode == "cluster":
            state = command(*split_address(address), "CLUSTER", "INFO", timeout=3)
            if isinstance(state, ReplyError):
                raise BenchmarkError(f"cluster target {address} is not a cluster node: {state}")
            if not isinstance(state, bytes) or b"cluster_state:ok" not in state:
                raise BenchmarkError(f"cluster at {address} is not ok: {state!r:.200}")
    return info


async def populate(target: Target, mode: str, workload: Workload) -> None:
    """Write every workload key with its value, identically in both modes."""
    from ..client import ClusterClient, StandaloneClient

    addresses = target.address_for(mode)
    if mode == "cluster":
        client: Any = await ClusterClient.connect(addresses)
    else:
        client = await StandaloneClient.connect(addresses[0])
    async with client:
        batch = 500
        for start in range(0, workload.key_count, batch):
            stop = min(start + batch, workload.key_count)
            await client.mset({workload.key(i): workload.value(i) for i in range(start, stop)})


def node_addresses(target: Target, mode: str) -> list[str]:
    """The target's servers in `mode`: the standalone server, or every cluster master."""
    if mode == "standalone":
        return target.address_for(mode)
    seed = target.seeds[0]
    reply = command(*split_address(seed), "CLUSTER", "SLOTS", timeout=3)
    return list(parse_cluster_slots(reply, fallback_host=split_address(seed)[0]).masters)


def server_pids(target: Target, mode: str) -> list[int]:
    """pids of local redis-server processes listening on the target's ports (psutil);
    empty for a remote target or without psutil."""
    try:
        import psutil

        ports = {split_address(a)[1] for a in node_addresses(target, mode)}
    except (ImportError, OSError, TopologyError):
        return []
    pids = []
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in ports and conn.pid:
                pids.append(conn.pid)
    except (psutil.AccessDenied, OSError):
        return []
    return sorted(set(pids))
