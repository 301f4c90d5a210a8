"""Issue 11, items 4-6: look-alike agent ids, offsets past 2^63-1, and malformed ``exp``
claims are refused as malformed, on a real relay."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from relay.protocol import encode_binary_output
from tests.conftest import SECRET, hello

LOOK_ALIKES = ["ab-1\n", "ab-1\r\n", "\nab-1"]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _sync(agent: Any) -> None:
    await agent.send("heartbeat", ts="sync")
    await agent.wait_for("heartbeat")


# --------------------------------------------------------------------------- item 4


@pytest.mark.parametrize("agent_id", LOOK_ALIKES)
async def test_a_look_alike_agent_id_in_the_hello_closes_4400(
    relay: Any, open_ws: Any, make_token: Any, agent_id: str
) -> None:
    ws = await open_ws(relay, "/ws/agent")
    token = make_token("agent", sub="ab-1", agents=["ab-*"])
    await ws.send("agent:hello", token=token, **hello(agent_id))
    assert await ws.closed() == 4400


async def test_a_look_alike_agent_id_is_never_listed(
    relay: Any, open_ws: Any, connect_agent: Any, make_token: Any
) -> None:
    await connect_agent(relay, "ab-1")
    ws = await open_ws(relay, "/ws/agent")
    await ws.send("agent:hello", token=make_token("agent", sub="x", agents=["*"]),
                  **hello("ab-1\n"))
    assert await ws.closed() == 4400
    resp = await relay.get("/api/agents", headers=_auth(make_token("viewer")))
    assert [a["agent_id"] for a in (await resp.json())["agents"]] == ["ab-1"]


@pytest.mark.parametrize("suffix", ["", "/output"])
async def test_a_look_alike_agent_id_in_a_rest_path_is_400(
    relay: Any, connect_agent: Any, make_token: Any, suffix: str
) -> None:
    await connect_agent(relay, "ab-1")
    resp = await relay.get(f"/api/agents/ab-1%0A{suffix}", headers=_auth(make_token("viewer")))
    assert (resp.status, (await resp.json())["error"]) == (400, "invalid_message")


async def test_a_look_alike_id_in_a_subscribe_is_invalid_message(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    await connect_agent(relay, "ab-1")
    dash = await connect_dashboard(relay, agents=["ab-*"])
    await dash.send("subscribe", agent_id="ab-1\n")
    assert (await dash.expect("error"))["code"] == "invalid_message"


async def test_a_binary_frame_with_a_look_alike_id_is_invalid_message(
    relay: Any, connect_agent: Any
) -> None:
    agent = await connect_agent(relay, "ab-1")
    aid = b"ab-1\n"
    await agent.send_bytes(b"\x01" + bytes([len(aid)]) + aid + bytes(8) + b"x")
    assert (await agent.expect("error"))["code"] == "invalid_message"


# --------------------------------------------------------------------------- item 5


@pytest.mark.parametrize("offset", [2**63, 2**64 - 1])
async def test_a_binary_offset_past_2_63_is_refused_and_later_output_flows(
    relay: Any, connect_agent: Any, connect_dashboard: Any, offset: int
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1")
    await dash.wait_for("subscribed")
    aid = b"a1"
    await agent.send_bytes(b"\x01\x02" + aid + offset.to_bytes(8, "big") + b"evil")
    assert (await agent.expect("error"))["code"] == "invalid_message"
    await agent.send_bytes(encode_binary_output("a1", 0, b"fine"))
    assert await dash.read_output("a1", 0, 4) == b"fine"


async def test_a_json_offset_of_2_63_is_invalid_message(relay: Any, connect_agent: Any) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.send("terminal:output", agent_id="a1", offset=2**63, data="x")
    assert (await agent.expect("error"))["code"] == "invalid_message"
    await _sync(agent)


# --------------------------------------------------------------------------- item 6


def _signed(**claims: Any) -> str:
    payload = {"sub": "ab-1", "role": "agent", "aud": "agent-relay", **claims}
    return jwt.encode(payload, SECRET, algorithm="HS256")


BAD_EXPS: list[Any] = [10**400, str(int(time.time()) + 600), True, [1], 1e300]


@pytest.mark.parametrize("exp", BAD_EXPS, ids=["huge", "numeric-string", "bool", "list", "1e300"])
async def test_a_malformed_exp_closes_4401(relay: Any, open_ws: Any, exp: Any) -> None:
    ws = await open_ws(relay, "/ws/agent")
    await ws.send("agent:hello", token=_signed(exp=exp), **hello("ab-1"))
    assert await ws.closed() == 4401


@pytest.mark.parametrize("exp", BAD_EXPS, ids=["huge", "numeric-string", "bool", "list", "1e300"])
async def test_a_malformed_exp_is_401_on_rest(relay: Any, exp: Any) -> None:
    token = _signed(exp=exp, role="viewer")
    resp = await relay.get("/api/agents", headers=_auth(token))
    assert (resp.status, (await resp.json())["error"]) == (401, "unauthenticated")


async def test_an_exp_of_infinity_is_401(relay: Any) -> None:
    # json.dumps writes Infinity, which Python's json (and so pyjwt) reads back as inf.
    resp = await relay.get("/api/agents", headers=_auth(_signed(exp=float("inf"))))
    assert resp.status == 401


# --------------------------------------------------------------------------- item 3


async def test_a_frame_of_exactly_max_message_bytes_is_accepted_one_more_is_1009(
    make_relay: Any, connect_agent: Any
) -> None:
    relay = await make_relay(max_message_bytes=4096)
    agent = await connect_agent(relay, "a1")
    assert agent.welcome["max_message_bytes"] == 4096
    header = len(encode_binary_output("a1", 0, b""))
    await agent.send_bytes(encode_binary_output("a1", 0, b"x" * (4096 - header)))
    await _sync(agent)
    await agent.send_bytes(encode_binary_output("a1", 0, b"x" * (4097 - header)))
    assert await agent.closed() == 1009
