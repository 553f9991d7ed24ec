"""The compiled build: the client's hot path compiled to C by mypyc, beside the pure package.

`rcopt build` compiles the modules in `COMPILED` (the pure core, the stages and the
multiplexer; they are mypy-strict already) into extension modules kept in
`rediscluster_opt/_compiled/<key>/`, where `<key>` hashes their sources and the Python
ABI. The pure package stays as it is, so both builds sit side by side and a process picks
one when it first imports the package, from `$RCOPT_BUILD`:

- `pure` (the default): the Python sources, as they read;
- `compiled`: the compiled modules; when no build of these very sources exists (a build
  of older sources is never loaded) the pure ones, with a warning that says how to build
  it, so a command still runs and says why; `require()` refuses instead;
- `auto`: compiled when a current build exists, else pure, silently.

The default is `pure` so that a measurement never changes build behind its reader's back:
the lab runs the compiled build only as an arm that asks for it (`optimized@compiled`),
and `client.describe()["build"]` says which one a client runs.

Loading: a finder placed first on `sys.meta_path` serves exactly the compiled modules
(and mypyc's shared library) from the build folder; every other module of the package,
the `__init__` files included, still comes from the sources. Not compiled, and why:
`__init__` files (re-exports; a compiled package `__init__` would hide its pure
siblings), `stages/contracts.py` (its Protocols must stay runtime-checkable) and
`client/` (mypyc 2.4 passes its `**options` on to the compiled base constructor wrongly).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = [
    "BUILDS",
    "COMPILED",
    "ENV",
    "BuildError",
    "build",
    "build_dir",
    "environ",
    "loaded",
    "ready",
    "require",
    "select",
    "source_key",
]

ENV = "RCOPT_BUILD"
BUILDS = ("pure", "compiled", "auto")
PACKAGE = Path(__file__).resolve().parent
BUILDS_DIR = PACKAGE / "_compiled"
MANIFEST = "manifest.json"
# Compiled, by subpackage; every module of these except `_LEFT_PURE`.
_SUBPACKAGES = ("core", "stages", "mux")
_LEFT_PURE = frozenset({"__init__", "contracts"})


class BuildError(RuntimeError):
    """The compiled build could not be made or loaded; the message says why and what to do."""


def _module_files(everything: bool = False) -> list[Path]:
    """The compiled modules' sources (with `everything`, their pure siblings too)."""
    return sorted(
        path
        for sub in _SUBPACKAGES
        for path in (PACKAGE / sub).glob("*.py")
        if everything or path.stem not in _LEFT_PURE
    )


def _module_name(path: Path) -> str:
    return ".".join((PACKAGE.name, *path.relative_to(PACKAGE).with_suffix("").parts))


COMPILED: tuple[str, ...] = tuple(_module_name(path) for path in _module_files())


def source_key() -> str:
    """What a build is of: the compiled modules' sources and this interpreter's ABI."""
    digest = hashlib.sha256(sysconfig.get_config_var("EXT_SUFFIX").encode())
    for path in _module_files():
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def build_dir() -> Path:
    """Where the build of the current sources lives (or would)."""
    return BUILDS_DIR / source_key()


class _CompiledFinder(importlib.abc.MetaPathFinder):
    """Serves the compiled modules from one build folder, and nothing else."""

    def __init__(self, folder: Path, files: dict[str, str]) -> None:
        self.folder = folder
        self.files = files  # module name -> extension file, relative to the folder

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        name = self.files.get(fullname)
        if name is None:
            return None
        location = str(self.folder / name)
        loader = importlib.machinery.ExtensionFileLoader(fullname, location)
        return importlib.util.spec_from_file_location(fullname, location, loader=loader)


def ready() -> bool:
    """Whether a whole build of the current sources exists."""
    return _manifest(build_dir()) is not None


