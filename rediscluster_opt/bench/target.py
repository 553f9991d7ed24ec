"""What the benchmark runs against: naming a target by addresses or URLs, checking it
before any trial, filling it with the workload's keys, clearing the lab's keys, and
finding its server processes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

from ..core.address import parse_address, split_address
from ..core.resp import ReplyError
from ..core.slots import SLOT_COUNT
from ..core.topology import TopologyError, parse_cluster_slots
from ..core.url import ConnectionSpec, parse_url
from ..defaults import KEY_PREFIX
from .adapters import Target
from .workload import Workload

__all__ = [
    "PASSWORD_VARIABLE",
    "BenchmarkError",
    "check_target",
    "clear_lab_keys",
    "node_addresses",
    "populate",
    "server_pids",
    "split_seeds",
    "target_from",
]

# A password written in a target URL is moved here, so trial processes inherit it and no
# record, argument list or executed notebook ever holds it.
PASSWORD_VARIABLE = "RCOPT_TARGET_PASSWORD"


class BenchmarkError(ValueError):
    """Bad parameters or an unusable target, found before any trial starts."""


def target_from(cluster: str | Sequence[str] | None, standalone: str | None = None) -> Target:
    """A target from the cluster's seeds and the standalone server, each an address
    (host:port) or a URL (redis:// or rediss://, credentials and TLS options). Both
    share one set of credentials and TLS settings. ValueError names what is wrong."""
    seeds = [cluster] if isinstance(cluster, str) else list(cluster or ())
    specs = [_spec(item) for item in [*seeds, *([standalone] if standalone else [])]]
    with_settings = [s for s in specs if (s.username, s.password, s.tls) != (None, None, None)]
    settings = with_settings[0] if with_settings else ConnectionSpec(())
    for spec in with_settings[1:]:
        if (spec.username, spec.password, spec.tls) != (settings.username, settings.password, settings.tls):
            raise ValueError(
                f"{settings.redacted()} and {spec.redacted()} differ in credentials or TLS; "
                "the cluster and the standalone server of one target take the same"
            )
    password_env = settings.password_env
    if settings.password is not None and password_env is None:
        os.environ[PASSWORD_VARIABLE] = settings.password  # inherited by trial processes
        password_env = PASSWORD_VARIABLE
    addresses = [a for s in specs for a in s.addresses]
    return Target(
        seeds=tuple(addresses[: len(addresses) - (1 if standalone else 0)]),
        standalone=addresses[-1] if standalone else None,
        username=settings.username,
        password_env=password_env,
        tls=settings.tls,
    )


def split_seeds(text: str) -> list[str]:
    """Seeds as a user types them: one URL whole (its hosts may be comma-separated), or a
    comma list of addresses."""
    if "://" in text:
        return [text.strip()]
    return [part.strip() for part in text.split(",") if part.strip()]


def _spec(item: str) -> ConnectionSpec:
    if "://" in item:
        spec = parse_url(item)
        if spec.db:
            raise ValueError(f"{spec.redacted()}: the lab uses database 0 only")
        return spec
    return ConnectionSpec((parse_address(item),))


def _info_fields(reply: bytes) -> dict[str, str]:
    return dict(line.split(":", 1) for line in reply.decode().splitlines() if ":" in line)


def _ask(target: Target, address: str, *args: object) -> object:
    """One admin command; a refusal (NOAUTH, a TLS port spoken to in plain...) becomes
    a BenchmarkError naming the node."""
    try:
        reply = target.command(address, *args)
    except OSError as exc:
        raise BenchmarkError(f"{address} is unreachable: {exc}") from None
    if isinstance(reply, ReplyError):
        raise BenchmarkError(f"{address} refused {' '.join(map(str, args))}: {reply}")
    return reply


def check_target(target: Target, modes: Sequence[str]) -> dict[str, Any]:
    """Fail early, with the node and the reason, when the target cannot serve a
    benchmark: unreachable, refusing our credentials, not a cluster, cluster state not
    ok, or slots not covered."""
    info: dict[str, Any] = {}
    for mode in modes:
        addresses = [parse_address(a) for a in target.address_for(mode)]
        problems = []
        for address in addresses:
            try:
                reply = _ask(target, address, "INFO", "server")
                break
            except BenchmarkError as exc:
                problems.append(str(exc))
        else:
            raise BenchmarkError(f"{mode} target: no node answered: {'; '.join(problems)}")
        info[f"{mode}_redis_version"] = _info_fields(reply).get("redis_version")  # type: ignore[arg-type]
        if mode == "cluster":
            _check_cluster(target, address)
    return info


def _check_cluster(target: Target, address: str) -> None:
    try:
        state = _ask(target, address, "CLUSTER", "INFO")
    except BenchmarkError as exc:
        raise BenchmarkError(f"cluster target {address} is not a cluster node: {exc}") from None
    fields = _info_fields(state) if isinstance(state, bytes) else {}
    if fields.get("cluster_state") != "ok":
        raise BenchmarkError(f"cluster at {address} is not ok: cluster_state {fields.get('cluster_state')}")
    try:
        topology = parse_cluster_slots(_ask(target, address, "CLUSTER", "SLOTS"), split_address(address)[0])
    except TopologyError as exc:
        raise BenchmarkError(f"cluster at {address}: unreadable CLUSTER SLOTS: {exc}") from None
    if topology.covered_slots != SLOT_COUNT:
        raise BenchmarkError(
            f"cluster at {address} covers {topology.covered_slots} of {SLOT_COUNT} slots; "
            "a benchmark needs every slot served"
        )
    for master in topology.masters:
        _ask(target, master, "PING")  # every master reachable with our credentials


async def populate(target: Target, mode: str, workload: Workload) -> None:
    """Write every workload key with its value, identically in both modes."""
    async with await _client(target, mode) as client:
        batch = 500
        for start in range(0, workload.key_count, batch):
            stop = min(start + batch, workload.key_count)
            await client.mset({workload.key(i): workload.value(i) for i in range(start, stop)})


async def _client(target: Target, mode: str) -> Any:
    from ..client import ClusterClient, StandaloneClient

    addresses = target.address_for(mode)
    if mode == "cluster":
        return await ClusterClient.connect(addresses, **target.client_options())
    return await StandaloneClient.connect(addresses[0], **target.client_options())


async def clear_lab_keys(target: Target, mode: str, pattern: str = f"{KEY_PREFIX}*") -> int:
    """Delete the lab's keys (SCAN MATCH on every master, then UNLINK), never another
    key: safe on someone else's cluster. Returns how many were deleted."""
    if not pattern.startswith(KEY_PREFIX):
        raise ValueError(f"the lab deletes only its own keys ({KEY_PREFIX}*), not {pattern!r}")
    deleted = 0
    async with await _client(target, mode) as client:
        for address in node_addresses(target, mode):
            cursor = b"0"
            while True:
                node = address if mode == "cluster" else None
                cursor, keys = await client.execute_command(
                    "SCAN", cursor, "MATCH", pattern, "COUNT", 1000, target=node
                )
                # keys of one SCAN batch lie in many slots: one UNLINK each, all in flight
                deleted += sum(await asyncio.gather(*(client.unlink(key) for key in keys)))
                if cursor in (b"0", 0):
                    break
    return deleted


def node_addresses(target: Target, mode: str) -> list[str]:
    """The target's servers in `mode`: the standalone server, or every cluster master."""
    if mode == "standalone":
        return target.address_for(mode)
    seed = target.seeds[0]
    reply = target.command(seed, "CLUSTER", "SLOTS")
    return list(parse_cluster_slots(reply, fallback_host=split_address(seed)[0]).masters)


LOOPBACK = frozenset(("127.0.0.1", "localhost", "::1"))


def is_local(target: Target, mode: str) -> bool:
    """Whether the target's servers in `mode` run on this machine (loopback addresses):
    then their CPU is theirs, not a third process's, and should be found by `server_pids`."""
    return all(split_address(a)[0] in LOOPBACK for a in target.address_for(mode))


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
