"""Issue 11, item 9 (a relay without Redis, so not in tests/contract, which also runs on
Redis): a total scrollback budget. Past it the relay frees the scrollbacks
of the agents that exited longest ago (then of disconnected ones), keeps their records,
and announces the freed output as a gap to later readers; connected agents keep theirs."""

from __future__ import annotations

from typing import Any


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _sync(agent: Any) -> None:
    await agent.send("heartbeat", ts="sync")
    await agent.wait_for("heartbeat")


async def _run(relay: Any, connect_agent: Any, agent_id: str, *, exit_: bool) -> Any:
    agent = await connect_agent(relay, agent_id)
    await agent.output(agent_id, 0, agent_id[0].encode() * 1000)
    if exit_:
        await agent.send("agent:status", state="exited", pid=1, cols=80, rows=24, exit_code=0)
    await _sync(agent)
    return agent


async def _output(relay: Any, token: str, agent_id: str) -> tuple[int, int, bytes]:
    resp = await relay.get(f"/api/agents/{agent_id}/output?since=0", headers=_auth(token))
    assert resp.status == 200
    return (int(resp.headers["X-Output-Offset"]), int(resp.headers["X-Output-End"]),
            await resp.read())


async def test_the_oldest_exited_agents_scrollback_is_freed_first_records_kept(
    make_relay: Any, connect_agent: Any, connect_dashboard: Any, make_token: Any
) -> None:
    relay = await make_relay(scrollback_bytes=1000, scrollback_budget_bytes=2500)
    for agent_id in ("a1", "b1", "c1"):
        await _run(relay, connect_agent, agent_id, exit_=True)
    await _run(relay, connect_agent, "d1", exit_=False)  # 4000 bytes held: over by 1500
    token = make_token("viewer")
    assert await _output(relay, token, "a1") == (1000, 1000, b"")  # freed: a gap
    assert await _output(relay, token, "b1") == (1000, 1000, b"")
    assert await _output(relay, token, "c1") == (0, 1000, b"c" * 1000)
    assert await _output(relay, token, "d1") == (0, 1000, b"d" * 1000)
    resp = await relay.get("/api/agents/a1", headers=_auth(token))
    info = await resp.json()
    assert (resp.status, info["state"], info["exit_code"], info["offset"]) == (
        200, "exited", 0, 1000)
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1", since=0)
    subscribed = await dash.wait_for("subscribed")
    assert (subscribed["from"], subscribed["offset"]) == (1000, 1000)


async def test_connected_agents_are_never_freed(
    make_relay: Any, connect_agent: Any, make_token: Any
) -> None:
    relay = await make_relay(scrollback_bytes=1000, scrollback_budget_bytes=1500)
    for agent_id in ("a1", "b1"):
        await _run(relay, connect_agent, agent_id, exit_=False)
    token = make_token("viewer")
    assert await _output(relay, token, "a1") == (0, 1000, b"a" * 1000)
    assert await _output(relay, token, "b1") == (0, 1000, b"b" * 1000)


async def test_a_disconnected_agent_goes_after_the_exited_ones(
    make_relay: Any, connect_agent: Any, make_token: Any
) -> None:
    relay = await make_relay(scrollback_bytes=1000, scrollback_budget_bytes=2500)
    gone = await _run(relay, connect_agent, "a1", exit_=False)
    await gone.close()
    await _run(relay, connect_agent, "b1", exit_=True)
    await _run(relay, connect_agent, "c1", exit_=False)
    await _run(relay, connect_agent, "d1", exit_=False)
    token = make_token("viewer")
    # 4000 held: b1 (exited) goes first, then a1 (disconnected, though it ended earlier).
    assert await _output(relay, token, "b1") == (1000, 1000, b"")
    assert await _output(relay, token, "a1") == (1000, 1000, b"")
    assert await _output(relay, token, "c1") == (0, 1000, b"c" * 1000)
