"""bench.machine: whose machine a trial's window was, from two readings."""

from __future__ import annotations

import os

import pytest

from rediscluster_opt.bench import machine
from rediscluster_opt.bench.machine import MachineReading


def reading(at: float, busy: float, cpu: dict[int, float], steal: float = 0.0) -> MachineReading:
    return MachineReading(at=at, busy_s=busy, steal_s=steal, cpu_s=cpu, readable=True)


def test_foreign_is_what_the_machine_did_beyond_the_client_the_servers_and_the_runner():
    before = reading(0.0, 100.0, {1: 5.0, 2: 1.0})
    after = reading(2.0, 103.0, {1: 5.1, 2: 1.9})  # 1.5 CPUs busy over 2 s
    figures = machine.window(before, after, client_cpu_s=1.8, servers=[2])
    assert figures["servers_cpu"] == pytest.approx(0.45)
    assert figures["runner_cpu"] == pytest.approx(0.05)
    assert figures["foreign"] == pytest.approx(1.5 - (1.8 + 0.9 + 0.1) / 2)
    assert not machine.contaminated(figures)


def test_a_third_process_or_steal_beyond_a_tenth_of_a_cpu_contaminates():
    before = reading(0.0, 0.0, {2: 0.0})
    busy = machine.window(before, reading(1.0, 1.3, {2: 0.1}), client_cpu_s=1.0, servers=[2])
    assert busy["foreign"] == pytest.approx(0.2) and machine.contaminated(busy)
    stolen = machine.window(before, reading(1.0, 1.1, {2: 0.1}, steal=0.15), client_cpu_s=1.0, servers=[2])
    assert stolen["foreign"] == pytest.approx(0.0) and machine.contaminated(stolen)


def test_a_server_started_inside_the_window_counts_whole_and_a_vanished_one_as_foreign():
    """A fault restarts a node: its new pid's CPU is all the window's (the servers'), not
    a third process's; a node killed mid-window takes its CPU with it, so that share
    lands in foreign (a trial errs toward contaminated, never toward quiet)."""
    before = reading(0.0, 10.0, {1: 1.0, 2: 3.0})  # 2: killed during the window
    after = reading(1.0, 10.9, {1: 1.05, 3: 0.3})  # 3: the restarted node
    figures = machine.window(before, after, client_cpu_s=0.5, servers=[2, 3])
    assert figures["servers_cpu"] == pytest.approx(0.3)
    assert figures["foreign"] == pytest.approx(0.9 - (0.5 + 0.3 + 0.05))


def test_reading_this_process_finds_its_cpu():
    found = machine.read([os.getpid(), 2**22 + 12345])  # the second pid cannot exist
    assert os.getpid() in found.cpu_s and len(found.cpu_s) == 1
    assert found.cpu_s[os.getpid()] > 0
