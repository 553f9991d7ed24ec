"""redis-py's own asyncio tests as the drop-in's check (rediscluster_opt.compat).

redis-py's sdist ships its test suite; its asyncio tests get their cluster client from
one place (`redis.asyncio.RedisCluster.from_url` in tests/test_asyncio/conftest.py). The
same selection is run twice on the local cluster, one arm after the other:

- "redis-py": redis-py's own RedisCluster, as its CI runs them;
- "compat": `redis.asyncio.RedisCluster` replaced by `rediscluster_opt.compat.RedisCluster`.

Both arms speak RESP2 (`--protocol=2`: the drop-in has no RESP3), each to a fresh
5-master cluster of its own on ports 7310-7314, started and stopped here: redis-py's tests
flush, reconfigure and kill clients, and a test that mocks a node's connection (which the
drop-in does not use) would send the real command, so neither the lab's cluster nor the
other arm's may be the one they run on. It is not the cluster redis-py's CI builds (that
has replicas and other ports), so some tests fail in both arms; the comparison is between
the arms. Each test's outcome
is recorded with whether it made the client under test at all: a test that builds
redis-py's internals itself (NodesManager, mocked connections) passes or fails the same
in both arms and says nothing about the drop-in, so the record counts those apart.

This module is also the pytest plugin the two runs load (`-p`): it swaps the class for
the compat arm, notes which tests made the client, and writes the outcomes as JSON.
`rcopt redis-py-suite` runs both arms, writes results/redis-py-suite/<selection>.json and
renders docs/redis-py-suite.md from it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from typing import Any

from .. import workspace
from ..bench.environment import git_state, redis_server_version
from ..localcluster import LocalCluster

__all__ = ["ARMS", "DOC", "SELECTIONS", "fetch_tests", "render", "run_suite", "write_docs"]

ARMS = ("redis-py", "compat")
_ARM = "RCOPT_REDIS_PY_ARM"
_REPORT = "RCOPT_REDIS_PY_REPORT"
_ASYNC = "tests/test_asyncio"
PORTS = (7310, 7311, 7312, 7313, 7314)  # clear of the lab's cluster and the tests' own
DOC = "docs/redis-py-suite.md"
RECORD = "results/redis-py-suite/{selection}.json"
SELECTIONS = {
    # what issue #38 names: the command tests, the cluster's command, pipeline and pub/sub
    # classes, pub/sub and scripting
    "full": (
        f"{_ASYNC}/test_commands.py",
        f"{_ASYNC}/test_cluster.py::TestClusterRedisCommands",
        f"{_ASYNC}/test_cluster.py::TestClusterPipeline",
        f"{_ASYNC}/test_cluster.py::TestClusterPubSub",
        f"{_ASYNC}/test_pubsub.py",
        f"{_ASYNC}/test_scripting.py",
    ),
    # the part CI runs: a minute, not eight
    "ci": (f"{_ASYNC}/test_scripting.py", f"{_ASYNC}/test_cluster.py::TestClusterPipeline"),
}


# -- the plugin, in the pytest run of one arm ----------------------------------------------
_made_client = False
_outcomes: dict[str, dict[str, Any]] = {}


def pytest_configure(config: Any) -> None:
    arm = os.environ.get(_ARM)
    if arm is None:
        return
    import redis.asyncio

    base: type[Any]
    if arm == "compat":
        from ..compat import RedisCluster as base
    else:
        base = redis.asyncio.RedisCluster

    class Noted(base):  # type: ignore[misc]  # records that a test made one
        def __init__(self, *args: Any, **options: Any) -> None:
            global _made_client
            _made_client = True
            super().__init__(*args, **options)

    Noted.__name__ = Noted.__qualname__ = base.__name__
    redis.asyncio.RedisCluster = Noted  # type: ignore[misc]  # where the suite's conftest finds it


def pytest_runtest_setup(item: Any) -> None:
    global _made_client
    _made_client = False


def pytest_runtest_logreport(report: Any) -> None:
    if os.environ.get(_ARM) is None:
        return
    entry = _outcomes.setdefault(report.nodeid, {"outcome": "passed", "message": "", "made_client": False})
    if report.failed:
        entry["outcome"] = "error" if report.when != "call" and entry["outcome"] == "passed" else "failed"
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)
        entry["message"] = entry["message"] or message.strip().splitlines()[0][:300]
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
    if report.when == "teardown":
        entry["made_client"] = _made_client


def pytest_sessionfinish(session: Any) -> None:
    path = os.environ.get(_REPORT)
    if path:
        Path(path).write_text(json.dumps(_outcomes, indent=1, sort_keys=True))


# -- the runner --------------------------------------------------------------------------
def fetch_tests(into: Path | None = None) -> Path:
    """redis-py's sdist of the installed version, unpacked under .rcopt/: its tests/ folder."""
    release = version("redis")
    folder = into or workspace.resolve(".rcopt/redis-py-tests")
    unpacked = folder / f"redis-{release}"
    if (unpacked / "tests").is_dir():
        return unpacked
    folder.mkdir(parents=True, exist_ok=True)
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-d", str(folder),
         f"redis=={release}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    archive = folder / f"redis-{release}.tar.gz"
    if fetched.returncode != 0 or not archive.exists():
        raise RuntimeError(f"cannot download redis-py {release}'s sdist: {fetched.stderr.strip()[-500:]}")
    with tarfile.open(archive) as sdist:
        sdist.extractall(folder, filter="data")
    return unpacked


