"""`make reference` (`rcopt reference`): every story in one run at one commit, published to
results/reference/ with that commit, the wall time and the machine in its summary.

It refuses a tree with changes (the commit would not describe what ran). A story that
fails stops nothing else; the summary marks it, and the command exits 1 after
publishing what ran.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..workspace import root
from .main import StoriesFailed, run_notebooks
from .publish import publish_reference

__all__ = ["OUTPUTS", "dirty_files", "make_reference"]

# What runs write into the tree and nothing measured reads: the history's entries (a
# `make experiments` run before the reference adds one).
OUTPUTS = ("results/history/",)


def dirty_files(where: Path) -> list[str] | None:
    """Tracked files changed and untracked files not ignored, as `git status` names them,
    but for the runs' own outputs (OUTPUTS); None when `where` is not a git checkout."""
    try:
        done = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=all"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    changed = [line[3:] for line in done.stdout.splitlines() if line.strip()]
    return [path for path in changed if not path.startswith(OUTPUTS)]


def make_reference(
    results: Path | None = None,
    *,
    mode: str = "default",
    only: list[str] | None = None,
    extra: dict[str, object] | None = None,
) -> Path:
    """Run the stories and publish them as the reference; returns its summary.md. Raises
    SystemExit naming the changed files on a dirty tree, or StoriesFailed (exit 1) after
    publishing when a story failed."""
    where = root()
    dirty = dirty_files(where)
    if dirty is None:
        raise SystemExit(f"reference: {where} is not a git checkout: a reference names the commit it ran at")
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise SystemExit(
            f"reference: the tree has changes ({shown}); commit or stash them first, so the "
            "reference describes one commit"
        )
    results = results or where / "results"
    failure: StoriesFailed | None = None
    try:
        run_dir = run_notebooks(mode, results=results, only=only, extra=extra, kind="reference")
    except StoriesFailed as exc:
        run_dir, failure = exc.run_dir, exc
    summary = publish_reference(run_dir, results, mode, stories=only)
    if failure is not None:
        print(f"reference: published with {len(failure.failed)} failed: {', '.join(failure.failed)}")
        raise failure
    return summary
