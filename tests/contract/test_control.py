"""Contract section 7: control messages routed to the sidecar, acks routed back."""

from __future__ import annotations

from typing import Any

import pytest


async def _agent_and_operator(relay: Any, connect_agent: Any, connect_dashboard: Any) -> Any:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay, role="operator")
    return agent, dash


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        ("terminal:input", {"data": "\x03q"}, {"data": "\x03q"}),
        ("terminal:resize", {"cols": 132, "rows": 50}, {"cols": 132, "rows": 50}),
    ],
)
async def test_input_and_resize_reach_the_sidecar_without_agent_id(
    relay: Any, connect_agent: Any, connect_dashboard: Any,
    kind: str, fields: dict[str, Any], expected: dict[str, Any],
) -> None:
    agent, dash = await _agent_and_operator(relay, connect_agent, connect_dashboard)
    await dash.send(kind, agent_id="a1", **fields)
    assert await agent.expect(kind) == {"type": kind, **expected}


async def test_a_command_request_reaches_the_sidecar_with_a_relay_request_id(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _agent_and_operator(relay, connect_agent, connect_dashboard)
    await dash.send("command:request", agent_id="a1", request_id="r1", input="ls")
    request = await agent.expect("command:request")
    assert "agent_id" not in request
    assert (request["input"], request["submit"]) == ("ls", True)
    await agent.send("command:ack", request_id=request["request_id"], ok=True)
    assert await dash.wait_for("command:ack") == {
        "type": "command:ack", "agent_id": "a1", "request_id": "r1", "ok": True}


async def test_an_interrupt_reaches_the_sidecar_and_its_ack_comes_back(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _agent_and_operator(relay, connect_agent, connect_dashboard)
    await dash.send("command:interrupt", agent_id="a1", request_id="i1", signal="SIGTERM")
    request = await agent.expect("command:interrupt")
    assert request["signal"] == "SIGTERM"
    await agent.send("command:ack", request_id=request["request_id"], ok=False,
                     error="no such process")
    ack = await dash.wait_for("command:ack")
    assert (ack["request_id"], ack["ok"], ack["error"]) == ("i1", False, "no such process")


async def test_duplicate_request_ids_from_two_dashboards_get_their_own_acks(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    one = await connect_dashboard(relay, sub="one")
    two = await connect_dashboard(relay, sub="two")
    await one.send("command:request", agent_id="a1", request_id="same", input="from one")
    first = await agent.expect("command:request")
    await two.send("command:request", agent_id="a1", request_id="same", input="from two")
    second = await agent.expect("command:request")
    assert first["request_id"] != second["request_id"]
    await agent.send("command:ack", request_id=second["request_id"], ok=False, error="two")
    await agent.send("command:ack", request_id=first["request_id"], ok=True)
    ack_one = await one.wait_for("command:ack")
    ack_two = await two.wait_for("command:ack")
    assert (ack_one["request_id"], ack_one["ok"]) == ("same", True)
    assert (ack_two["request_id"], ack_two["ok"], ack_two["error"]) == ("same", False, "two")
    # Each got exactly one ack: a heartbeat echo comes next, not a second ack.
    for dash in (one, two):
        await dash.send("heartbeat", ts=1)
        assert (await dash.expect("heartbeat"))["ts"] == 1


async def test_disconnect_before_ack_answers_ok_false(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _agent_and_operator(relay, connect_agent, connect_dashboard)
    await dash.send("command:request", agent_id="a1", request_id="r7", input="sleep 9")
    await agent.expect("command:request")
    await agent.close()
    ack = await dash.wait_for("command:ack")
    assert (ack["agent_id"], ack["request_id"], ack["ok"]) == ("a1", "r7", False)
    assert ack["error"]


async def test_replacement_before_ack_answers_ok_false(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _agent_and_operator(relay, connect_agent, connect_dashboard)
    await dash.send("command:interrupt", agent_id="a1", request_id="i2")
    await agent.expect("command:interrupt")
    await connect_agent(relay, "a1")
    ack = await dash.wait_for("command:ack")
    assert (ack["request_id"], ack["ok"]) == ("i2", False)


async def test_a_command_to_a_disconnected_agent_is_agent_offline_at_once(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _agent_and_operator(relay, connect_agent, connect_dashboard)
    await agent.close()
    await dash.wait_for("agent:status", lambda m: m["agent"]["state"] == "disconnected")
    await dash.send("command:request", agent_id="a1", request_id="late", input="rm")
    error = await dash.wait_for("error")
    assert (error["code"], error["ref"]) == ("agent_offline", "late")
    second = await connect_agent(relay, "a1")
    await second.send("heartbeat", ts=1)
    assert (await second.expect("heartbeat"))["ts"] == 1  # nothing was queued for it


async def test_an_ack_after_the_dashboard_left_is_dropped(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _agent_and_operator(relay, connect_agent, connect_dashboard)
    await dash.send("command:request", agent_id="a1", request_id="r1", input="x")
    request = await agent.expect("command:request")
    await dash.close()
    await agent.send("command:ack", request_id=request["request_id"], ok=True)
    await agent.send("heartbeat", ts=2)
    assert (await agent.expect("heartbeat"))["ts"] == 2