def run_arm(arm: str, tests: Path, selection: tuple[str, ...], seed: str, nodes: int, report: Path) -> None:
    env = {**os.environ, _ARM: arm, _REPORT: str(report)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", __name__, "-p", "no:cacheprovider", "-p", "no:warnings", "-q",
         # hypothesis's report hook, and pytest's source excerpts of a traceback (CPython 3.11's
         # "AST constructor recursion depth mismatch"), crash pytest on some of these failures
         "-p", "no:hypothesispytest", "--tb=line",
         "-o", "addopts=", "--timeout=60" if _has_timeout() else "-q", *selection,
         f"--redis-url=redis://{seed}/0", f"--redis-cluster-nodes={nodes}", "--protocol=2"],
        cwd=tests, env=env, check=False, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    if done.returncode not in (0, 1):  # 0: all passed, 1: some failed; else the run itself broke
        raise RuntimeError(f"the {arm} arm of redis-py's tests broke off (pytest exit {done.returncode})")
    if not report.exists():
        raise RuntimeError(f"the {arm} arm of redis-py's tests wrote no report (did pytest start?)")


def _run_arm_on_own_cluster(arm: str, tests: Path, selection: str, ports: tuple[int, ...]) -> dict[str, Any]:
    report = tests / f"outcomes-{arm}.json"
    report.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        cluster = LocalCluster(ports=ports, standalone_port=None, data_dir=Path(folder) / "cluster")
        with cluster:
            run_arm(arm, tests, SELECTIONS[selection], cluster.seeds[0], len(ports), report)
    found: dict[str, Any] = json.loads(report.read_text())
    return found


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _has_timeout() -> bool:
    return importlib.util.find_spec("pytest_timeout") is not None


def run_suite(selection: str, out: Path | None = None, ports: tuple[int, ...] = PORTS) -> dict[str, Any]:
    """Both arms, each on a fresh cluster on `ports`; the record, also written to
    results/redis-py-suite/<selection>.json."""
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; known: {', '.join(SELECTIONS)}")
    tests = fetch_tests()
    outcomes: dict[str, dict[str, Any]] = {}
    # a TERM (a CI timeout, a kill) unwinds like an error, so each arm's cluster is stopped
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        for arm in ARMS:
            outcomes[arm] = _run_arm_on_own_cluster(arm, tests, selection, ports)
    finally:
        signal.signal(signal.SIGTERM, previous)
    record = {
        "selection": selection,
        "tests": list(SELECTIONS[selection]),
        "versions": {"redis-py": version("redis"), "rediscluster_opt": version("rediscluster_opt")},
        "server": redis_server_version(),
        "git": git_state(),
        "protocol": 2,
        "outcomes": outcomes,
    }
    path = out or workspace.resolve(RECORD.format(selection=selection))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record


# -- what the record says ---------------------------------------------------------------
def counts(record: dict[str, Any], arm: str, made_client: bool | None = None) -> Counter[str]:
    return Counter(
        o["outcome"]
        for o in record["outcomes"][arm].values()
        if made_client is None or o["made_client"] == made_client
    )


INTERNAL = "reaches into a redis-py internal"
# Tests whose failure message does not say why, read and explained here (test id part ->
# what the test does that the drop-in cannot be asked for).
EXPLAINED = {
    "TestPubSubReconnect::test_reconnect_listen": (
        "calls PubSub.connect(), redis-py's own, in a task; the task ends on that and the test "
        "times out waiting for its messages"
    ),
    "TestClusterPubSub::test_generator_handles_concurrent_mapping_changes": (
        "asserts the PubSub is redis-py's ClusterPubSub class and drives its per-node generator"
    ),
    "TestPubSubAcloseCancellation::test_teardown_failure_after_cancel_is_logged": (
        "patches the connection's disconnect() and waits for redis-py's aclose() to call it; "
        "the drop-in's aclose() closes its connections without it, so the test waits out its timeout"
    ),
}


