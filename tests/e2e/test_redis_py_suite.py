"""redis-py's own tests as the drop-in's check, the named subset CI runs (`rcopt
redis-py-suite --selection ci`: its scripting tests and its cluster pipeline class); the
whole selection is `make redis-py-suite`, recorded in results/redis-py-suite/full.json."""

from __future__ import annotations

import pytest

pytest.importorskip("redis")
pytest.importorskip("pytest_timeout")

from rediscluster_opt.testing.redis_py_suite import counts, regressions, run_suite  # noqa: E402


def test_redis_pys_tests_that_pass_on_redis_py_pass_on_the_drop_in_or_name_an_internal(tmp_path):
    record = run_suite("ci", out=tmp_path / "ci.json")  # each arm on a fresh cluster of its own
    assert counts(record, "redis-py", made_client=True)["passed"] >= 20  # the suite really ran
    assert counts(record, "compat", made_client=True)["passed"] >= 15
    defects = [(test, message) for test, why, message in regressions(record) if why.startswith("a different")]
    assert defects == []  # a test redis-py passes fails here only where it reaches into redis-py's internals
