"""Hypothesis: arbitrary frames against live connections never break the relay.

Every frame a dashboard or sidecar sends is answered (or ignored) without closing its
connection; afterwards a heartbeat still comes back and another dashboard's view of the
agent's stream is exact.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.app import create_app
from relay.auth import mint_token
from relay.config import RelayConfig
from relay.protocol import encode_binary_output
from tests.conftest import SECRET, hello
from tests.wsclient import WsPeer

DASHBOARD_TYPES = ["dashboard:connect", "subscribe", "unsubscribe", "command:request",
                   "terminal:input", "terminal:resize", "command:interrupt", "heartbeat",
                   "agent:hello", "nonsense"]
AGENT_TYPES = ["agent:hello", "terminal:output", "agent:status", "command:ack", "heartbeat",
               "subscribe", "zzz"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)
FIELDS = ["agent_id", "since", "request_id", "input", "data", "cols", "rows", "signal", "ts",
          "offset", "enc", "state", "ok", "protocol", "binary", "submit", "token"]


def _objects(types: list[str]) -> st.SearchStrategy[str]:
    fields = st.dictionaries(
        st.sampled_from(FIELDS),
        st.one_of(json_values, st.sampled_from(["a1", "zz", "", "SIGINT", "base64"])),
        max_size=6,
    )
    return st.builds(lambda t, f: json.dumps({**f, "type": t}), st.sampled_from(types), fields)


def frames(types: list[str]) -> st.SearchStrategy[str | bytes]:
    return st.one_of(
        _objects(types),
        st.text(max_size=40),
        st.binary(max_size=40),
        st.builds(lambda o, d: encode_binary_output("a1", o, d),
                  st.integers(0, 64), st.binary(max_size=16)),
    )


async def _send(peer: WsPeer, frame: str | bytes) -> None:
    if isinstance(frame, bytes):
        await peer.send_bytes(frame)
    else:
        await peer.send_text(frame)


async def _still_alive(peer: WsPeer, ts: str) -> None:
    await peer.send("heartbeat", ts=ts)
    await peer.wait_for("heartbeat", lambda m: m["ts"] == ts)


async def _fuzz(dash_frames: list[str | bytes], agent_frames: list[str | bytes]) -> None:
    config = RelayConfig(port=0, jwt_secret=SECRET, hello_timeout=1.0, shutdown_timeout=1.0)
    async with TestClient(TestServer(create_app(config))) as client:
        agent = WsPeer(await client.ws_connect("/ws/agent"))
        await agent.send("agent:hello", token=mint_token(SECRET, sub="a1", role="agent"),
                         **hello("a1"))
        await agent.expect("agent:welcome")
        await agent.output("a1", 0, b"before|")
        watcher = WsPeer(await client.ws_connect("/ws/dashboard"))
        await watcher.send("dashboard:connect", protocol=1,
                           token=mint_token(SECRET, sub="w", role="viewer"))
        await watcher.expect("dashboard:connected")
        await watcher.send("subscribe", agent_id="a1")
        fuzzer = WsPeer(await client.ws_connect("/ws/dashboard"))
        await fuzzer.send("dashboard:connect", protocol=1,
                          token=mint_token(SECRET, sub="f", role="admin"))
        await fuzzer.expect("dashboard:connected")
        for frame in dash_frames:
            await _send(fuzzer, frame)
        await _still_alive(fuzzer, "fuzzer-ok")
        for frame in agent_frames:
            await _send(agent, frame)
        await _still_alive(agent, "agent-ok")
        # The agent's fuzz may have moved its stream; whatever it holds now, the watcher
        # saw the beginning exactly, and sees a fresh chunk at the end.
        resp = await client.get("/api/agents/a1/output", headers={
            "Authorization": f"Bearer {mint_token(SECRET, sub='w', role='viewer')}"})
        end = int(resp.headers["X-Output-End"])
        await agent.output("a1", end, b"|after")
        last = await watcher.wait_for("terminal:output", lambda m: m["offset"] == end)
        assert last["data"] == "|after"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dash_frames=st.lists(frames(DASHBOARD_TYPES), max_size=25),
       agent_frames=st.lists(frames(AGENT_TYPES), max_size=15))
def test_arbitrary_frames_leave_every_connection_usable(
    dash_frames: list[str | bytes], agent_frames: list[str | bytes]
) -> None:
    asyncio.run(_fuzz(dash_frames, agent_frames))

