"""Contract section 11 (1.1): ``permission:decide`` checked like ``command:request``
(section 4 order), ``stale_decision``, routed to the sidecar, its ack back to the asker."""

from __future__ import annotations

from typing import Any

from tests.contract.test_activity import WAITING, WORKING, _is
from tests.wsclient import JsonDict


def _decide(**fields: Any) -> JsonDict:
    base: JsonDict = {"agent_id": "a1", "request_id": "r1", "decision_id": "d-1",
                      "decision": "allow"}
    return {**base, **fields}


async def _waiting_agent(relay: Any, connect_agent: Any, connect_dashboard: Any) -> Any:
    """An agent waiting on decision d-1, and an operator dashboard that saw it."""
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay, role="operator", sub="alice")
    await agent.send("agent:activity", activity=WAITING)
    await dash.wait_for("agent:status", _is("a1", activity=WAITING))
    return agent, dash


async def test_a_decision_reaches_the_sidecar_and_its_ack_comes_back(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _waiting_agent(relay, connect_agent, connect_dashboard)
    await dash.send("permission:decide", **_decide(decision="deny", message="use make clean"))
    sent = await agent.expect("permission:decide")
    assert set(sent) == {"type", "request_id", "decision_id", "decision", "message"}
    assert (sent["decision_id"], sent["decision"], sent["message"]) == (
        "d-1", "deny", "use make clean")
    await agent.send("command:ack", request_id=sent["request_id"], ok=True)
    assert await dash.wait_for("command:ack") == {
        "type": "command:ack", "agent_id": "a1", "request_id": "r1", "ok": True}


async def test_a_decision_without_message_reaches_the_sidecar_with_message_null(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _waiting_agent(relay, connect_agent, connect_dashboard)
    await dash.send("permission:decide", **_decide())
    sent = await agent.expect("permission:decide")
    assert (sent["decision"], sent["message"]) == ("allow", None)
    assert sent["request_id"] != "r1"  # a relay-side id, mapped back on the ack


async def test_a_viewer_may_not_decide(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, _ = await _waiting_agent(relay, connect_agent, connect_dashboard)
    viewer = await connect_dashboard(relay, role="viewer", sub="bob")
    await viewer.send("permission:decide", **_decide(request_id="v1"))
    error = await viewer.error()
    assert (error["code"], error["ref"]) == ("forbidden", "v1")
    await agent.send("heartbeat", ts=1)
    assert (await agent.expect("heartbeat"))["ts"] == 1  # nothing reached the sidecar


async def test_the_role_is_checked_before_the_agent_is_known(
    relay: Any, connect_dashboard: Any
) -> None:
    viewer = await connect_dashboard(relay, role="viewer")
    await viewer.send("permission:decide", **_decide(agent_id="nobody"))
    assert (await viewer.error())["code"] == "forbidden"


async def test_outside_the_scope_is_forbidden_whether_or_not_the_agent_exists(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    await connect_agent(relay, "a1")
    scoped = await connect_dashboard(relay, role="admin", agents=["b*"])
    for agent_id in ("a1", "nobody"):
        await scoped.send("permission:decide", **_decide(agent_id=agent_id))
        assert (await scoped.error())["code"] == "forbidden"


async def test_an_unknown_agent_is_unknown_agent(relay: Any, connect_dashboard: Any) -> None:
    dash = await connect_dashboard(relay)
    await dash.send("permission:decide", **_decide(agent_id="nobody", request_id="u1"))
    error = await dash.error()
    assert (error["code"], error["ref"]) == ("unknown_agent", "u1")


async def test_a_disconnected_agent_is_agent_offline_before_stale(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _waiting_agent(relay, connect_agent, connect_dashboard)
    await agent.close()
    await dash.wait_for("agent:status", _is("a1", state="disconnected"))
    await dash.send("permission:decide", **_decide(decision_id="not-it"))
    assert (await dash.error())["code"] == "agent_offline"


async def test_another_decision_id_is_stale(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _waiting_agent(relay, connect_agent, connect_dashboard)
    await dash.send("permission:decide", **_decide(decision_id="d-0", request_id="s1"))
    error = await dash.error()
    assert (error["code"], error["ref"]) == ("stale_decision", "s1")
    assert "d-0" in error["message"]
    await agent.send("heartbeat", ts=1)
    assert (await agent.expect("heartbeat"))["ts"] == 1  # nothing reached the sidecar


async def test_a_decision_after_the_agent_moved_on_is_stale(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _waiting_agent(relay, connect_agent, connect_dashboard)
    await agent.send("agent:activity", activity=WORKING)
    await dash.wait_for("agent:status", _is("a1", activity=WORKING))
    await dash.send("permission:decide", **_decide())
    assert (await dash.error())["code"] == "stale_decision"


async def test_an_agent_that_never_reported_activity_has_no_pending_decision(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await dash.send("permission:decide", **_decide())
    assert (await dash.error())["code"] == "stale_decision"


async def test_invalid_fields_are_invalid_message_with_the_ref(
    relay: Any, connect_dashboard: Any
) -> None:
    dash = await connect_dashboard(relay)
    await dash.send("permission:decide", **_decide(decision="maybe", request_id="x1"))
    error = await dash.error()
    assert (error["code"], error["ref"]) == ("invalid_message", "x1")
    assert "'decision'" in error["message"]


async def test_a_decision_spends_a_rate_limit_token(
    make_relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    relay = await make_relay(rate_limit=0.5, rate_burst=1)
    agent, dash = await _waiting_agent(relay, connect_agent, connect_dashboard)
    await dash.send("terminal:input", agent_id="a1", data="y")
    await dash.send("permission:decide", **_decide(request_id="late"))
    error = await dash.error()
    assert (error["code"], error["ref"]) == ("rate_limited", "late")
    assert (await agent.expect("terminal:input"))["data"] == "y"
    await agent.send("heartbeat", ts=1)
    assert (await agent.expect("heartbeat"))["ts"] == 1  # the decision was dropped


async def test_an_agent_that_disconnects_before_acking_answers_ok_false(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent, dash = await _waiting_agent(relay, connect_agent, connect_dashboard)
    await dash.send("permission:decide", **_decide())
    await agent.expect("permission:decide")
    await agent.close()
    ack = await dash.wait_for("command:ack")
    assert (ack["request_id"], ack["ok"]) == ("r1", False)
    assert ack["error"]
