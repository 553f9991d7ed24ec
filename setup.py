"""The native hot path at install time. `pip install .` compiles rediscluster_opt/native/
hotpath.pyx with Cython (a build requirement) where a C compiler and Python's headers are
present, beside a key file naming the source it was built from, so the package never loads
an extension of other source; where they are not, the install goes on without it and says
so: the pure stage variants serve, and `rcopt build` can make it later. An editable (dev)
install leaves it to `rcopt build`, which keeps builds per source in native/_build/.

Everything else about the package is in pyproject.toml."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NATIVE = Path("rediscluster_opt/native")


class OptionalBuildExt(build_ext):
    """Cythonize and compile the native hot path, or skip it with a warning."""

    def run(self) -> None:
        if self.inplace or self.editable_mode:  # a dev install: rcopt build makes it, per source
            return
        self.cython_c_in_temp = 1  # Cython's option: the generated C stays out of the tree
        try:  # setuptools hands .pyx sources to Cython's build_ext when Cython is there
            super().run()
        except Exception as exc:  # noqa: BLE001  # no Cython, no compiler, no headers...
            self._skipped(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._skipped(exc)
            return
        source_key = runpy.run_path(str(NATIVE / "_key.py"))["source_key"]
        key = Path(self.get_ext_fullpath(ext.name)).with_name("hotpath.key")
        key.write_text(source_key((NATIVE / "hotpath.pyx").read_bytes()) + "\n")

    def _skipped(self, exc: Exception) -> None:
        print(f"rediscluster_opt: the native hot path was not built ({exc}); the pure stage "
              "variants serve, and `rcopt build` builds it later", file=sys.stderr)  # fmt: skip


setup(
    ext_modules=[Extension("rediscluster_opt.native.hotpath", [str(NATIVE / "hotpath.pyx")])],
    cmdclass={"build_ext": OptionalBuildExt},
)
