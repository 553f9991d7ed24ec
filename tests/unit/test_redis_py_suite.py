"""What the redis-py suite's record says (rediscluster_opt/testing/redis_py_suite.py), on a
synthetic record: counts of the tests that made the client apart from the others, the
tests that pass on redis-py and not on the drop-in with their kind of reason, the page."""

from __future__ import annotations

import pytest

from rediscluster_opt.testing import redis_py_suite as suite


def outcome(result: str, message: str = "", made: bool = True) -> dict:
    return {"outcome": result, "message": message, "made_client": made}


RECORD = {
    "selection": "full",
    "tests": ["tests/test_asyncio/test_scripting.py"],
    "versions": {"redis-py": "8.2.0", "rediscluster_opt": "0.1.0"},
    "server": "7.0.15",
    "git": {"commit": "abcdef1234567890", "dirty": False},
    "protocol": 2,
    "outcomes": {
        "redis-py": {
            "t::a": outcome("passed"),
            "t::b": outcome("passed"),
            "t::c": outcome("passed"),
            "t::d": outcome("failed", "both fail"),
            "t::mock": outcome("passed", made=False),
        },
        "compat": {
            "t::a": outcome("passed"),
            "t::b": outcome(
                "failed",
                "UnsupportedAttribute: RedisCluster.x is redis-py's own and is not supported here",
            ),
            "t::c": outcome("failed", "AssertionError: assert b'1' == 1"),
            "t::d": outcome("failed", "both fail"),
            "t::mock": outcome("passed", made=False),
        },
    },
}


def test_counts_keep_the_tests_that_made_no_client_apart():
    assert suite.counts(RECORD, "compat") == {"passed": 2, "failed": 3}
    assert suite.counts(RECORD, "compat", made_client=True) == {"passed": 1, "failed": 3}


def test_regressions_name_their_kind_of_reason():
    assert [(test, why) for test, why, _ in suite.regressions(RECORD)] == [
        ("t::b", "reaches into a redis-py internal"),
        ("t::c", "a different reply or error: a defect to fix or explain"),
    ]


def test_the_page_shows_both_arms_and_every_regression():
    page = suite.render(RECORD)
    assert "| redis-py | 5 | 4 | 3 | 1 | 0 | 0 |" in page
    assert "| compat | 5 | 4 | 1 | 3 | 0 | 0 |" in page
    assert "Of the 3 tests that pass with redis-py, **1** (33%) pass with the drop-in too" in page
    assert "of the 2 among them that use only redis-py's public API (no internal), 50%" in page
    assert "`t::c` | a different reply or error" in page
    assert "`abcdef1234`" in page


def test_an_unknown_selection_is_named():
    with pytest.raises(ValueError, match="unknown selection 'most'"):
        suite.run_suite("most")


def test_the_committed_page_is_what_the_committed_record_renders():
    """docs/redis-py-suite.md is rendered from results/redis-py-suite/full.json, never edited."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    record = json.loads((root / suite.RECORD.format(selection="full")).read_text())
    assert (root / suite.DOC).read_text() == suite.render(record)


def test_a_mock_patch_of_a_private_name_is_an_internal_and_a_public_one_is_not():
    private = "AttributeError: <PubSubConnection object at 0x7f> does not have the attribute '_parser'"
    public = "AttributeError: <PubSubConnection object at 0x7f> does not have the attribute 'read'"
    assert suite._why("t::x", private) == "reaches into a redis-py internal"
    assert suite._why("t::x", public) == "a different reply or error: a defect to fix or explain"
