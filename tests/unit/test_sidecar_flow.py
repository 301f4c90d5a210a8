"""OutputFlow: backpressure from the relay link to the PTY reader, bounded in time."""

from __future__ import annotations

import asyncio

from agent_sidecar.flow import OutputFlow
from tests.timing import deadline


class Harness:
    def __init__(self, max_stall: float) -> None:
        self.backlog: int | None = 0
        self.events: list[str] = []
        self.resumed = asyncio.Event()
        self.flow = OutputFlow(
            high=100, low=50, max_stall=max_stall, backlog=lambda: self.backlog,
            pause=lambda: self.events.append("pause"), resume=self._resume,
            loop=asyncio.get_running_loop(),
        )

    def _resume(self) -> None:
        self.events.append("resume")
        self.resumed.set()


async def test_pauses_past_high_and_resumes_below_low() -> None:
    h = Harness(max_stall=60)
    h.backlog = 101
    h.flow.after_read()
    assert h.flow.paused
    assert h.events == ["pause"]
    h.backlog = 60
    h.flow.progress()
    assert h.flow.paused  # not yet below low
    h.backlog = 49
    h.flow.progress()
    assert not h.flow.paused
    assert h.events == ["pause", "resume"]


async def test_never_waits_without_a_connection() -> None:
    h = Harness(max_stall=60)
    h.backlog = None
    h.flow.after_read()
    assert h.events == []


async def test_zero_stall_turns_backpressure_off() -> None:
    h = Harness(max_stall=0)
    h.backlog = 10_000
    h.flow.after_read()
    assert h.events == []


async def test_a_stall_ends_after_the_bound_and_no_new_pause_until_caught_up() -> None:
    h = Harness(max_stall=0.01)
    h.backlog = 500
    h.flow.after_read()
    async with deadline(5):
        await h.resumed.wait()
    assert h.events == ["pause", "resume"]
    assert not h.flow.paused
    h.flow.after_read()  # still far behind: no second pause while overrun
    assert h.events == ["pause", "resume"]
    h.backlog = 10
    h.flow.progress()  # caught up
    h.backlog = 500
    h.flow.after_read()
    assert h.events == ["pause", "resume", "pause"]


async def test_a_lost_connection_resumes_reading() -> None:
    h = Harness(max_stall=60)
    h.backlog = 500
    h.flow.after_read()
    h.backlog = None
    h.flow.progress()
    assert h.events == ["pause", "resume"]


async def test_close_resumes_a_paused_reader() -> None:
    h = Harness(max_stall=60)
    h.backlog = 500
    h.flow.after_read()
    h.flow.close()
    assert h.events == ["pause", "resume"]
    assert not h.flow.paused
