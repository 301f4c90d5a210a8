"""Fan-out isolation: a stalled dashboard and a flood of bad frames change nothing for
anyone else; every byte reaches every subscriber exactly once, in order."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from relay.appkeys import CONNECTIONS
from tests.timing import deadline
from tests.wsclient import output_bytes

CHUNK = 16 * 1024


def _chunk(i: int) -> bytes:
    return (f"{i:08d}" * (CHUNK // 8)).encode()


def _cut_off(relay: Any) -> bool:
    """Whether the relay has closed some connection as a slow consumer."""
    return any(o.close_code == 4503 for o in relay.app[CONNECTIONS]._open)


async def test_a_stalled_dashboard_is_closed_4503_while_a_fast_one_gets_every_byte(
    make_relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    relay = await make_relay(slow_consumer_bytes=256 * 1024, scrollback_bytes=64 * 1024 * 1024,
                             shutdown_timeout=30.0)
    agent = await connect_agent(relay, "a1")
    fast = await connect_dashboard(relay, sub="fast")
    stalled = await connect_dashboard(relay, sub="stalled")
    for dash in (fast, stalled):
        await dash.send("subscribe", agent_id="a1")
        await dash.wait_for("subscribed")
    fast.timeout = 30.0

    expected = bytearray()
    got = bytearray()
    progress = asyncio.Event()

    async def read_fast() -> None:
        while True:
            msg = await fast.wait_for("terminal:output")
            assert msg["offset"] == len(got), "a gap or a duplicate"
            got.extend(output_bytes(msg))
            progress.set()

    reader = asyncio.create_task(read_fast())
    worst_rtt = 0.0
    i = 0
    while not _cut_off(relay):
        assert i < 4000, "the stalled dashboard was never cut off"
        data = _chunk(i)
        await agent.output("a1", len(expected), data)
        expected += data
        i += 1
        if i % 16 == 0:  # the agent's own round trip stays fast while the other stalls
            started = time.monotonic()
            await agent.send("heartbeat", ts=i)
            await agent.wait_for("heartbeat")
            worst_rtt = max(worst_rtt, time.monotonic() - started)
    # The agent carries on after the cut; the fast dashboard still gets everything.
    for _ in range(8):
        data = _chunk(i)
        await agent.output("a1", len(expected), data)
        expected += data
        i += 1
    async with deadline(30):
        while len(got) < len(expected) and not reader.done():
            progress.clear()
            waiter = asyncio.ensure_future(progress.wait())
            await asyncio.wait([reader, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
    if reader.done():
        reader.result()  # re-raise what went wrong in the reader
    reader.cancel()
    assert got == expected
    assert worst_rtt < 1.0
    stalled.timeout = 30.0
    assert await stalled.closed() == 4503


async def test_a_thousand_bad_frames_do_not_disturb_another_dashboards_stream(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    good = await connect_dashboard(relay, sub="good")
    bad = await connect_dashboard(relay, sub="bad")
    await good.send("subscribe", agent_id="a1")
    await good.wait_for("subscribed")
    bad_frames = ["{", "[]", '{"type": 1}', '{"type": "x"}', '{"type": "subscribe"}']
    expected = bytearray()

    async def flood() -> None:
        for n in range(1000):
            await bad.send_text(bad_frames[n % len(bad_frames)])
        await bad.send("heartbeat", ts="done")

    async def produce() -> None:
        for n in range(200):
            data = f"line {n}\r\n".encode()
            await agent.output("a1", len(expected), data)
            expected.extend(data)

    await asyncio.gather(flood(), produce())
    errors = 0
    while (msg := await bad.recv())["type"] != "heartbeat":
        assert msg["type"] == "error"
        errors += 1
    assert errors == 1000
    assert await good.read_output("a1", 0, len(expected)) == bytes(expected)


async def test_many_subscribers_each_get_the_stream_exactly_once(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.output("a1", 0, b"history|")
    await agent.send("heartbeat", ts=0)
    await agent.wait_for("heartbeat")
    dashes = [await connect_dashboard(relay, sub=f"d{n}", binary=n % 2 == 1) for n in range(6)]
    expected = bytearray(b"history|")

    async def produce() -> None:
        for n in range(300):
            data = f"<{n}>".encode()
            await agent.output("a1", len(expected), data)
            expected.extend(data)

    async def subscribe_all() -> None:
        for dash in dashes:
            await dash.send("subscribe", agent_id="a1", since=0)

    await asyncio.gather(produce(), subscribe_all())
    for dash in dashes:
        assert (await dash.wait_for("subscribed"))["from"] == 0
        assert await dash.read_output("a1", 0, len(expected)) == bytes(expected)
