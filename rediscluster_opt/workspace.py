"""Where the lab reads and writes: the one definition of the workspace root.

Results (`results/`), figures, the local cluster's data (`.rcopt/cluster`) and the REST
load generator's Node.js packages (`.rcopt/node`) live under the root, which is
`$RCOPT_ROOT` when it is set and the current working directory otherwise, as pyperf and
asv write where they are run. In the checkout, where `make` runs, that is the repository;
for an installed package it is wherever the user runs `rcopt`.

The root is read at each use, never frozen at import, so a notebook or a test that sets
it (or changes directory) is obeyed. Source paths in profiles are a different matter:
they are made relative to the folder that holds the package (`PACKAGE_PARENT`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "ENV",
    "PACKAGE_PARENT",
    "adopt_notebook_root",
    "exported_root",
    "locate",
    "relative",
    "resolve",
    "root",
]

ENV = "RCOPT_ROOT"
PACKAGE_PARENT = Path(__file__).resolve().parent.parent
NOTEBOOKS = "notebooks"


def root() -> Path:
    """The workspace root: $RCOPT_ROOT, else the current working directory."""
    return Path(os.environ.get(ENV) or os.getcwd()).absolute()


def resolve(path: Path | str) -> Path:
    """`path` as given when absolute, else taken from the root."""
    path = Path(path)
    return path if path.is_absolute() else root() / path


def locate(path: Path | str) -> Path:
    """A path a record or summary names: as given when it exists from here, else taken
    from the root (records name their links relative to it)."""
    path = Path(path)
    return path if path.is_absolute() or path.exists() else root() / path


def relative(path: Path | str) -> str:
    """`path` relative to the root when it lies inside it, else absolute: records and
    executed notebooks carry no machine paths for what is in the workspace."""
    absolute = Path(os.path.abspath(path))  # abspath: a venv's python is a symlink out of the root
    base = root()
    return str(absolute.relative_to(base)) if absolute.is_relative_to(base) else str(absolute)


def adopt_notebook_root() -> Path:
    """For a lab notebook's kernel: the notebooks live in `<root>/notebooks`, and papermill
    and JupyterLab start a kernel in its notebook's folder, so there, with no $RCOPT_ROOT,
    the root is that folder's parent. Sets $RCOPT_ROOT then, so child processes agree."""
    here = Path.cwd()
    if not os.environ.get(ENV) and here.name == NOTEBOOKS:
        os.environ[ENV] = str(here.parent)
    return root()


@contextmanager
def exported_root() -> Iterator[Path]:
    """$RCOPT_ROOT set to the root while the block runs, so child processes (notebook
    kernels, trial processes) resolve relative folders as this process does."""
    before = os.environ.get(ENV)
    os.environ[ENV] = str(root())
    try:
        yield root()
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before
