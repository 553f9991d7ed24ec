"""One way to run a measurement in a fresh process and get its result back.

    python -m rediscluster_opt.child MODULE:FUNCTION SPEC.json RESULT.json

The parent writes the spec as JSON; the child imports MODULE, calls FUNCTION(spec) and
writes what it returns, as JSON, to RESULT.json. That file is the child's only answer,
so its stdout and stderr stay free for progress: the parent keeps them in a file (or
streams them, `run_child_streaming`) and shows their tail when the child fails.

- A child *fails* when it exits non-zero, writes no result or outlives its deadline:
  `ChildFailed` says which, with the tail of the child's output.
- A child *refuses* when its function raises `Refused` (a peer library that is not
  installed, a target it cannot use): the parent gets `ChildRefused` with the message,
  no traceback.

Specs and results are JSON objects; each entry point types its own (a TypedDict or a
plain `dict[str, Any]`), and `run_child(function, spec)` is typed by the function it runs.
Every measurement the lab and the benchmarks run in a child uses this: benchmark trials
(`bench.trial`), fault trials (`lab.resilience`), the in-process measurements
(`lab.inlining`), the explorer's runs (`lab.explorer`) and micro-benchmark cases
(`lab.micro`, under pyperf or valgrind).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "Child",
    "ChildFailed",
    "ChildRefused",
    "Refused",
    "run_child",
    "run_child_streaming",
    "start_child",
]

Spec = TypeVar("Spec")
Result = TypeVar("Result")
TAIL = 3000  # characters of the child's output kept in a failure


class Refused(Exception):
    """Raised by an entry point that will not run this spec; the parent gets ChildRefused."""


class ChildFailed(RuntimeError):
    """The child crashed, wrote no result, or was killed at its deadline."""

    def __init__(self, entry: str, reason: str, output_tail: str) -> None:
        super().__init__(f"{entry}: {reason}" + (f"\n{output_tail}" if output_tail else ""))
        self.entry, self.reason, self.output_tail = entry, reason, output_tail


class ChildRefused(RuntimeError):
    """The child's entry point raised Refused: the message says why, with no traceback."""


def entry_of(function: Callable[..., Any]) -> str:
    """'module:function' for a module-level function (what the child imports)."""
    if "." in function.__qualname__ or function.__module__ == "__main__":
        raise ValueError(f"{function!r}: a child runs a module-level function of an importable module")
    return f"{function.__module__}:{function.__qualname__}"


