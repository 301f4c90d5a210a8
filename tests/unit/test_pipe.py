"""The in-process connection's pipe: order, close, bounded queue, timeouts."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import WSMsgType

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