def _manifest(folder: Path) -> dict[str, str] | None:
    try:
        files = json.loads((folder / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError):
        return None
    if not all((folder / name).is_file() for name in files.values()):
        return None
    return dict(files)


def select(requested: str | None = None) -> str:
    """Pick the build for this process (once, before the package imports its modules)."""
    choice = (requested or os.environ.get(ENV) or "pure").strip().lower()
    if choice not in BUILDS:  # said, not raised: this runs on import, where a raise is a traceback
        warnings.warn(f"{ENV}={choice!r} is not a build (choose one of {', '.join(BUILDS)}); "
                      "running the pure build", RuntimeWarning, stacklevel=3)  # fmt: skip
        return loaded()
    if choice == "pure" or loaded() == "compiled":
        return loaded()
    folder = build_dir()
    files = _manifest(folder)
    if files is None:
        if choice == "compiled":
            warnings.warn(_missing(folder) + "; running the pure build", RuntimeWarning, stacklevel=3)
        return "pure"
    sys.meta_path.insert(0, _CompiledFinder(folder, files))
    return "compiled"


def _missing(folder: Path) -> str:
    return (
        f"{ENV}=compiled, but there is no compiled build of these sources "
        f"({folder}); run `rcopt build` (it needs a C compiler "
        f"and mypy: pip install 'rediscluster_opt[compiled]')"
    )


def loaded() -> str:
    """The build this process runs: "compiled" when the client's modules are extensions."""
    finder = next((f for f in sys.meta_path if isinstance(f, _CompiledFinder)), None)
    return "compiled" if finder is not None else "pure"


def environ(build: str) -> dict[str, str]:
    """This process's environment for a child that must run `build`."""
    return {**os.environ, ENV: build}


def require(build: str) -> None:
    """Refuse to go on unless this process runs `build` (a measurement or a test suite
    that asked for one build must not measure the other)."""
    if loaded() != build:
        why = _missing(build_dir()) if build == "compiled" else "the compiled build is loaded"
        raise BuildError(f"this process runs the {loaded()} build, not the {build} one: {why}")


def build(force: bool = False, quiet: bool = False) -> Path:
    """Compile the modules in `COMPILED` into `build_dir()`, unless a build is there.

    The sources are copied to a scratch folder and compiled there (mypyc writes beside its
    inputs); only the extension files move into the build folder, which appears whole or
    not at all. Older builds are removed."""
    target = build_dir()
    if not force and ready():
        return target
    try:
        import mypyc  # noqa: F401  (only to say clearly what is missing)
    except ImportError:
        raise BuildError(
            "the compiled build needs mypy (mypyc): pip install 'rediscluster_opt[compiled]'"
        ) from None
    compiler = sysconfig.get_config_var("CC") or "cc"
    if shutil.which(compiler.split()[0]) is None:
        raise BuildError(f"no C compiler ({compiler}); install gcc (Debian: apt-get install gcc)")
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.is_file():  # else gcc fails deep in mypyc's output
        raise BuildError(f"no {headers}: install Python's headers (Debian: apt-get install python3-dev)")
    with tempfile.TemporaryDirectory(prefix="rcopt-build-") as scratch:
        work = Path(scratch)
        shutil.copytree(
            PACKAGE, work / PACKAGE.name, ignore=shutil.ignore_patterns("_compiled", "__pycache__", "*.so")
        )
        # mypy reads the subpackages whole (their `__init__` files give it the import
        # order it needs); mypyc compiles only `COMPILED`
        checked, compiled = (
            [p.relative_to(PACKAGE.parent).as_posix() for p in _module_files(every)]
            for every in (True, False)
        )
        script = (
            "import json, sys\n"
            "from setuptools import setup\n"
            "from mypyc.build import mypycify\n"
            "checked, compiled = json.loads(sys.argv[1])\n"
            "modules = mypycify(['--ignore-missing-imports', *checked], only_compile_paths=compiled,\n"
            "                   opt_level='3', multi_file=True)\n"
            "setup(name='rediscluster_opt_compiled', script_args=['build_ext', '--inplace'],\n"
            "      ext_modules=modules)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps([checked, compiled])],
            cwd=work,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise BuildError(f"mypyc failed to compile the hot path:\n{tail}")
        files = _collect(work, target)
    if not quiet:
        print(f"compiled build: {len(files)} files in {target}")
    return target


def _collect(work: Path, target: Path) -> dict[str, str]:
    """Move the extension files out of `work` into `target`, with a manifest."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=_ensure(BUILDS_DIR)))
    files: dict[str, str] = {}
    extensions = [*work.glob(f"*{suffix}"), *(work / PACKAGE.name).rglob(f"*{suffix}")]
    for extension in extensions:  # not build/'s copies
        relative = extension.relative_to(work)
        name = ".".join(relative.parts)[: -len(suffix)]
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(extension, staging / relative)
        files[name] = relative.as_posix()
    missing = sorted(set(COMPILED) - set(files))
    if missing:
        shutil.rmtree(staging)
        raise BuildError(f"mypyc produced no extension for {', '.join(missing)}")
    (staging / MANIFEST).write_text(json.dumps({"key": target.name, "files": files}, indent=1))
    for old in BUILDS_DIR.iterdir():
        if old != staging:
            shutil.rmtree(old, ignore_errors=True)
    staging.rename(target)
    return files


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
