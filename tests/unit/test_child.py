"""The one child-process protocol: a typed spec in, a result out, a failure with the
child's own words, a refusal without a traceback."""

import asyncio
import os

import pytest

from rediscluster_opt.child import ChildFailed, ChildRefused, run_child, run_child_streaming, start_child
from tests import child_entries


def test_a_child_returns_what_its_function_returns():
    assert run_child(child_entries.echo, {"word": "ab"}, timeout=60) == {"word": "ab", "twice": "abab"}


def test_a_crash_is_a_failure_carrying_the_child_s_output():
    with pytest.raises(ChildFailed) as caught:
        run_child(child_entries.crash, {"why": "a test"}, timeout=60)
    assert caught.value.reason == "exited with 1"
    assert "broken on purpose: a test" in caught.value.output_tail
    assert caught.value.entry == "tests.child_entries:crash"


def test_a_child_past_its_deadline_is_killed():
    with pytest.raises(ChildFailed, match="killed at its deadline"):
        run_child(child_entries.hang, {"seconds": 60}, timeout=1)


def test_a_refusal_is_its_message_alone():
    with pytest.raises(ChildRefused) as caught:
        run_child(child_entries.refuse, {"why": "no such peer"}, timeout=60)
    assert str(caught.value) == "not here: no such peer"


def test_streaming_hands_over_each_line_and_the_result():
    lines = []
    result = asyncio.run(run_child_streaming(child_entries.echo, {"word": "x"}, lines.append))
    assert result["twice"] == "xx" and "working on x" in lines


def test_a_child_runs_pinned_and_keeps_what_it_printed():
    child = start_child(child_entries.echo, {"word": "y"}, cpus=[0])
    assert child.result(60)["word"] == "y" and "working on y" in child.output


def test_stable_paths_repeat_and_leave_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # take TMPDIR afresh
    for _ in range(2):
        assert run_child(child_entries.echo, {"word": "z"}, timeout=60, stable=True)["word"] == "z"
    assert os.listdir(tmp_path) == []


def test_a_stable_folder_left_by_a_killed_run_is_taken_over(tmp_path, monkeypatch):
    # Counted children (cachegrind) need the same paths on every run: a leftover folder
    # must not push them onto random names, whose characters change the count.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    killed = start_child(child_entries.echo, {"word": "w"}, stable=True)
    stable = killed._folder
    killed._process.wait()
    os.close(killed._claim)  # as a killed parent would: its folder stays, its lock is gone
    assert stable.exists()
    again = start_child(child_entries.echo, {"word": "w"}, stable=True)
    assert again._folder == stable
    busy = start_child(child_entries.echo, {"word": "w"}, stable=True)  # while `again` holds it
    assert busy._folder != stable
    assert again.result(60)["word"] == "w" and busy.result(60)["word"] == "w"
    assert os.listdir(tmp_path) == []


def test_only_a_module_level_function_can_be_a_child():
    def local(spec):
        return spec

    with pytest.raises(ValueError, match="module-level function"):
        run_child(local, {}, timeout=5)
