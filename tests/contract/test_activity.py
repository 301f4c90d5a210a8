"""Contract sections 7 and 11 (1.1): ``agent:activity`` stored in AgentInfo and forwarded as
``agent:status``; AgentInfo ``signal``; what a disconnect, an exit and a new process do to
the activity (docs/protocol.md); ``subscribe.request_id`` as the ``ref`` of its errors."""

from __future__ import annotations

from typing import Any

from tests.wsclient import JsonDict

WAITING: JsonDict = {
    "state": "waiting", "since": 100.5, "reason": "permission",
    "prompt": "Allow Bash: rm -rf build?",
    "options": [{"label": "Yes", "keys": "1"}, {"label": "No", "keys": "\u001b"}],
    "decision_id": "d-1", "detail": "Bash: rm -rf build", "agent_kind": "claude",
    "source": "hook",
}
WORKING: JsonDict = {
    "state": "working", "since": 90.0, "reason": None, "prompt": None, "options": None,
    "decision_id": None, "detail": "make -j4", "agent_kind": "shell", "source": "process",
}


def _is(agent_id: str, **want: Any) -> Any:
    def match(msg: JsonDict) -> bool:
        agent = msg["agent"]
        return bool(agent["agent_id"] == agent_id
                    and all(agent.get(k) == v for k, v in want.items()))
    return match


async def test_an_activity_reaches_dashboards_as_agent_status(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay, role="viewer")
    assert dash.connected["agents"][0]["activity"] is None
    assert dash.connected["agents"][0]["signal"] is None
    await agent.send("agent:activity", activity=WAITING)
    event = await dash.wait_for("agent:status")
    assert event["agent"]["agent_id"] == "a1"
    assert event["agent"]["activity"] == WAITING
    assert event["agent"]["state"] == "running"


async def test_the_stored_activity_is_in_rest_and_dashboard_connected(
    relay: Any, connect_agent: Any, connect_dashboard: Any, make_token: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    watcher = await connect_dashboard(relay)
    await agent.send("agent:activity", activity=WORKING)
    await watcher.wait_for("agent:status", _is("a1", activity=WORKING))
    late = await connect_dashboard(relay)
    assert late.connected["agents"][0]["activity"] == WORKING
    headers = {"Authorization": f"Bearer {make_token('viewer')}"}
    async with relay.get("/api/agents/a1", headers=headers) as resp:
        assert (await resp.json())["activity"] == WORKING


async def test_an_activity_is_not_sent_to_dashboards_outside_the_scope(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    other = await connect_agent(relay, "b1")
    blind = await connect_dashboard(relay, agents=["b*"])
    await agent.send("agent:activity", activity=WAITING)
    await other.send("agent:activity", activity=WORKING)
    event = await blind.expect("agent:status")  # the first it gets is b1's
    assert (event["agent"]["agent_id"], event["agent"]["activity"]) == ("b1", WORKING)


async def test_an_invalid_activity_is_refused_and_changes_nothing(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await agent.send("agent:activity", activity={**WAITING, "prompt": "p" * 2001})
    error = await agent.expect("error")
    assert error["code"] == "invalid_message"
    assert "'prompt'" in error["message"]
    await agent.send("agent:activity", activity={**WORKING, "reason": "question"})
    assert (await agent.expect("error"))["code"] == "invalid_message"
    await agent.send("agent:status", state="idle", pid=4242, cols=80, rows=24)
    event = await dash.wait_for("agent:status")
    assert (event["agent"]["state"], event["agent"]["activity"]) == ("idle", None)


async def test_a_disconnect_keeps_the_activity_and_a_reconnect_of_the_same_process_too(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1", pid=77, started_at=5.0)
    dash = await connect_dashboard(relay)
    await agent.send("agent:activity", activity=WAITING)
    await dash.wait_for("agent:status", _is("a1", activity=WAITING))
    await agent.close()
    gone = await dash.wait_for("agent:status", _is("a1", state="disconnected"))
    assert gone["agent"]["activity"] == WAITING
    await connect_agent(relay, "a1", pid=77, started_at=5.0)
    back = await dash.wait_for("agent:status", _is("a1", state="running"))
    assert back["agent"]["activity"] == WAITING


async def test_a_new_process_under_the_same_id_starts_without_activity(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1", pid=77, started_at=5.0)
    dash = await connect_dashboard(relay)
    await agent.send("agent:activity", activity=WAITING)
    await dash.wait_for("agent:status", _is("a1", activity=WAITING))
    await agent.close()
    await dash.wait_for("agent:status", _is("a1", state="disconnected"))
    await connect_agent(relay, "a1", pid=78, started_at=9.0)
    back = await dash.wait_for("agent:status", _is("a1", state="running"))
    assert back["agent"]["activity"] is None


async def test_an_exit_by_signal_sets_signal_and_clears_the_activity(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await agent.send("agent:activity", activity=WORKING)
    await dash.wait_for("agent:status", _is("a1", activity=WORKING))
    await agent.send("agent:status", state="exited", pid=4242, cols=80, rows=24,
                     exit_code=130, signal="SIGINT")
    event = await dash.wait_for("agent:status", _is("a1", state="exited"))
    assert (event["agent"]["exit_code"], event["agent"]["signal"]) == (130, "SIGINT")
    assert event["agent"]["activity"] is None
    # After the exit the command reports nothing more: a late activity is ignored.
    await agent.send("agent:activity", activity=WAITING)
    await agent.send("heartbeat", ts=1)
    await agent.expect("heartbeat")
    await agent.close()
    final = await dash.wait_for("agent:status")
    assert (final["agent"]["state"], final["agent"]["activity"]) == ("exited", None)
    assert final["agent"]["signal"] == "SIGINT"


async def test_a_new_hello_clears_the_signal(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.send("agent:status", state="exited", pid=4242, cols=80, rows=24,
                     exit_code=137, signal="SIGKILL")
    await agent.close()
    dash = await connect_dashboard(relay)
    assert dash.connected["agents"][0]["signal"] == "SIGKILL"
    await connect_agent(relay, "a1")
    event = await dash.wait_for("agent:status", _is("a1", state="running"))
    assert (event["agent"]["signal"], event["agent"]["exit_code"]) == (None, None)


async def test_an_activity_from_a_replaced_connection_is_ignored(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    old = await connect_agent(relay, "a1")
    new = await connect_agent(relay, "a1")
    assert await old.closed() == 4409
    dash = await connect_dashboard(relay)
    await new.send("agent:activity", activity=WORKING)
    event = await dash.wait_for("agent:status")
    assert event["agent"]["activity"] == WORKING


async def test_errors_about_a_subscribe_carry_its_request_id_as_ref(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay, agents=["a*"])
    await dash.send("subscribe", agent_id="a2", request_id="s1")
    error = await dash.error()
    assert (error["code"], error["ref"]) == ("unknown_agent", "s1")
    await dash.send("subscribe", agent_id="b1", request_id="s2")
    error = await dash.error()
    assert (error["code"], error["ref"]) == ("forbidden", "s2")
    await dash.send("subscribe", agent_id="a1", since=-1, request_id="s3")
    error = await dash.error()
    assert (error["code"], error["ref"]) == ("invalid_message", "s3")
    await dash.send("subscribe", agent_id="a2")
    assert (await dash.error())["ref"] is None
