"""The outbox: order, replay, drop, slow-consumer close, close while blocked."""

from __future__ import annotations

import asyncio

from relay.handlers.outbox import Outbox
from tests.timing import deadline
from tests.unit.fakes import FakeTransport


async def _until_sent(transport: FakeTransport, n: int) -> None:
    async with deadline(2):
        while len(transport.sent) < n:
            transport.sent_event.clear()
            await transport.sent_event.wait()


async def test_frames_are_written_in_order() -> None:
    transport = FakeTransport()
    box = Outbox(transport, limit=1000)
    box.start()
    box.send_text("a")
    box.send_bytes(b"b")
    box.send_text("c")
    await _until_sent(transport, 3)
    assert transport.sent == ["a", b"b", "c"]


async def test_a_replay_is_written_before_later_frames() -> None:
    transport = FakeTransport()
    box = Outbox(transport, limit=1000)
    box.send_replay("a1", iter(["r1", "r2"]))
    box.send_text("live", agent_id="a1")
    box.start()
    await _until_sent(transport, 3)
    assert transport.sent == ["r1", "r2", "live"]


async def test_drop_discards_only_that_agents_frames() -> None:
    transport = FakeTransport()
    box = Outbox(transport, limit=1000)
    box.send_text("x", agent_id="a1")
    box.send_replay("a1", iter(["r"]))
    box.send_text("y", agent_id="b1")
    box.send_text("z")
    box.drop("a1")
    assert box.queued_bytes == 2
    box.start()
    await _until_sent(transport, 2)
    assert transport.sent == ["y", "z"]


async def test_passing_the_limit_closes_with_4503() -> None:
    transport = FakeTransport()
    transport.gate.clear()  # the peer reads nothing
    box = Outbox(transport, limit=10)
    box.start()
    box.send_text("12345")
    await _until_blocked(box)
    box.send_text("123456")
    box.send_text("123456")
    assert box.close_code == 4503
    async with deadline(2):
        await box.wait_closed()
    assert transport.closed_with is not None
    assert transport.closed_with[0] == 4503


async def _until_blocked(box: Outbox) -> None:
    async with deadline(2):
        while box.queued_bytes:
            await asyncio.sleep(0)


async def test_replays_do_not_count_against_the_limit() -> None:
    box = Outbox(FakeTransport(), limit=3)
    box.send_replay("a1", iter(["x" * 100]))
    assert not box.closed
    assert box.queued_bytes == 0


async def test_sends_after_close_are_ignored() -> None:
    transport = FakeTransport()
    box = Outbox(transport, limit=100)
    box.start()
    box.close(1000, "bye")
    box.send_text("late")
    await box.wait_closed()
    assert transport.sent == []
    assert transport.closed_with == (1000, "bye")


async def test_the_first_close_code_wins() -> None:
    transport = FakeTransport()
    box = Outbox(transport, limit=100)
    box.start()
    box.close(4409, "replaced")
    box.close(1000, "")
    await box.wait_closed()
    assert transport.closed_with == (4409, "replaced")
