"""The in-process connection's pipe: order, close, bounded queue, timeouts."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import WSMessage, WSMsgType

from relay.handlers.pipe import LIMIT, Pipe
from tests.timing import deadline


async def test_frames_arrive_in_order_with_their_kind_and_exact_bytes() -> None:
    pipe = Pipe()
    raw = bytes(range(256)) * 3
    await pipe.agent.send_str('{"type":"heartbeat","ts":1.0}')
    await pipe.agent.send_bytes(raw)
    assert pipe.relay.send_now("back")
    first = await pipe.relay.receive()
    second = await pipe.relay.receive()
    assert (first.type, first.data) == (WSMsgType.TEXT, '{"type":"heartbeat","ts":1.0}')
    assert (second.type, second.data) == (WSMsgType.BINARY, raw)
    back = await pipe.agent.receive()
    assert (back.type, back.data) == (WSMsgType.TEXT, "back")


async def test_a_close_reaches_the_other_end_with_its_code_and_is_answered() -> None:
    pipe = Pipe()
    await pipe.relay.close(code=4409, message=b"replaced")
    assert pipe.relay.closed
    msg = await pipe.agent.receive()
    assert (msg.type, msg.data, msg.extra) == (WSMsgType.CLOSE, 4409, "replaced")
    assert pipe.agent.close_code == 4409
    assert pipe.agent.closed  # answered, like a WebSocket
    assert (await pipe.agent.receive()).type is WSMsgType.CLOSED
    answer = await pipe.relay.receive()
    assert answer.type is WSMsgType.CLOSE
    assert not pipe.relay.send_now("late")
    with pytest.raises(ConnectionResetError):
        await pipe.relay.send_str("late")


async def test_a_sender_waits_while_the_reader_is_a_limit_behind() -> None:
    pipe = Pipe()
    chunk = b"x" * (LIMIT // 4)
    for _ in range(4):
        await pipe.agent.send_bytes(chunk)  # up to the limit: no wait
    blocked = asyncio.ensure_future(pipe.agent.send_bytes(chunk))
    await asyncio.sleep(0)
    assert not blocked.done()
    assert not pipe.agent.send_now(b"small")  # full: the caller takes the slow path
    for _ in range(3):
        await pipe.relay.receive()
    async with deadline(5):
        await blocked


async def test_receive_times_out_like_a_websocket() -> None:
    pipe = Pipe()
    with pytest.raises(TimeoutError):
        await pipe.agent.receive(timeout=0.01)


async def test_a_receive_that_timed_out_or_was_cancelled_leaves_the_pipe_working() -> None:
    pipe = Pipe()
    with pytest.raises(TimeoutError):
        await pipe.agent.receive(timeout=0.01)
    waiting = asyncio.ensure_future(pipe.agent.receive())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    late = asyncio.ensure_future(pipe.agent.receive(timeout=0.05))
    await asyncio.sleep(0)
    assert pipe.relay.send_now("after")
    msg = await late
    assert (msg.type, msg.data) == (WSMsgType.TEXT, "after")
    # The timer of the receive that got its frame is gone: nothing fires after it.
    await asyncio.sleep(0.1)
    assert pipe.relay.send_now("next")
    assert (await pipe.agent.receive(timeout=0.05)).data == "next"


class Taker:
    """A direct handler that keeps what it takes; ``kinds`` are the frame types it takes."""

    def __init__(self, *kinds: type) -> None:
        self.kinds = kinds or (str, bytes)
        self.taken: list[str | bytes] = []

    def __call__(self, frame: str | bytes) -> bool:
        if not isinstance(frame, self.kinds):
            return False
        self.taken.append(frame)
        return True


async def _parked(end_receive: asyncio.Future[WSMessage]) -> None:
    """Let a receive() just started reach its wait (one pass of the loop)."""
    await asyncio.sleep(0)
    assert not end_receive.done()


async def test_a_waiting_receiver_takes_frames_inside_the_senders_call() -> None:
    pipe = Pipe()
    taker = Taker()
    pipe.relay.take_directly(taker)
    waiting = asyncio.ensure_future(pipe.relay.receive())
    await _parked(waiting)
    assert pipe.agent.send_now(b"\x01echo")
    await pipe.agent.send_str("status")
    assert taker.taken == [b"\x01echo", "status"]  # before either call returned
    assert not waiting.done()  # nothing was queued for the loop
    pipe.relay.take_directly(None)
    assert pipe.agent.send_now("queued")
    msg = await waiting
    assert (msg.type, msg.data) == (WSMsgType.TEXT, "queued")


async def test_a_frame_behind_queued_ones_or_refused_by_the_handler_waits_its_turn() -> None:
    pipe = Pipe()
    taker = Taker(bytes)
    pipe.relay.take_directly(taker)
    assert pipe.agent.send_now(b"early")  # nobody waits yet: queued
    assert (await pipe.relay.receive()).data == b"early"
    waiting = asyncio.ensure_future(pipe.relay.receive())
    await _parked(waiting)
    assert pipe.agent.send_now("text")  # the handler leaves text to the loop
    assert pipe.agent.send_now(b"after")  # behind the text, not around it
    assert (await waiting).data == "text"
    assert (await pipe.relay.receive()).data == b"after"
    waiting = asyncio.ensure_future(pipe.relay.receive())
    await _parked(waiting)
    await pipe.agent.close(code=4000)  # a close is never taken directly
    assert (await waiting).type is WSMsgType.CLOSE
    assert taker.taken == []


async def test_what_a_handler_sends_over_its_own_pipe_is_queued_not_nested() -> None:
    pipe = Pipe()
    calls: list[str] = []

    def relay_takes(frame: str | bytes) -> bool:
        calls.append(f"relay {frame!r}")
        assert pipe.relay.send_now("answer")  # the agent waits too, but a handler runs
        return True

    pipe.relay.take_directly(relay_takes)
    agent_taker = Taker()
    pipe.agent.take_directly(agent_taker)
    agent_waiting = asyncio.ensure_future(pipe.agent.receive())
    relay_waiting = asyncio.ensure_future(pipe.relay.receive())
    await _parked(agent_waiting)
    assert pipe.agent.send_now(b"out")
    assert calls == ["relay b'out'"]
    assert agent_taker.taken == []
    assert (await agent_waiting).data == "answer"
    relay_waiting.cancel()


async def test_what_a_handler_raises_the_receive_raises() -> None:
    pipe = Pipe()

    def broken(frame: str | bytes) -> bool:
        raise ValueError("bad frame")

    pipe.agent.take_directly(broken)
    waiting = asyncio.ensure_future(pipe.agent.receive())
    await _parked(waiting)
    assert pipe.relay.send_now("x")  # the sender is not the one to see the error
    with pytest.raises(ValueError, match="bad frame"):
        await waiting


async def test_frames_taken_directly_count_as_received_for_the_timeout() -> None:
    pipe = Pipe()
    pipe.agent.take_directly(lambda frame: True)
    loop = asyncio.get_running_loop()
    taken_at: list[float] = []

    def send() -> None:
        taken_at.append(loop.time())
        assert pipe.relay.send_now("keepalive")

    waiting = asyncio.ensure_future(pipe.agent.receive(timeout=0.2))
    await _parked(waiting)
    loop.call_later(0.1, send)
    with pytest.raises(TimeoutError):
        await waiting
    # Without that frame the receive would have given up 0.2 s after it began.
    assert loop.time() >= taken_at[0] + 0.2
