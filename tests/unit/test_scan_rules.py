"""The pure parts of the moving-safe scans (client/scan.py): Redis's glob rules applied
to keys read again with GETKEYSINSLOT, and the slots a node reports migrating. The same
patterns are checked against the real server's KEYS in tests/e2e/test_scans.py."""

from __future__ import annotations

import pytest

from rediscluster_opt.core.glob import glob_matches
from rediscluster_opt.core.topology import migrating_slots

# (pattern, matching, not matching), by the rules of Redis's stringmatchlen
CASES = [
    (b"*", [b"", b"abc"], []),
    (b"user:*", [b"user:", b"user:1"], [b"users", b"xuser:1"]),
    (b"h?llo", [b"hello", b"hallo"], [b"hllo", b"heello"]),
    (b"h[ae]llo", [b"hello", b"hallo"], [b"hillo"]),
    (b"h[^e]llo", [b"hallo", b"hbllo"], [b"hello"]),
    (b"h[a-b]llo", [b"hallo", b"hbllo"], [b"hcllo"]),
    (b"h[b-a]llo", [b"hallo", b"hbllo"], [b"hcllo"]),  # a reversed range is the same range
    (b"a\\*b", [b"a*b"], [b"axb"]),
    (b"a[\\]]b", [b"a]b"], [b"axb"]),
    (b"a.b", [b"a.b"], [b"axb"]),  # regex characters are literal
    (b"a(b)+", [b"a(b)+"], [b"abb"]),
    (b"a\nb*", [b"a\nbc"], [b"ab"]),
]


@pytest.mark.parametrize(("pattern", "yes", "no"), CASES)
def test_redis_glob_rules(pattern, yes, no):
    for subject in yes:
        assert glob_matches(pattern, subject), (pattern, subject)
    for subject in no:
        assert not glob_matches(pattern, subject), (pattern, subject)


def test_migrating_and_importing_slots_are_read_off_the_nodes_own_line():
    reply = (
        b"07c3 127.0.0.1:7001@17001 master - 0 1 2 connected 3277-6553 [100-<-a1b2]\n"
        b"a1b2 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-3276 [4000->-07c3] [5-<-07c3]\n"
    )
    assert migrating_slots(reply) == {4000, 5}  # the other node's marker is not this one's
    assert migrating_slots(b"a1b2 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-3276\n") == set()
