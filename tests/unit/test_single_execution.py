"""The single-execution checker (testing/single_execution.py) against an in-memory server
whose connection drops chosen commands: an outcome it resolves is no problem, a reply no
single execution gives is one."""

import asyncio

from rediscluster_opt.testing.single_execution import SingleExecutionLoad


class Dropped(Exception):
    """The connection was lost: the command's outcome is unknown to the caller."""


class Server:
    """Just the commands the load sends, on plain Python values."""

    def __init__(self, drop=lambda args, seen: False, applied_before_drop=False):
        self.data = {}
        self.drop, self.applied_before_drop = drop, applied_before_drop
        self.seen = 0

    async def command(self, name, *args):
        await asyncio.sleep(0)  # a round trip lets the other workers (and the stop) run
        self.seen += 1
        if self.drop((name, *args), self.seen):
            if self.applied_before_drop:
                self.run(name, *args)
            raise Dropped
        return self.run(name, *args)

    def run(self, name, key=None, *args):
        data = self.data
        if name == "DEL":
            return int(data.pop(key, None) is not None)
        if name == "SET":
            data[key] = args[0] if isinstance(args[0], bytes) else str(args[0]).encode()
            return b"OK"
        if name == "GET":
            return data.get(key)
        if name == "EXISTS":
            return int(key in data)
        if name == "INCR":
            data[key] = b"%d" % (int(data.get(key, b"0")) + 1)
            return int(data[key])
        if name in ("SADD", "HSET", "SETBIT"):
            member = args[0]
            held = data.setdefault(key, set())
            new = member not in held
            held.add(member)
            return 0 if name == "SETBIT" else int(new)
        if name in ("SISMEMBER", "HEXISTS", "GETBIT"):
            return int(args[0] in data.get(key, set()))
        if name in ("SMEMBERS", "HKEYS"):
            return [b"%d" % m for m in data.get(key, set())]
        if name == "BITCOUNT":
            return len(data.get(key, set()))
        raise AssertionError(f"the load sent {name}")


async def run(server, workers=2, rounds_s=0.05):
    load = SingleExecutionLoad(server.command, "t", workers=workers)
    stop = asyncio.Event()
    running = asyncio.ensure_future(load.run(stop))
    await asyncio.sleep(rounds_s)
    stop.set()
    await running
    return load


async def test_a_clean_run_has_no_problem():
    load = await run(Server())
    assert load.problems() == 0 and load.counts["ok"] > 100 and load.counts["resolved"] == 0


async def test_a_first_set_that_was_never_applied_leaves_the_string_absent():
    # the worker's first SET of its string is lost before the server ran it: its GET then
    # answers nil, which is what a single execution gives (once counted as wrong)
    def first_string_set(args, seen):
        return args[0] == "SET" and args[1].endswith(":string") and args[2] == b"v1"

    load = await run(Server(drop=first_string_set))
    assert load.counts["resolved"] == 2 and load.problems() == 0, (load.counts, load.examples)


async def test_lost_replies_of_applied_commands_are_resolved_as_applied():
    load = await run(Server(drop=lambda args, seen: seen % 7 == 0, applied_before_drop=True))
    assert load.counts["resolved"] > 10 and load.problems() == 0, (load.counts, load.examples)


async def test_a_reply_no_single_execution_gives_is_counted():
    server = Server()
    real = server.run

    def twice_applied(name, key=None, *args):  # an INCR sent again after it was applied
        if name == "INCR":
            real(name, key, *args)
        return real(name, key, *args)

    server.run = twice_applied
    load = await run(server, workers=1)
    assert load.counts["wrong"] > 0 and load.problems() > 0
    assert any("INCR" in example for example in load.examples)
