"""Contract section 10: three relays on one Redis act as one relay.

The agent is on relay 0; dashboards are on relays 1 and 2. Everything a dashboard does
on a single relay works the same wherever the agent is.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.redis


def _chunks(n: int, start: int) -> list[tuple[int, bytes]]:
    out = []
    pos = start
    for i in range(n):
        data = f"line {i} \u00e9\x1b[0m\n".encode()
        out.append((pos, data))
        pos += len(data)
    return out


async def test_a_dashboard_on_another_relay_sees_the_agent_in_list_events_and_rest(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any, make_token: Any
) -> None:
    a, b, c = await make_fleet(3)
    watcher = await connect_dashboard(c)
    await connect_agent(a, "a1")
    event = await watcher.wait_for("agent:status", lambda m: m["agent"]["agent_id"] == "a1")
    assert event["agent"]["state"] == "running"
    dash = await connect_dashboard(b)
    assert [i["agent_id"] for i in dash.connected["agents"]] == ["a1"]
    headers = {"Authorization": f"Bearer {make_token('viewer')}"}
    resp = await c.get("/api/agents", headers=headers)
    assert [i["agent_id"] for i in (await resp.json())["agents"]] == ["a1"]
    resp = await b.get("/api/agents/a1", headers=headers)
    assert (await resp.json())["state"] == "running"
    resp = await b.get("/api/agents/nope", headers=headers)
    assert resp.status == 404


async def test_replay_and_live_output_arrive_exactly_once_in_order_across_relays(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any, make_token: Any
) -> None:
    a, b, c = await make_fleet(3)
    agent = await connect_agent(a, "a1")
    first = _chunks(10, 0)
    for offset, data in first:
        await agent.output("a1", offset, data)
    dash = await connect_dashboard(b)
    binary = await connect_dashboard(c, binary=True)
    for peer in (dash, binary):
        await peer.send("subscribe", agent_id="a1")
        subscribed = await peer.wait_for("subscribed")
        assert subscribed["from"] == 0
    pos = first[-1][0] + len(first[-1][1])
    more = _chunks(200, pos)
    for offset, data in more:
        await agent.output("a1", offset, data)
        await agent.output("a1", offset, data)  # a resend must not double bytes
        await agent.output("a1", offset + 2, data[2:])  # nor an overlapping tail
    expected = b"".join(d for _o, d in first + more)
    for peer in (dash, binary):
        assert await peer.read_output("a1", 0, len(expected)) == expected
    resp = await c.get("/api/agents/a1/output",
                       headers={"Authorization": f"Bearer {make_token('viewer')}"})
    assert await resp.read() == expected
    assert resp.headers["X-Output-End"] == str(len(expected))


async def test_control_reaches_the_agent_on_another_relay_and_acks_come_back(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    a, b, c = await make_fleet(3)
    agent = await connect_agent(a, "a1")
    one = await connect_dashboard(b, sub="one")
    two = await connect_dashboard(c, sub="two")
    await one.send("terminal:resize", agent_id="a1", cols=100, rows=30)
    assert await agent.expect("terminal:resize") == {
        "type": "terminal:resize", "cols": 100, "rows": 30}
    await one.send("command:request", agent_id="a1", request_id="same", input="from one")
    first = await agent.expect("command:request")
    await two.send("command:request", agent_id="a1", request_id="same", input="from two")
    second = await agent.expect("command:request")
    assert "agent_id" not in first
    assert (first["input"], second["input"]) == ("from one", "from two")
    assert first["request_id"] != second["request_id"]
    await agent.send("command:ack", request_id=second["request_id"], ok=False, error="two")
    await agent.send("command:ack", request_id=first["request_id"], ok=True)
    assert await one.wait_for("command:ack") == {
        "type": "command:ack", "agent_id": "a1", "request_id": "same", "ok": True}
    ack_two = await two.wait_for("command:ack")
    assert (ack_two["request_id"], ack_two["ok"], ack_two["error"]) == ("same", False, "two")
    for dash in (one, two):  # exactly one ack each: the heartbeat echo comes next
        await dash.send("heartbeat", ts=7)
        assert (await dash.expect("heartbeat"))["ts"] == 7


async def test_unknown_and_offline_agents_are_answered_at_once_on_any_relay(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    a, b = await make_fleet(2)
    agent = await connect_agent(a, "a1")
    dash = await connect_dashboard(b)
    await dash.send("command:request", agent_id="ghost", request_id="r0", input="x")
    assert (await dash.error())["code"] == "unknown_agent"
    await agent.close()
    await dash.wait_for("agent:status", lambda m: m["agent"]["state"] == "disconnected")
    await dash.send("command:request", agent_id="a1", request_id="r1", input="x")
    error = await dash.error()
    assert (error["code"], error["ref"]) == ("agent_offline", "r1")


async def test_a_disconnect_before_the_ack_answers_the_remote_requester_ok_false(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    a, b = await make_fleet(2)
    agent = await connect_agent(a, "a1")
    dash = await connect_dashboard(b)
    await dash.send("command:interrupt", agent_id="a1", request_id="i1")
    await agent.expect("command:interrupt")
    await agent.close()
    ack = await dash.wait_for("command:ack")
    assert (ack["request_id"], ack["ok"]) == ("i1", False)
    assert ack["error"]
    await dash.send("heartbeat", ts=1)
    # Exactly one ack: the relay that held the agent and the dashboard's relay both
    # notice the disconnect, only one answers. Skip status events up to the echo.
    while (msg := await dash.recv())["type"] != "heartbeat":
        assert msg["type"] == "agent:status", msg


async def test_a_second_connection_on_another_relay_replaces_the_first(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    a, b, c = await make_fleet(3)
    old = await connect_agent(a, "a1")
    await old.output("a1", 0, b"abc")
    dash = await connect_dashboard(c)
    await dash.send("command:request", agent_id="a1", request_id="r1", input="x")
    await old.expect("command:request")
    new = await connect_agent(b, "a1")
    assert new.welcome["resume_from"] == 3
    assert await old.closed() == 4409
    ack = await dash.wait_for("command:ack")
    assert (ack["request_id"], ack["ok"]) == ("r1", False)
    await dash.send("terminal:input", agent_id="a1", data="q")
    assert (await new.expect("terminal:input"))["data"] == "q"


async def test_forget_after_removes_the_agent_on_every_relay_once(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    a, b, c = await make_fleet(3, forget_after=0.3)
    agent = await connect_agent(a, "a1")
    one = await connect_dashboard(b)
    two = await connect_dashboard(c)
    await agent.close()
    for dash in (one, two):
        assert (await dash.wait_for("agent:removed")) == {"type": "agent:removed",
                                                           "agent_id": "a1"}
        await dash.send("heartbeat", ts=2)
        assert (await dash.expect("heartbeat"))["ts"] == 2
