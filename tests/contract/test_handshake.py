"""Contract sections 2-3: authentication, roles per endpoint, close codes, origin check."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import WSServerHandshakeError

from tests.conftest import hello
from tests.timing import scaled


async def test_agent_token_in_the_hello_is_accepted(relay: Any, connect_agent: Any) -> None:
    agent = await connect_agent(relay, "a1")
    # max_message_bytes: a 1.1 addition (docs/protocol.md), the relay's --max-message-bytes.
    assert agent.welcome == {"type": "agent:welcome", "agent_id": "a1", "resume_from": 0,
                             "max_message_bytes": 1 << 20}


async def test_token_in_the_authorization_header_is_accepted(
    relay: Any, open_ws: Any, make_token: Any
) -> None:
    ws = await open_ws(relay, "/ws/dashboard",
                       headers={"Authorization": f"Bearer {make_token('viewer')}"})
    await ws.send("dashboard:connect", protocol=1)
    connected = await ws.expect("dashboard:connected")
    assert (connected["sub"], connected["role"], connected["protocol"]) == ("alice", "viewer", 1)


async def test_the_messages_token_wins_over_the_headers(
    relay: Any, open_ws: Any, make_token: Any
) -> None:
    ws = await open_ws(relay, "/ws/dashboard",
                       headers={"Authorization": f"Bearer {make_token('admin', sub='hdr')}"})
    await ws.send("dashboard:connect", protocol=1, token=make_token("viewer", sub="msg"))
    connected = await ws.expect("dashboard:connected")
    assert (connected["sub"], connected["role"]) == ("msg", "viewer")


async def test_no_token_closes_4401(relay: Any, open_ws: Any) -> None:
    ws = await open_ws(relay, "/ws/dashboard")
    await ws.send("dashboard:connect", protocol=1)
    assert await ws.closed() == 4401


async def test_a_token_in_the_query_string_is_ignored(
    relay: Any, make_token: Any
) -> None:
    ws = await relay.ws_connect(f"/ws/dashboard?token={make_token('admin')}")
    await ws.send_json({"type": "dashboard:connect", "protocol": 1})
    msg = await ws.receive(timeout=scaled(5))
    assert (msg.type.name, ws.close_code) == ("CLOSE", 4401)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
async def test_malformed_token_closes_4401(relay: Any, open_ws: Any, token: str) -> None:
    ws = await open_ws(relay, "/ws/dashboard")
    await ws.send("dashboard:connect", protocol=1, token=token)
    assert await ws.closed() == 4401


async def test_expired_token_closes_4401(relay: Any, open_ws: Any, make_token: Any) -> None:
    ws = await open_ws(relay, "/ws/agent")
    await ws.send("agent:hello", token=make_token("agent", sub="a1", ttl=-30), **hello("a1"))
    assert await ws.closed() == 4401


async def test_no_hello_within_the_deadline_closes_4408(make_relay: Any, open_ws: Any) -> None:
    relay = await make_relay(hello_timeout=0.2)
    ws = await open_ws(relay, "/ws/agent")
    assert await ws.closed() == 4408


@pytest.mark.parametrize(
    ("path", "first"),
    [
        ("/ws/agent", {"type": "heartbeat", "ts": 1}),
        ("/ws/dashboard", {"type": "subscribe", "agent_id": "a1"}),
        ("/ws/dashboard", {"type": "nonsense"}),
        ("/ws/dashboard", "not json"),
        ("/ws/agent", {"type": "agent:hello", "protocol": 1, "agent_id": "-bad-"}),
    ],
)
async def test_a_wrong_first_message_closes_4400(
    relay: Any, open_ws: Any, path: str, first: Any
) -> None:
    ws = await open_ws(relay, path)
    if isinstance(first, str):
        await ws.send_text(first)
    else:
        await ws.send(first.pop("type"), **first)
    assert await ws.closed() == 4400


async def test_a_binary_first_message_closes_4400(relay: Any, open_ws: Any) -> None:
    ws = await open_ws(relay, "/ws/dashboard")
    await ws.send_bytes(b"\x01\x02")
    assert await ws.closed() == 4400


@pytest.mark.parametrize("path", ["/ws/agent", "/ws/dashboard"])
async def test_an_unsupported_protocol_closes_4400(
    relay: Any, open_ws: Any, make_token: Any, path: str
) -> None:
    ws = await open_ws(relay, path)
    if path == "/ws/agent":
        await ws.send("agent:hello", token=make_token("agent", sub="a1"),
                      **hello("a1", protocol=2))
    else:
        await ws.send("dashboard:connect", protocol=2, token=make_token("viewer"))
    assert await ws.closed() == 4400


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
async def test_dashboard_roles_may_not_connect_as_agents(
    relay: Any, open_ws: Any, make_token: Any, role: str
) -> None:
    ws = await open_ws(relay, "/ws/agent")
    await ws.send("agent:hello", token=make_token(role, sub="a1"), **hello("a1"))
    assert await ws.closed() == 4403


async def test_the_agent_role_may_not_connect_as_a_dashboard(
    relay: Any, open_ws: Any, make_token: Any
) -> None:
    ws = await open_ws(relay, "/ws/dashboard")
    await ws.send("dashboard:connect", protocol=1, token=make_token("agent", sub="a1"))
    assert await ws.closed() == 4403


async def test_an_agent_token_without_agents_registers_only_as_its_sub(
    relay: Any, open_ws: Any, make_token: Any
) -> None:
    ws = await open_ws(relay, "/ws/agent")
    await ws.send("agent:hello", token=make_token("agent", sub="a1"), **hello("a2"))
    assert await ws.closed() == 4403


async def test_an_agent_token_registers_as_any_id_its_agents_allow(
    relay: Any, connect_agent: Any, make_token: Any
) -> None:
    token = make_token("agent", sub="host1", agents=["host1:*"])
    agent = await connect_agent(relay, "host1:build", token=token)
    assert agent.welcome["agent_id"] == "host1:build"


async def test_an_agent_id_outside_the_tokens_agents_closes_4403(
    relay: Any, open_ws: Any, make_token: Any
) -> None:
    ws = await open_ws(relay, "/ws/agent")
    token = make_token("agent", sub="host1", agents=["host1:*"])
    await ws.send("agent:hello", token=token, **hello("host2:build"))
    assert await ws.closed() == 4403


async def test_too_many_connections_for_one_sub_closes_4429(
    make_relay: Any, connect_dashboard: Any, open_ws: Any, make_token: Any
) -> None:
    relay = await make_relay(max_connections_per_identity=2)
    await connect_dashboard(relay, sub="bob")
    await connect_dashboard(relay, sub="bob")
    third = await open_ws(relay, "/ws/dashboard")
    await third.send("dashboard:connect", protocol=1, token=make_token("viewer", sub="bob"))
    assert await third.closed() == 4429


async def test_a_closed_connection_frees_its_identity_slot(
    make_relay: Any, connect_dashboard: Any
) -> None:
    relay = await make_relay(max_connections_per_identity=1)
    first = await connect_dashboard(relay, sub="bob")
    await first.close()  # returns once the relay answered the close
    second = await connect_dashboard(relay, sub="bob")
    assert second.connected["type"] == "dashboard:connected"


async def test_a_message_over_max_message_bytes_closes_1009(
    make_relay: Any, connect_agent: Any
) -> None:
    relay = await make_relay(max_message_bytes=1024)
    agent = await connect_agent(relay, "a1")
    await agent.output("a1", 0, b"x" * 2000)
    assert await agent.closed() == 1009


async def test_a_second_connection_with_the_same_agent_id_closes_the_first_4409(
    relay: Any, connect_agent: Any
) -> None:
    first = await connect_agent(relay, "a1")
    await connect_agent(relay, "a1")
    assert await first.closed() == 4409


# ------------------------------------------------------------------ origin check


async def _upgrade(relay: Any, origin: str | None) -> int:
    headers = {} if origin is None else {"Origin": origin}
    try:
        ws = await relay.ws_connect("/ws/dashboard", headers=headers)
    except WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


async def test_an_upgrade_without_origin_is_accepted(relay: Any) -> None:
    assert await _upgrade(relay, None) == 101


async def test_the_relays_own_origin_is_accepted(relay: Any) -> None:
    assert await _upgrade(relay, f"http://{relay.host}:{relay.port}") == 101


async def test_a_foreign_origin_gets_403_and_no_upgrade(relay: Any) -> None:
    assert await _upgrade(relay, "https://evil.example") == 403


async def test_a_null_origin_gets_403(relay: Any) -> None:
    assert await _upgrade(relay, "null") == 403


async def test_an_allowed_origin_is_accepted(make_relay: Any) -> None:
    relay = await make_relay(allowed_origins=("https://dash.example",))
    assert await _upgrade(relay, "https://dash.example") == 101


async def test_the_public_url_origin_is_accepted(make_relay: Any) -> None:
    relay = await make_relay(public_url="https://relay.example/base/")
    assert await _upgrade(relay, "https://relay.example") == 101


async def test_the_agent_endpoint_checks_the_origin_too(relay: Any) -> None:
    with pytest.raises(WSServerHandshakeError) as info:
        await relay.ws_connect("/ws/agent", headers={"Origin": "https://evil.example"})
    assert info.value.status == 403
