from pathlib import Path

import pytest

pytest_plugins = ["rediscluster_opt.pytest_plugin"]

E2E_DIR = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items):
    for item in items:
        if E2E_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)
