import pytest

from rediscluster_opt import Stages
from rediscluster_opt.core.topology import SlotRange, Topology
from rediscluster_opt.stages import BASELINE, OPTIMIZED, REGISTRY


def test_presets_name_a_registered_variant_for_every_stage():
    assert set(BASELINE) == set(OPTIMIZED) == set(REGISTRY)
    for stage in REGISTRY:
        assert BASELINE[stage] in REGISTRY[stage] and OPTIMIZED[stage] in REGISTRY[stage]
        assert BASELINE[stage] != OPTIMIZED[stage]


def test_replace_and_aliases():
    stages = Stages.optimized().replace(delivery="naive")
    assert stages.delivery == BASELINE["delivery"]
    assert stages.parser == OPTIMIZED["parser"]
    assert Stages.baseline().replace(writer="optimized").writer == OPTIMIZED["writer"]
    assert Stages() == Stages.optimized()


def test_labels():
    assert Stages.baseline().label() == "baseline"
    assert Stages.optimized().label() == "optimized"
    assert Stages.baseline().replace(slot_hash="table").label() == "baseline+slot_hash=table"
    assert Stages.optimized().replace(delivery="per_reply").label() == "optimized+delivery=per_reply"


def test_unknown_stage_lists_the_stages():
    with pytest.raises(ValueError, match="unknown stage.*readr.*stages are: slot_hash"):
        Stages.optimized().replace(readr="batch")


def test_unknown_variant_lists_the_choices():
    with pytest.raises(ValueError, match="'fast' for stage 'writer'.*direct, join, writelines"):
        Stages(writer="fast")


def test_round_trip_through_dict():
    stages = Stages.baseline().replace(parser="hiredis")
    assert Stages.from_dict(stages.as_dict()) == stages


def test_resolve_gives_the_registered_objects():
    impl = Stages.baseline().resolve()
    assert impl.writer is REGISTRY["writer"]["direct"]


TOPOLOGY = Topology((SlotRange(0, 99, "a:1"), SlotRange(100, 16383, "b:1")))


@pytest.mark.parametrize("variant", list(REGISTRY["slot_map"]))
def test_slot_maps_lookup_and_patch(variant):
    slot_map = REGISTRY["slot_map"][variant](TOPOLOGY)
    assert [slot_map.lookup(s) for s in (0, 99, 100, 16383)] == ["a:1", "a:1", "b:1", "b:1"]
    slot_map.patch(50, "c:1")
    assert [slot_map.lookup(s) for s in (49, 50, 51)] == ["a:1", "c:1", "a:1"]
    slot_map.patch(0, "c:1")
    slot_map.patch(16383, "c:1")
    assert slot_map.lookup(0) == slot_map.lookup(16383) == "c:1"
    slot_map.replace(Topology((SlotRange(0, 10, "z:1"),)))
    assert slot_map.lookup(5) == "z:1" and slot_map.lookup(11) is None


@pytest.mark.parametrize("variant", list(REGISTRY["node_select"]))
def test_node_selection(variant):
    selector = REGISTRY["node_select"][variant]()
    assert selector.pick("a:1") is None and selector.pick(None) is None
    selector.install("a:1", ["m1"])
    selector.install("b:1", ["n1", "n2", "n3"])
    assert [selector.pick("a:1") for _ in range(3)] == ["m1"] * 3
    picks = [selector.pick("b:1") for _ in range(6)]
    assert sorted(picks) == ["n1", "n1", "n2", "n2", "n3", "n3"]  # round robin
    selector.remove("b:1", "n2")
    assert {selector.pick("b:1") for _ in range(4)} == {"n1", "n3"}
    selector.remove("a:1", "m1")
    assert selector.pick("a:1") is None
    assert sorted(selector.all()) == ["n1", "n3"]
