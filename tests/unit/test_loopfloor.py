import asyncio

from rediscluster_opt.bench.adapters import ClientConfig, Target, open_adapter
from rediscluster_opt.bench.workload import Workload


async def test_the_loop_floor_answers_from_its_keyspace_on_the_next_iteration():
    workload = Workload(key_count=50, value_size=16)
    floor = await open_adapter(
        ClientConfig.parse("calibration:loop"), "cluster", Target(), 4, workload=workload
    )
    pending = floor.get(workload.key(7))
    assert not pending.done()  # the loop resolves it, as a reply would arrive
    assert await pending == workload.value(7)
    assert await floor.set(b"k", b"v") == b"OK" and await floor.get(b"k") == b"v"
    assert await floor.delete(b"k") == 1 and await floor.delete(b"k") == 0
    assert await floor.get(b"k") is None
    results = await asyncio.gather(*(floor.get(workload.key(i)) for i in range(50)))
    assert results == [workload.value(i) for i in range(50)]
    await floor.close()


def test_the_loop_floor_is_a_calibration_arm_not_a_client():
    config = ClientConfig.parse("calibration:loop")
    assert config.client == "calibration:loop" and config.stages is None and config.available()
