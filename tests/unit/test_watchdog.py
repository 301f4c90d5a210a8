"""The watchdog's timer against real asyncio tasks (``relay.handlers.watchdog``)."""

from __future__ import annotations

import asyncio
import re

import pytest

from relay.handlers.liveness import Liveness
from relay.handlers.watchdog import Watchdog
from tests.timing import deadline


async def _receive(dog: Watchdog, frame: asyncio.Future[str]) -> str:
    return await dog.receive(lambda: frame)


def _dog(dead_after: float | None, ping_after: float | None = None,
         pings: list[float] | None = None) -> Watchdog:
    loop = asyncio.get_running_loop()
    live = Liveness(loop.time(), ping_after=ping_after, pong_within=0.05, dead_after=dead_after)
    return Watchdog(live, ping=None if pings is None else lambda: pings.append(loop.time()))


async def test_a_silent_peer_ends_the_waiting_receive_with_the_reason() -> None:
    dog = _dog(dead_after=0.05)
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    async with deadline(5):
        with pytest.raises(TimeoutError, match=re.escape("no message or pong for 0.05 s")):
            await _receive(dog, never)


async def test_a_quiet_peer_is_pinged_and_dead_without_an_answer() -> None:
    pings: list[float] = []
    dog = _dog(dead_after=None, ping_after=0.02, pings=pings)
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    async with deadline(5):
        with pytest.raises(TimeoutError, match=re.escape("no pong within 0.05 s")):
            await _receive(dog, never)
    assert len(pings) == 1


async def test_a_frame_in_time_is_returned_and_someone_elses_cancel_stays_a_cancel() -> None:
    dog = _dog(dead_after=30.0)
    loop = asyncio.get_running_loop()
    frame: asyncio.Future[str] = loop.create_future()
    loop.call_soon(frame.set_result, "hello")
    assert await _receive(dog, frame) == "hello"
    never: asyncio.Future[str] = loop.create_future()
    task = asyncio.ensure_future(_receive(dog, never))
    await asyncio.sleep(0)  # the task is now waiting in the receive
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    dog.stop()