class Child:
    """A started child; `result()` waits for it. Its output goes to a file of its own."""

    def __init__(
        self,
        function: Callable[[Any], Any],
        spec: Any,
        *,
        cpus: Sequence[int] | None = None,
        prefix: Sequence[str] = (),
        env: dict[str, str] | None = None,
        stable: bool = False,
    ) -> None:
        self.entry = entry_of(function)
        self.output = ""
        self._folder, self._claim = _folder(self.entry, spec, stable)
        folder = self._folder
        self._spec, self._result = folder / "spec.json", folder / "result.json"
        self._output = folder / "output"
        self._spec.write_text(json.dumps(spec))
        with open(self._output, "w") as output:  # a file: a chatty child never blocks on a pipe
            self._process = subprocess.Popen(
                [*prefix, *command(self.entry, self._spec, self._result)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=(lambda: os.sched_setaffinity(0, list(cpus))) if cpus else None,
            )

    def result(self, timeout: float) -> Any:
        """The child's result; ChildFailed (after killing it, at the deadline) or ChildRefused.
        What it printed stays in `output` (a tool it ran under, such as valgrind, reports there)."""
        try:
            try:
                self._process.wait(timeout=max(0.1, timeout))
            except subprocess.TimeoutExpired:
                tail = self.output_tail()
                self.kill()
                raise ChildFailed(self.entry, f"killed at its deadline ({timeout:.0f} s)", tail) from None
            self.output = self._output.read_text(errors="replace")
            return read_result(self.entry, self._process.returncode, self._result, self.output_tail)
        finally:
            self._remove_folder()

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._remove_folder()

    def _remove_folder(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)
        if self._claim is not None:  # released after the folder is gone: no one reuses a half-removed one
            os.close(self._claim)
            self._claim = None

    def output_tail(self) -> str:
        if self.output:
            return self.output[-TAIL:]
        return self._output.read_text(errors="replace")[-TAIL:] if self._output.exists() else ""


def _folder(entry: str, spec: Any, stable: bool) -> tuple[Path, int | None]:
    """A new folder for the child's files, and the claim on it to release with it.
    `stable`: named after the entry and spec, so a child run twice sees the same paths,
    as a child under cachegrind must (a random name's characters change a few dozen
    instructions of the run). The name is claimed with a lock held while the child runs:
    a folder left behind by a run that was killed is taken over (else every later run
    would get a random name and counts that drift); a random name only while the same
    child runs elsewhere right now."""
    if stable:
        digest = hashlib.sha1(json.dumps([entry, spec], sort_keys=True).encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"rcopt-child-{digest}"
        claim = _claim(path)
        if claim is not None:
            return path, claim
    return Path(tempfile.mkdtemp(prefix="rcopt-child-")), None


def _claim(path: Path) -> int | None:
    """An exclusive lock on `path`'s lock file, `path` made empty of anything an earlier
    run left; None when another process holds it (or removed the folder meanwhile)."""
    try:
        path.mkdir(exist_ok=True)
        claim = os.open(path / ".claim", os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # The lock counts only on the file the folder holds now: its owner may have removed
        # the folder (and someone made it again) between our open and our lock.
        if os.stat(path / ".claim").st_ino != os.fstat(claim).st_ino:
            raise BlockingIOError
    except OSError:
        os.close(claim)
        return None
    for leftover in path.iterdir():
        if leftover.is_dir():
            shutil.rmtree(leftover)
        elif leftover.name != ".claim":
            leftover.unlink()
    return claim


def command(entry: str, spec: Path, result: Path) -> list[str]:
    return [sys.executable, "-m", "rediscluster_opt.child", entry, str(spec), str(result)]


def read_result(entry: str, returncode: int | None, path: Path, tail: Callable[[], str]) -> Any:
    """What a finished child answered; ChildFailed or ChildRefused otherwise."""
    if path.exists():
        answer = json.loads(path.read_text())
        if "refused" in answer:
            raise ChildRefused(answer["refused"])
        if returncode == 0:
            return answer["result"]
    reason = f"exited with {returncode}" if returncode else "wrote no result"
    raise ChildFailed(entry, reason, tail())


def start_child(
    function: Callable[[Spec], Result],
    spec: Spec,
    *,
    cpus: Sequence[int] | None = None,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    stable: bool = False,
) -> Child:
    """Start `function(spec)` in a child (pinned to `cpus`, under `prefix` such as a
    valgrind command line, with `stable` file names) and return at once; several may run
    together."""
    return Child(function, spec, cpus=cpus, prefix=prefix, env=env, stable=stable)


def run_child(
    function: Callable[[Spec], Result],
    spec: Spec,
    *,
    timeout: float,
    cpus: Sequence[int] | None = None,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    stable: bool = False,
) -> Result:
    """`function(spec)` in a fresh process, its result back (see the module's docstring)."""
    child = start_child(function, spec, cpus=cpus, prefix=prefix, env=env, stable=stable)
    return child.result(timeout)  # type: ignore[no-any-return]


async def run_child_streaming(
    function: Callable[[Spec], Result], spec: Spec, on_line: Callable[[str], None]
) -> Result:
    """`function(spec)` in a fresh process, each line of its output handed to `on_line`
    as it comes (an event loop that must stay responsive, such as a notebook kernel's)."""
    entry = entry_of(function)
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="rcopt-child-") as folder:
        spec_path, result_path = Path(folder) / "spec.json", Path(folder) / "result.json"
        spec_path.write_text(json.dumps(spec))
        child = await asyncio.create_subprocess_exec(
            *command(entry, spec_path, result_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert child.stdout is not None
        async for raw in child.stdout:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            on_line(line)
        await child.wait()
        return read_result(entry, child.returncode, result_path, lambda: "\n".join(lines)[-TAIL:])  # type: ignore[no-any-return]


STORIES = "experiments"  # a story's own instruments live in its package (lab.registry)


def _imported(module: str) -> Any:
    """The entry's module; a story's own (`experiments.<story>.<module>`) from the
    workspace's stories folder, the package the registry imports too."""
    if module.split(".")[0] == STORIES:
        from .workspace import root

        sys.path.insert(0, str(root()))
    return importlib.import_module(module)


def main(argv: list[str]) -> int:
    entry, spec_path, result_path = argv
    module, name = entry.split(":")
    function = getattr(_imported(module), name)
    # Nothing here depends on the run (no clock; plain open(), where pathlib would intern
    # the random folder's name): a child under cachegrind must execute the same
    # instructions every time.
    with open(spec_path) as handle:
        spec = json.load(handle)
    try:
        answer: dict[str, Any] = {"result": function(spec)}
    except Refused as exc:
        answer = {"refused": str(exc)}
    with open(result_path, "w") as handle:
        json.dump(answer, handle)
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy's: an entry point raises
    # rediscluster_opt.child.Refused, which must be the class main catches.
    from rediscluster_opt.child import main as imported_main

    sys.exit(imported_main(sys.argv[1:]))
