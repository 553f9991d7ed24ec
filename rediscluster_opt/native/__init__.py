"""The native hot path: stage variants written in Cython (hotpath.pyx), built and loaded here.

Native code is a stage variant, not a third build: `submit=native`, `writer=native`,
`delivery=native` and `slot_hash=native` sit in the stage tables beside the pure variants
whose contracts they keep, so the lab measures any mix of them in one run, the ablation can
take each one out, and records name them like any stage; `Stages.native()` is the optimized
preset with all four. The pure variants stay the readable reference and the fallback.

`rcopt build` compiles hotpath.pyx (Cython and a C compiler: the `compiled` extra) into
`native/_build/<key>/`, where `<key>` hashes the source and the Python ABI, so a build of
older source is never loaded. `pip install .` compiles it too where a C compiler is
present (setup.py), beside this module with a `hotpath.key` naming its source; that one is
loaded when no build of the current source is in `_build/`. Until one exists the native
variants are not in the tables and choosing one says how to build them.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType

from ..compiled import BuildError
from ._key import source_key as _key_of

__all__ = ["MODULE", "SOURCE", "NativeBuildError", "build", "build_dir", "load", "missing"]

SOURCE = Path(__file__).with_name("hotpath.pyx")
BUILDS_DIR = Path(__file__).parent / "_build"
MODULE = "rediscluster_opt.native.hotpath"
_loaded: list[ModuleType | None] = []  # this process's answer, once


def source_key() -> str:
    """What a build is of: the Cython source and this interpreter's ABI."""
    return _key_of(SOURCE.read_bytes())


def build_dir() -> Path:
    return BUILDS_DIR / source_key()


def _extension() -> Path:
    return build_dir() / f"hotpath{sysconfig.get_config_var('EXT_SUFFIX')}"


def installed() -> Path | None:
    """The extension `pip install` built beside this module, when it is of this source."""
    path = SOURCE.with_name(f"hotpath{sysconfig.get_config_var('EXT_SUFFIX')}")
    key = SOURCE.with_name("hotpath.key")
    if path.is_file() and key.is_file() and key.read_text().strip() == source_key():
        return path
    return None


def load() -> ModuleType | None:
    """The native module built from the current source (rcopt build's, else the one pip
    installed), or None when there is none."""
    if not _loaded:
        built = _extension()
        path = built if built.is_file() else installed()
        module = None
        if path is not None:
            loader = importlib.machinery.ExtensionFileLoader(MODULE, str(path))
            spec = importlib.util.spec_from_file_location(MODULE, path, loader=loader)
            assert spec is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[MODULE] = module
            loader.exec_module(module)
        _loaded.append(module)
    return _loaded[0]


def missing() -> str:
    """Why the native variants are not available (for an error naming them)."""
    return (
        f"the native hot path is not built for this source ({build_dir()}); run `rcopt build` "
        "(it needs Cython and a C compiler: pip install 'rediscluster_opt[compiled]')"
    )


class NativeBuildError(BuildError):
    """The native extension could not be built; the message says why."""


def build(force: bool = False, quiet: bool = False) -> Path:
    """Compile hotpath.pyx into `build_dir()` unless it is there; older builds are removed.
    Compiled in a scratch folder; the folder appears whole or not at all."""
    target = build_dir()
    if not force and _extension().is_file():
        return target
    try:
        import Cython  # noqa: F401  (only to say clearly what is missing)
    except ImportError:
        raise NativeBuildError(
            "the native hot path needs Cython: pip install 'rediscluster_opt[compiled]'"
        ) from None
    with tempfile.TemporaryDirectory(prefix="rcopt-native-") as scratch:
        work = Path(scratch)
        shutil.copy(SOURCE, work / "hotpath.pyx")
        (work / "rediscluster_opt" / "native").mkdir(parents=True)  # where --inplace puts it
        script = (
            "from setuptools import Extension, setup\n"
            "from Cython.Build import cythonize\n"
            f"extension = Extension({MODULE!r}, ['hotpath.pyx'])\n"
            "setup(name='rediscluster_opt_native', script_args=['build_ext', '--inplace'],\n"
            "      ext_modules=cythonize([extension], quiet=True))\n"
        )
        done = subprocess.run([sys.executable, "-c", script], cwd=work, capture_output=True, text=True)
        built = sorted(work.rglob(f"hotpath{sysconfig.get_config_var('EXT_SUFFIX')}"))
        if done.returncode != 0 or not built:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise NativeBuildError(f"Cython failed to build the native hot path:\n{tail}")
        BUILDS_DIR.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=BUILDS_DIR))
        shutil.move(built[0], staging / built[0].name)
        for old in BUILDS_DIR.iterdir():
            if old != staging:
                shutil.rmtree(old, ignore_errors=True)
        staging.rename(target)
    if not quiet:
        print(f"native hot path: {target}")
    return target
