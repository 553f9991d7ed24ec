import os
from pathlib import Path

import pytest

from rediscluster_opt import compiled

pytest_plugins = ["rediscluster_opt.pytest_plugin"]

E2E_DIR = Path(__file__).parent / "e2e"


def pytest_configure(config):
    # A run that asked for one build (RCOPT_BUILD=compiled for the compiled suite) must test
    # that one: a missing or stale compiled build stops it here instead of passing on pure.
    wanted = os.environ.get(compiled.ENV)
    if wanted in ("pure", "compiled"):
        try:
            compiled.require(wanted)
        except compiled.BuildError as exc:
            raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config):
    return f"rediscluster_opt build: {compiled.loaded()}"


def pytest_collection_modifyitems(items):
    compiled_build = compiled.loaded() == "compiled"
    whole_matrix = os.environ.get("RCOPT_FAULT_MATRIX") == "full"
    for item in items:
        if not whole_matrix and item.get_closest_marker("fault_matrix") is not None:
            item.add_marker(pytest.mark.skip(reason="of the whole fault matrix: make test-faults runs it"))
        if E2E_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)
        if "replica_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.replica_cluster)
        pure_only = item.get_closest_marker("pure_only")
        if compiled_build and pure_only is not None:
            item.add_marker(pytest.mark.skip(reason=f"pure build only: {pure_only.args[0]}"))
