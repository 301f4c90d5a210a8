"""Contract sections 4 and 7: dashboard messages, errors and their check order."""

from __future__ import annotations

from typing import Any

import pytest


async def test_heartbeat_is_answered_with_the_same_ts(relay: Any, connect_dashboard: Any) -> None:
    dash = await connect_dashboard(relay)
    await dash.send("heartbeat", ts="t-17")
    assert await dash.expect("heartbeat") == {"type": "heartbeat", "ts": "t-17"}


async def test_connected_carries_session_role_and_agents(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    await connect_agent(relay, "a1", labels={"team": "x"})
    dash = await connect_dashboard(relay, role="viewer", sub="vera")
    connected = dash.connected
    assert connected["session_id"]
    assert (connected["sub"], connected["role"], connected["protocol"]) == ("vera", "viewer", 1)
    (info,) = connected["agents"]
    assert (info["agent_id"], info["state"], info["labels"], info["offset"]) == (
        "a1", "running", {"team": "x"}, 0)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"no_type": 1}', "invalid_message"),
        ('{"type": 7}', "invalid_message"),
        ('{"type": "fly"}', "unknown_type"),
        ('{"type": "agent:hello"}', "unknown_type"),
        ('{"type": "subscribe"}', "invalid_message"),
        ('{"type": "subscribe", "agent_id": "a1", "since": -1}', "invalid_message"),
        ('{"type": "terminal:resize", "agent_id": "a1", "cols": 0, "rows": 5}',
         "invalid_message"),
    ],
)
async def test_a_bad_frame_gets_its_error_and_the_connection_stays_open(
    relay: Any, connect_dashboard: Any, text: str, code: str
) -> None:
    dash = await connect_dashboard(relay)
    await dash.send_text(text)
    error = await dash.expect("error")
    assert error["code"] == code
    assert error["message"]
    await dash.send("heartbeat", ts=1)
    assert (await dash.expect("heartbeat"))["ts"] == 1


async def test_a_binary_frame_from_a_dashboard_is_invalid_message(
    relay: Any, connect_dashboard: Any
) -> None:
    dash = await connect_dashboard(relay)
    await dash.send_bytes(b"\x01\x02a1")
    assert (await dash.expect("error"))["code"] == "invalid_message"


async def test_an_error_names_the_bad_field_and_refs_the_request(
    relay: Any, connect_dashboard: Any
) -> None:
    dash = await connect_dashboard(relay)
    await dash.send("command:request", agent_id="a1", request_id="r5", input=3)
    error = await dash.expect("error")
    assert (error["code"], error["ref"]) == ("invalid_message", "r5")
    assert "input" in error["message"]


# Check order: fields < role < scope < agent known < agent connected.
ORDER_CASES = [
    # role, agents, message, expected code
    ("viewer", None, {"agent_id": "a1", "request_id": "r"}, "invalid_message"),
    ("viewer", ["zz*"], {"agent_id": "nope", "request_id": "r", "input": "x"}, "forbidden"),
    ("operator", ["zz*"], {"agent_id": "nope", "request_id": "r", "input": "x"}, "forbidden"),
    ("admin", ["zz*"], {"agent_id": "a1", "request_id": "r", "input": "x"}, "forbidden"),
    ("operator", None, {"agent_id": "nope", "request_id": "r", "input": "x"}, "unknown_agent"),
    ("operator", None, {"agent_id": "gone", "request_id": "r", "input": "x"}, "agent_offline"),
]


@pytest.mark.parametrize(("role", "agents", "fields", "code"), ORDER_CASES)
async def test_command_errors_follow_the_contracts_check_order(
    relay: Any, connect_agent: Any, connect_dashboard: Any,
    role: str, agents: list[str] | None, fields: dict[str, Any], code: str,
) -> None:
    observer = await connect_dashboard(relay, role="admin", sub="observer")
    await connect_agent(relay, "a1")
    gone = await connect_agent(relay, "gone")
    await gone.close()
    await observer.wait_for("agent:status", lambda m: m["agent"]["agent_id"] == "gone"
                            and m["agent"]["state"] == "disconnected")
    dash = await connect_dashboard(relay, role=role, agents=agents)
    await dash.send("command:request", **fields)
    error = await dash.error()
    assert (error["code"], error["ref"]) == (code, "r")


@pytest.mark.parametrize("kind", ["terminal:input", "terminal:resize", "command:interrupt",
                                  "command:request"])
async def test_a_viewer_may_not_send_control_messages(
    relay: Any, connect_agent: Any, connect_dashboard: Any, kind: str
) -> None:
    await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay, role="viewer")
    table: dict[str, dict[str, Any]] = {
        "terminal:input": {"data": "x"},
        "terminal:resize": {"cols": 10, "rows": 10},
        "command:interrupt": {"request_id": "r"},
        "command:request": {"request_id": "r", "input": "ls"},
    }
    await dash.send(kind, agent_id="a1", **table[kind])
    assert (await dash.error())["code"] == "forbidden"


