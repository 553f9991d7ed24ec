"""Entry points for tests/unit/test_child.py (a child imports its entry by module path)."""

import time

from rediscluster_opt.child import Refused


def echo(spec):
    print("working on", spec["word"], flush=True)
    return {"word": spec["word"], "twice": spec["word"] * 2}


def crash(spec):
    raise RuntimeError(f"broken on purpose: {spec['why']}")


def hang(spec):
    time.sleep(spec["seconds"])
    return {}


def refuse(spec):
    raise Refused(f"not here: {spec['why']}")
