"""Token expiry on established connections: a dashboard is closed with 4401 at its
token's ``exp``; a sidecar is not (its token is checked again on every reconnect).

The expiry itself is the event these tests wait for (a close frame under a timeout);
nothing sleeps. Tokens live 2 s (``exp`` is whole seconds, so 1-2 s from now).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import WSMsgType

from relay.auth import mint_token
from relay.protocol import Role
from tests.conftest import SECRET
from tests.timing import deadline
from tests.wsclient import WsPeer

SHORT_TTL = 2
#: A close must not come before ``exp``; allow for timer and clock granularity.
CLOCK_SLACK = 0.05


def _short_token(role: Role, sub: str, now: float) -> tuple[str, float]:
    """A token that expires 1-2 s after ``now``, and its ``exp``."""
    token = mint_token(SECRET, sub=sub, role=role, ttl=SHORT_TTL, now=now)
    return token, float(int(now + SHORT_TTL))


async def _close_of(peer: WsPeer, timeout: float = 5.0) -> tuple[int | None, str]:
    """Read (discarding output) until the relay closes; its close code and reason."""
    async with deadline(timeout):
        while True:
            msg = await peer.ws.receive()
            if msg.type is WSMsgType.CLOSE:
                return peer.ws.close_code, str(msg.extra or "")
            if msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return peer.ws.close_code, ""


async def test_a_dashboard_is_closed_4401_when_its_token_expires(
    relay: Any, connect_agent: Any, connect_dashboard: Any, make_token: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.output("a1", 0, b"before ")
    steady = await connect_dashboard(relay, sub="steady")
    await steady.send("subscribe", agent_id="a1")
    await steady.expect("subscribed")
    assert await steady.read_output("a1", 0, 7) == b"before "

    short_token, exp = _short_token("viewer", "short", time.time())
    short = await connect_dashboard(relay, token=short_token)
    await short.send("subscribe", agent_id="a1")
    await short.expect("subscribed")
    assert await short.read_output("a1", 0, 7) == b"before "

    code, reason = await _close_of(short)
    assert (code, reason) == (4401, "token expired")
    assert time.time() >= exp - CLOCK_SLACK

    # The relay, the agent and the other dashboard go on as before.
    await agent.output("a1", 7, b"after")
    assert await steady.read_output("a1", 7, 12) == b"after"
    await agent.send("heartbeat", ts="still-here")
    assert (await agent.wait_for("heartbeat"))["ts"] == "still-here"
    await steady.send("heartbeat", ts=2)
    assert (await steady.wait_for("heartbeat"))["ts"] == 2


async def test_an_agent_is_not_closed_when_its_token_expires(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    now = time.time()
    agent_token, exp = _short_token("agent", "a1", now)
    # A dashboard token with the same exp: its 4401 marks the moment of expiry.
    marker_token, _ = _short_token("viewer", "marker", now)
    agent = await connect_agent(relay, "a1", token=agent_token)
    marker = await connect_dashboard(relay, token=marker_token)
    watcher = await connect_dashboard(relay, sub="watcher")
    await watcher.send("subscribe", agent_id="a1")
    await watcher.expect("subscribed")

    assert (await _close_of(marker))[0] == 4401
    assert time.time() >= exp - CLOCK_SLACK

    await agent.send("heartbeat", ts="after-exp")
    assert (await agent.wait_for("heartbeat"))["ts"] == "after-exp"
    await agent.output("a1", 0, b"still streaming")
    assert await watcher.read_output("a1", 0, 15) == b"still streaming"
    assert not agent.ws.closed