async def test_subscribe_out_of_scope_is_forbidden_even_if_unknown(
    relay: Any, connect_dashboard: Any
) -> None:
    dash = await connect_dashboard(relay, agents=["web-*"])
    await dash.send("subscribe", agent_id="db-1")
    assert (await dash.error())["code"] == "forbidden"


async def test_subscribe_in_scope_to_an_unknown_agent_is_unknown_agent(
    relay: Any, connect_dashboard: Any
) -> None:
    dash = await connect_dashboard(relay, agents=["web-*"])
    await dash.send("subscribe", agent_id="web-1")
    assert (await dash.error())["code"] == "unknown_agent"


async def test_subscribe_replays_scrollback_then_streams(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.output("a1", 0, b"hello ")
    await agent.send("heartbeat", ts=1)
    await agent.expect("heartbeat")  # everything before it was received
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1")
    sub = await dash.wait_for("subscribed")
    assert (sub["from"], sub["offset"]) == (0, 6)
    await agent.output("a1", 6, b"world")
    assert await dash.read_output("a1", 0, 11) == b"hello world"


async def test_subscribe_since_inside_the_stream_starts_there(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.output("a1", 0, b"abcdef")
    await agent.send("heartbeat", ts=1)
    await agent.expect("heartbeat")
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1", since=2)
    assert (await dash.wait_for("subscribed"))["from"] == 2
    assert await dash.read_output("a1", 2, 6) == b"cdef"


async def test_subscribe_since_beyond_the_end_flows_once_reached(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1", since=4)
    sub = await dash.wait_for("subscribed")
    assert (sub["from"], sub["offset"]) == (4, 0)
    await agent.output("a1", 0, b"abc")
    await agent.output("a1", 3, b"defg")
    assert await dash.read_output("a1", 4, 7) == b"efg"


async def test_subscribe_since_inside_a_multibyte_character_sends_base64(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.output("a1", 0, "é!".encode())
    await agent.send("heartbeat", ts=1)
    await agent.expect("heartbeat")
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1", since=1)
    out = await dash.wait_for("terminal:output")
    assert (out["offset"], out.get("enc")) == (1, "base64")


async def test_resubscribe_restarts_from_the_new_since(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.output("a1", 0, b"0123456789")
    await agent.send("heartbeat", ts=1)
    await agent.expect("heartbeat")
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1", since=8)
    await dash.wait_for("subscribed")
    assert await dash.read_output("a1", 8, 10) == b"89"
    await dash.send("subscribe", agent_id="a1", since=5)
    assert (await dash.wait_for("subscribed"))["from"] == 5
    assert await dash.read_output("a1", 5, 10) == b"56789"


async def test_nothing_of_an_agent_arrives_after_unsubscribed(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1")
    await dash.wait_for("subscribed")
    await agent.output("a1", 0, b"one")
    await dash.send("unsubscribe", agent_id="a1")
    await dash.wait_for("unsubscribed")
    await agent.output("a1", 3, b"two")
    await agent.send("heartbeat", ts=1)
    await agent.expect("heartbeat")
    await dash.send("heartbeat", ts="mark")
    # Everything the relay sends from here on, up to the echo, must not be output.
    while (msg := await dash.recv())["type"] != "heartbeat":
        assert msg["type"] != "terminal:output", msg


async def test_unsubscribe_without_a_subscription_is_answered(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await dash.send("unsubscribe", agent_id="a1")
    assert await dash.wait_for("unsubscribed") == {"type": "unsubscribed", "agent_id": "a1"}


async def test_a_second_dashboard_connect_is_invalid_message(
    relay: Any, connect_dashboard: Any, make_token: Any
) -> None:
    dash = await connect_dashboard(relay)
    await dash.send("dashboard:connect", protocol=1, token=make_token("admin"))
    assert (await dash.expect("error"))["code"] == "invalid_message"


async def test_status_events_reach_only_dashboards_in_scope(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    web = await connect_dashboard(relay, agents=["web-*"], sub="w")
    db = await connect_dashboard(relay, agents=["db-*"], sub="d")
    await connect_agent(relay, "db-1")
    await connect_agent(relay, "web-1")
    event = await web.wait_for("agent:status")
    assert event["agent"]["agent_id"] == "web-1"
    assert (await db.wait_for("agent:status"))["agent"]["agent_id"] == "db-1"
    await db.send("heartbeat", ts=0)
    assert (await db.expect("heartbeat"))["ts"] == 0  # and no web-1 event before it


async def test_binary_dashboards_get_binary_output_frames(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay, binary=True)
    await dash.send("subscribe", agent_id="a1")
    await dash.wait_for("subscribed")
    await agent.output("a1", 0, b"\x1b[1mbold")
    out = await dash.wait_for("terminal:output")
    assert (out.get("binary"), out["data"]) == (True, b"\x1b[1mbold")
