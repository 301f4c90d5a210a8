"""AppliedVersion: waiters wake when their version is applied, or give up at the timeout."""

from __future__ import annotations

import asyncio

from relay.redis.version import AppliedVersion
from tests.timing import deadline, scaled


async def test_a_waiter_wakes_once_its_version_is_applied() -> None:
    applied = AppliedVersion()
    waiter = asyncio.ensure_future(applied.wait(3, timeout=scaled(30)))
    applied.advance(2)
    await asyncio.sleep(0)  # let the waiter run: it must still be waiting
    assert not waiter.done()
    applied.advance(3)
    async with deadline(5):
        await waiter
    assert applied.value == 3


async def test_an_old_version_never_moves_it_back_but_a_reset_does() -> None:
    applied = AppliedVersion()
    applied.advance(7)
    applied.advance(4)
    assert applied.value == 7
    assert applied.covers(7)
    assert not applied.covers(8)
    applied.reset()
    assert applied.value == 0
    assert not applied.covers(1)


async def test_a_wait_that_is_already_covered_returns_at_once() -> None:
    applied = AppliedVersion()
    applied.advance(5)
    async with deadline(1):
        await applied.wait(5, timeout=scaled(30))


async def test_a_wait_gives_up_at_its_timeout_and_leaves_no_waiter() -> None:
    applied = AppliedVersion()
    async with deadline(5):
        await applied.wait(1, timeout=0.01)
    assert applied._waiters == []
