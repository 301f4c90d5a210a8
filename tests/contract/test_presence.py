"""``agent:presence`` (a 1.1 addition, docs/protocol.md): who watches an agent and who
types into it, sent to the dashboards subscribed to it that asked for it
(``dashboard:connect.presence``)."""

from __future__ import annotations

from typing import Any

from tests.wsclient import JsonDict, WsPeer


def _who(msg: JsonDict) -> list[tuple[str, str, int, bool]]:
    return [(w["sub"], w["role"], w["connections"], w["typing"]) for w in msg["watchers"]]


async def _presence(dash: WsPeer, want: list[tuple[str, str, int, bool]]) -> JsonDict:
    """Skip presence messages until one shows exactly ``want`` (in order)."""
    return await dash.wait_for("agent:presence", lambda m: _who(m) == want)


async def _watching(relay: Any, connect_dashboard: Any, sub: str, role: str) -> WsPeer:
    dash: WsPeer = await connect_dashboard(relay, sub=sub, role=role, presence=True)
    await dash.send("subscribe", agent_id="a1")
    await dash.wait_for("subscribed")
    return dash


async def test_a_subscriber_gets_the_presence_with_itself(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    await connect_agent(relay, "a1")
    alice = await connect_dashboard(relay, sub="alice", role="operator", presence=True)
    await alice.send("subscribe", agent_id="a1")
    await alice.expect("subscribed")
    msg = await alice.expect("agent:presence")
    assert msg == {"type": "agent:presence", "agent_id": "a1", "more": 0, "watchers": [
        {"sub": "alice", "role": "operator", "connections": 1, "typing": False,
         "last_input": None, "last_input_at": None}]}


async def test_watchers_see_each_other_come_and_go(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    await connect_agent(relay, "a1")
    alice = await _watching(relay, connect_dashboard, "alice", "operator")
    bob = await _watching(relay, connect_dashboard, "bob", "viewer")
    both = [("alice", "operator", 1, False), ("bob", "viewer", 1, False)]
    await _presence(alice, both)
    await _presence(bob, both)
    second = await _watching(relay, connect_dashboard, "bob", "viewer")  # another tab
    await _presence(alice, [("alice", "operator", 1, False), ("bob", "viewer", 2, False)])
    await second.close()
    await _presence(alice, both)
    await bob.send("unsubscribe", agent_id="a1")
    await _presence(alice, [("alice", "operator", 1, False)])
    await bob.wait_for("unsubscribed")
    await bob.send("heartbeat", ts=1)
    assert (await bob.expect("heartbeat"))["ts"] == 1  # no presence after unsubscribing


async def test_typing_is_announced_once_per_burst_and_lapses(
    make_relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    relay = await make_relay(typing_seconds=0.5)
    agent = await connect_agent(relay, "a1")
    bob = await _watching(relay, connect_dashboard, "bob", "viewer")
    alice = await _watching(relay, connect_dashboard, "alice", "operator")
    await _presence(bob, [("alice", "operator", 1, False), ("bob", "viewer", 1, False)])
    for key in "ls\r":
        await alice.send("terminal:input", agent_id="a1", data=key)
    typing = await bob.expect("agent:presence")
    assert _who(typing) == [("alice", "operator", 1, True), ("bob", "viewer", 1, False)]
    assert typing["watchers"][0]["last_input"] == "terminal:input"
    assert isinstance(typing["watchers"][0]["last_input_at"], float)
    for _ in range(3):
        await agent.expect("terminal:input")
    # The next presence bob gets is the lapse: the burst announced once.
    lapsed = await bob.expect("agent:presence")
    assert _who(lapsed) == [("alice", "operator", 1, False), ("bob", "viewer", 1, False)]
    assert lapsed["watchers"][0]["last_input"] == "terminal:input"


async def test_commands_decisions_and_interrupts_count_a_resize_does_not(
    make_relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    relay = await make_relay(typing_seconds=0.3)
    agent = await connect_agent(relay, "a1")
    bob = await _watching(relay, connect_dashboard, "bob", "viewer")
    alice = await _watching(relay, connect_dashboard, "alice", "operator")
    await _presence(bob, [("alice", "operator", 1, False), ("bob", "viewer", 1, False)])
    await alice.send("terminal:resize", agent_id="a1", cols=100, rows=30)
    await agent.expect("terminal:resize")
    await alice.send("command:interrupt", agent_id="a1", request_id="i1")
    await agent.expect("command:interrupt")
    msg = await bob.expect("agent:presence")  # the interrupt, not the resize
    assert msg["watchers"][0]["last_input"] == "command:interrupt"
    await _presence(bob, [("alice", "operator", 1, False), ("bob", "viewer", 1, False)])
    await alice.send("command:request", agent_id="a1", request_id="r1", input="make")
    msg = await bob.expect("agent:presence")
    assert (msg["watchers"][0]["last_input"], msg["watchers"][0]["typing"]) == (
        "command:request", True)


async def test_input_that_is_refused_does_not_count(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    await connect_agent(relay, "a1")
    bob = await _watching(relay, connect_dashboard, "bob", "viewer")
    await bob.send("terminal:input", agent_id="a1", data="x")  # a viewer: forbidden
    assert (await bob.error())["code"] == "forbidden"
    await bob.send("heartbeat", ts=2)
    msg = await bob.recv()
    assert msg["type"] == "heartbeat", msg  # no presence about bob typing


async def test_an_operator_typing_without_watching_is_listed_with_no_connections(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    bob = await _watching(relay, connect_dashboard, "bob", "viewer")
    cli = await connect_dashboard(relay, sub="ci-bot", role="operator")
    await cli.send("command:request", agent_id="a1", request_id="r1", input="make")
    await agent.expect("command:request")
    msg = await _presence(bob, [("ci-bot", "operator", 0, True), ("bob", "viewer", 1, False)])
    assert msg["watchers"][0]["last_input"] == "command:request"
    await cli.close()
    await _presence(bob, [("bob", "viewer", 1, False)])


async def test_the_list_is_bounded_and_counts_the_rest(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    await connect_agent(relay, "a1")
    first = await _watching(relay, connect_dashboard, "user-00", "viewer")
    for n in range(1, 18):
        await _watching(relay, connect_dashboard, f"user-{n:02}", "viewer")
    msg = await first.wait_for("agent:presence", lambda m: m["more"] == 2)
    assert len(msg["watchers"]) == 16
    assert [w["sub"] for w in msg["watchers"]] == [f"user-{n:02}" for n in range(16)]


async def test_presence_goes_only_to_watchers_of_that_agent(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    await connect_agent(relay, "a1")
    await connect_agent(relay, "b1")
    other: WsPeer = await connect_dashboard(relay, sub="carol", presence=True)
    await other.send("subscribe", agent_id="b1")
    await other.expect("subscribed")
    await other.expect("agent:presence")
    await _watching(relay, connect_dashboard, "alice", "operator")
    await other.send("heartbeat", ts=3)
    msg = await other.recv()
    assert msg["type"] == "heartbeat", msg


async def test_a_dashboard_that_did_not_ask_gets_none_but_is_counted(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    plain: WsPeer = await connect_dashboard(relay, sub="plain", role="operator")
    await plain.send("subscribe", agent_id="a1")
    await plain.expect("subscribed")
    alice = await _watching(relay, connect_dashboard, "alice", "operator")
    await _presence(alice, [("alice", "operator", 1, False), ("plain", "operator", 1, False)])
    await plain.send("terminal:input", agent_id="a1", data="q")
    await agent.expect("terminal:input")
    await _presence(alice, [("plain", "operator", 1, True), ("alice", "operator", 1, False)])
    await agent.output("a1", 0, b"x")
    msg = await plain.recv()  # the output, with no presence before it
    assert (msg["type"], msg["data"]) == ("terminal:output", "x")
