"""The sync pool's slots (api.deps.Slots): writes first, reads never in the reserve.

Why it matters: a hundred readers opening a workshop's map must not make a participant's
addition queue behind them (issue 14, bench/workshop.py). The order is decided on the event
loop, so it is tested there, deterministically; tests/api/test_pool_of_one.py holds that a
single slot still answers every kind of request on a real server."""

import asyncio

import pytest

from api.deps import Slots


async def _started(slots: Slots, write: bool, order: list[str], name: str) -> asyncio.Task[None]:
    async def take() -> None:
        await slots.acquire(write)
        order.append(name)

    task = asyncio.create_task(take())
    await asyncio.sleep(0)  # it is queued (or served) before the next one arrives
    return task


def test_reads_leave_the_reserve_to_writes() -> None:
    async def scenario() -> None:
        slots, order = Slots(3, reserve=1), []
        for name in ("r1", "r2", "r3"):
            await _started(slots, False, order, name)
        assert order == ["r1", "r2"]  # the third slot is kept for writes
        await _started(slots, True, order, "w1")
        assert order == ["r1", "r2", "w1"]
        assert (slots.taken, slots.reads) == (3, 2)

    asyncio.run(scenario())


def test_a_freed_slot_goes_to_the_write_that_came_after_waiting_reads() -> None:
    async def scenario() -> None:
        slots, order = Slots(2, reserve=0), []
        for name in ("r1", "r2"):
            await _started(slots, False, order, name)
        waiting = [await _started(slots, False, order, "r3"),
                   await _started(slots, True, order, "w1"),
                   await _started(slots, False, order, "r4")]
        slots.release(False)
        await asyncio.sleep(0)
        assert order == ["r1", "r2", "w1"]
        slots.release(True)  # w1 done: reads in their arrival order
        await asyncio.sleep(0)
        assert order == ["r1", "r2", "w1", "r3"]
        slots.release(False)
        await asyncio.gather(*waiting)
        assert order[-1] == "r4"

    asyncio.run(scenario())


def test_a_read_arriving_while_a_write_waits_queues_behind_it() -> None:
    async def scenario() -> None:
        slots, order = Slots(1, reserve=0), []
        await _started(slots, True, order, "w1")
        await _started(slots, True, order, "w2")
        await _started(slots, False, order, "r1")
        slots.release(True)
        await asyncio.sleep(0)
        assert order == ["w1", "w2"]

    asyncio.run(scenario())


@pytest.mark.parametrize("write", [False, True])
def test_a_waiter_that_gives_up_takes_nothing(write: bool) -> None:
    async def scenario() -> None:
        slots = Slots(1, reserve=0)
        await slots.acquire(True)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slots.acquire(write), timeout=0.01)
        slots.release(True)
        assert (slots.taken, slots.reads) == (0, 0)
        await asyncio.wait_for(slots.acquire(not write), timeout=1)  # the slot is free
        assert slots.taken == 1

    asyncio.run(scenario())


def test_a_single_slot_still_serves_reads() -> None:
    slots = Slots(1, reserve=2)  # a pool of one: the reserve cannot starve reads
    assert slots.read_limit == 1

    async def scenario() -> None:
        await asyncio.wait_for(slots.acquire(False), timeout=1)

    asyncio.run(scenario())
