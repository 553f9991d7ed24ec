import pytest
from hypothesis import given
from hypothesis import strategies as st

from rediscluster_opt.core.slots import SLOT_COUNT, crc16_bitwise, crc16_c, crc16_table, hash_tag
from rediscluster_opt.stages import REGISTRY

CRCS = [crc16_bitwise, crc16_table, crc16_c]
SLOT_FUNCTIONS = REGISTRY["slot_hash"]


@pytest.mark.parametrize("crc", CRCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("data", "expected"), [(b"123456789", 0x31C3), (b"", 0), (b"A", 0x58E5)])
def test_crc16_xmodem_vectors(crc, data, expected):
    assert crc(data) == expected


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        (b"{user}:1", b"user"),
        (b"user{42}:a", b"42"),  # first "{" anywhere, not only at the start
        (b"{42}", b"42"),
        (b"{first}{second}", b"first"),
        (b"{}", b"{}"),  # empty tag: the whole key is hashed
        (b"{}{x}", b"{}{x}"),  # the first "{" decides, even when its tag is empty
        (b"{user", b"{user"),
        (b"user}", b"user}"),
        (b"a{b{c}d}", b"b{c"),
        (b"plain", b"plain"),
    ],
)
def test_hash_tag_follows_the_spec(key, tag):
    assert hash_tag(key) == tag


@pytest.mark.parametrize("name", list(SLOT_FUNCTIONS))
def test_known_slots(name):
    slot_of = SLOT_FUNCTIONS[name]
    # Values from `CLUSTER KEYSLOT` on Redis 7.
    assert slot_of(b"foo") == 12182
    assert slot_of(b"user:1") == 10778
    assert slot_of(b"user{42}:a") == slot_of(b"{42}") == slot_of(b"42")


@given(st.binary(max_size=300))
def test_slot_variants_agree_and_stay_in_range(key):
    slots = {name: fn(key) for name, fn in SLOT_FUNCTIONS.items()}
    assert len(set(slots.values())) == 1, slots
    assert 0 <= slots["crc_hqx"] < SLOT_COUNT


@given(
    st.binary(min_size=1, max_size=20).filter(lambda t: b"}" not in t),
    st.binary(max_size=20),
    st.binary(max_size=20),
)
def test_keys_sharing_a_tag_share_a_slot(tag, before, after):
    before = before.replace(b"{", b"")
    key = before + b"{" + tag + b"}" + after
    for slot_of in SLOT_FUNCTIONS.values():
        assert slot_of(key) == slot_of(tag)
