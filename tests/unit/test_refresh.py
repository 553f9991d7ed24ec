"""The cluster client's small parts on their own: the refresh schedule (one refresh at a
time, rate-limited by attempts, periodic) and suspect tracking."""

import asyncio

from rediscluster_opt import ClusterDownError
from rediscluster_opt.client.refresh import RefreshSchedule
from rediscluster_opt.client.suspects import Suspects


async def test_requests_share_one_refresh_and_are_spaced_by_attempts():
    calls = []

    async def refresh():
        calls.append(asyncio.get_running_loop().time())
        schedule.attempted()
        if len(calls) == 2:
            raise ClusterDownError("no node answered")  # a failure is swallowed, and counts

    schedule = RefreshSchedule(refresh, min_interval=0.1, interval=None, closed=lambda: False)
    first = schedule.request()
    assert schedule.request() is first  # one at a time
    await first
    await schedule.request()  # waits out min_interval from the first attempt
    await schedule.request()  # and from the failed second one
    assert len(calls) == 3 and calls[1] - calls[0] >= 0.09 and calls[2] - calls[1] >= 0.09
    await schedule.wait()  # one ran within min_interval: no new refresh for a waiting command
    assert len(calls) == 3


async def test_the_periodic_refresh_runs_until_closed():
    calls, closed = [], False

    async def refresh():
        calls.append(1)
        schedule.attempted()

    schedule = RefreshSchedule(refresh, min_interval=0.0, interval=0.02, closed=lambda: closed)
    schedule.start_periodic()
    timer = schedule._periodic
    schedule.start_periodic()
    assert schedule._periodic is timer  # one timer, however often it is asked for
    for _ in range(200):  # no timing bound: a loaded machine only makes ticks late
        await asyncio.sleep(0.01)
        if len(calls) >= 3:
            break
    assert len(calls) >= 3
    closed = True
    await asyncio.sleep(0.05)
    seen = len(calls)
    await asyncio.sleep(0.1)
    assert len(calls) == seen  # stopped with the client
    schedule.cancel()


class FakeMux:
    def __init__(self, address):
        self.address, self.replies, self.closed, self.in_flight, self.held = address, 0, False, 0, False


class FakePool:
    closed = False

    def __init__(self, muxes):
        self.muxes = muxes

    def connections(self):
        return [mux for mux in self.muxes if not mux.closed]

    def of(self, address):
        return [mux for mux in self.connections() if mux.address == address]

    def close_node(self, address, reason=""):
        for mux in self.of(address):
            mux.closed = True

    def hold(self, address):
        for mux in self.of(address):
            mux.held = True

    def release(self, address):
        for mux in self.of(address):
            mux.held = False


async def test_a_suspect_is_cleared_when_it_answers_and_closed_when_its_slots_move():
    a, b = FakeMux("a:1"), FakeMux("b:1")
    masters = {"a:1", "b:1"}
    refreshes = []

    async def refresh():
        refreshes.append(1)
        schedule.attempted()

    schedule = RefreshSchedule(refresh, min_interval=0.0, interval=None, closed=lambda: False)
    counters = {"suspected": 0}
    suspects = Suspects(FakePool([a, b]), schedule, lambda address: address in masters, counters)
    suspects.mark("a:1")
    suspects.mark("a:1")
    suspects.mark("b:1")
    assert counters["suspected"] == 2 and "a:1" in suspects
    a.replies += 1  # a answered again
    masters.discard("b:1")  # b's slots moved to its replica
    for _ in range(300):
        await asyncio.sleep(0.01)
        if "a:1" not in suspects and "b:1" not in suspects:
            break
    assert "a:1" not in suspects and not a.closed
    assert "b:1" not in suspects and b.closed  # what waited on it fails over now
    assert refreshes
    suspects.cancel()