def passing_in_both(record: dict[str, Any]) -> int:
    """Tests that made the client and pass in both arms."""
    theirs, ours = record["outcomes"]["redis-py"], record["outcomes"]["compat"]
    passed = {test for test, outcome in theirs.items() if outcome["outcome"] == "passed"}
    return sum(
        1 for test, outcome in ours.items()
        if outcome["made_client"] and outcome["outcome"] == "passed" and test in passed
    )  # fmt: skip


def regressions(record: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(test, why, message) for each test that passes on redis-py and not on the drop-in."""
    theirs, ours = record["outcomes"]["redis-py"], record["outcomes"]["compat"]
    found = []
    for test, outcome in sorted(ours.items()):
        if outcome["outcome"] in ("failed", "error") and theirs.get(test, {}).get("outcome") == "passed":
            found.append((test, _why(test, outcome["message"]), outcome["message"]))
    return found


def _why(test: str, message: str) -> str:
    explained = next((why for part, why in EXPLAINED.items() if part in test), None)
    if explained is not None:
        return f"{INTERNAL} ({explained})"
    if "is redis-py's own and is not supported here" in message:
        return INTERNAL
    if re.search(r"does not have the attribute '_\w+'", message):  # mock.patch of a private name
        return INTERNAL
    if "UnsupportedOption" in message or "does not support the option" in message:
        return "uses an option the drop-in refuses by name"
    return "a different reply or error: a defect to fix or explain"


def render(record: dict[str, Any]) -> str:
    """docs/redis-py-suite.md from a record."""
    tests = ", ".join(f"`{t}`" for t in record["tests"])
    lines = [
        "# redis-py's own tests against the drop-in",
        "",
        "<!-- rendered by `rcopt redis-py-suite --render` from "
        f"results/redis-py-suite/{record['selection']}.json; do not edit -->",
        "",
        f"redis-py {record['versions']['redis-py']}'s asyncio tests ({tests}), run twice, each arm on "
        f"a fresh local 5-master cluster (redis-server {record['server']}, RESP2) at commit "
        f"`{(record['git']['commit'] or 'unknown')[:10]}`: once with redis-py's own `RedisCluster`, "
        "once with "
        "`redis.asyncio.RedisCluster` replaced by `rediscluster_opt.compat.RedisCluster` "
        "(rediscluster_opt/testing/redis_py_suite.py). The cluster is not the one redis-py's CI "
        "builds (no replicas, other ports), so some tests fail in both arms.",
        "",
        "| arm | tests | made the client | passed | failed | errors | skipped |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in ARMS:
        every, made = counts(record, arm), counts(record, arm, made_client=True)
        lines.append(
            f"| {arm} | {sum(every.values())} | {sum(made.values())} | {made['passed']} | {made['failed']} "
            f"| {made['error']} | {made['skipped']} |"
        )
    found = regressions(record)
    both, theirs = passing_in_both(record), counts(record, "redis-py", True)["passed"]
    internal = sum(1 for _, why, _ in found if why.startswith(INTERNAL))
    lines += [
        "",
        "Counts after the first two columns are of the tests that made the client under test "
        "(the others build redis-py's internals themselves and say nothing about the drop-in). "
        f"Of the {theirs} tests that pass with redis-py, **{both}** ({both / max(theirs, 1):.0%}) pass "
        f"with the drop-in too; of the {theirs - internal} among them that use only redis-py's "
        f"public API (no internal), {both / max(theirs - internal, 1):.0%}.",
        "",
        f"## Passing with redis-py, not with the drop-in ({len(found)})",
        "",
    ]
    if not found:
        lines.append("None.")
    reasons = Counter(why for _, why, _ in found)
    lines += [f"- {why}: {n}" for why, n in reasons.most_common()]
    if found:
        lines += ["", "| test | why | the failure |", "|---|---|---|"]
        for test, why, message in found:
            short = test.replace(f"{_ASYNC}/", "")
            lines.append(f"| `{short}` | {why} | {message.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def write_docs() -> Path:
    """docs/redis-py-suite.md rendered from the recorded full run."""
    record = json.loads(workspace.resolve(RECORD.format(selection="full")).read_text())
    path = workspace.resolve(DOC)
    path.write_text(render(record))
    return path
