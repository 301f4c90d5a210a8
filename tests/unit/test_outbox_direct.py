"""The outbox's direct-write fast path keeps every frame, once, in order."""

from __future__ import annotations

import asyncio

from relay.handlers.outbox import Outbox
from relay.protocol import WireFrame
from tests.timing import deadline
from tests.unit.fakes import FakeTransport


class DirectFake(FakeTransport):
    """A transport that takes frames synchronously while ``accept`` is True; ``entered``
    is set once the writer task is inside :meth:`send`."""

    def __init__(self) -> None:
        super().__init__()
        self.accept = True
        self.direct: list[WireFrame] = []
        self.entered = asyncio.Event()

    async def send(self, frame: WireFrame) -> None:
        self.entered.set()
        await super().send(frame)

    def send_now(self, frame: WireFrame) -> bool:
        if not self.accept:
            return False
        self.direct.append(frame)
        self.sent.append(frame)
        self.sent_event.set()
        return True


async def _until_sent(transport: FakeTransport, n: int) -> None:
    async with deadline(2):
        while len(transport.sent) < n:
            transport.sent_event.clear()
            await transport.sent_event.wait()


async def test_an_idle_outbox_writes_at_once_without_queueing() -> None:
    transport = DirectFake()
    box = Outbox(transport, limit=1000)
    box.start()
    box.send_text("echo")
    box.send_bytes(b"\x01out")
    assert transport.direct == ["echo", b"\x01out"]
    assert box.queued_bytes == 0


async def test_a_refused_direct_write_queues_and_later_frames_wait_behind_it() -> None:
    transport = DirectFake()
    box = Outbox(transport, limit=1000)
    box.start()
    transport.accept = False
    box.send_text("a")  # the socket is busy: queued
    transport.accept = True
    box.send_text("b")  # must not overtake "a"
    box.send_text("c")
    await _until_sent(transport, 3)
    assert transport.sent == ["a", "b", "c"]
    assert transport.direct == []


async def test_frames_never_overtake_one_the_writer_is_still_sending() -> None:
    transport = DirectFake()
    box = Outbox(transport, limit=1000)
    box.start()
    transport.accept = False
    transport.gate.clear()  # the writer's send will block (a peer that does not read)
    box.send_text("1")
    async with deadline(2):
        await transport.entered.wait()  # the writer took "1" and waits in send()
    assert transport.sent == []
    transport.accept = True
    box.send_text("2")  # the socket would take it, but "1" is still being written
    transport.gate.set()
    await _until_sent(transport, 2)
    assert transport.sent == ["1", "2"]
    assert transport.direct == []


async def test_nothing_is_written_directly_after_close() -> None:
    transport = DirectFake()
    box = Outbox(transport, limit=1000)
    box.start()
    box.close(1000, "")
    box.send_text("late")
    await box.wait_closed()
    assert transport.direct == []
