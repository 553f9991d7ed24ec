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


def allocator(spec):
    """Which object allocator this process runs on, as CPython itself reports it
    (its malloc statistics name pymalloc's size classes only when pymalloc is in use)."""
    import os
    import sys
    import tempfile

    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        stats = out.read().decode()
    return {"allocator": "pymalloc" if "Small block threshold" in stats else "malloc"}
