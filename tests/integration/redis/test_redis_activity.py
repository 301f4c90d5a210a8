"""Activity and permission decisions (1.1) across relays sharing one Redis: the activity
a sidecar reports on one relay is in every relay's AgentInfo; a decision sent on another
relay reaches the sidecar and its ack comes back; staleness is judged from Redis."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.test_activity import WAITING, WORKING, _is
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis


async def test_an_activity_reported_on_one_relay_reaches_dashboards_on_another(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any, make_token: Any
) -> None:
    a, b = await make_fleet(2)
    agent = await connect_agent(a, "a1")
    dash = await connect_dashboard(b)
    await agent.send("agent:activity", activity=WAITING)
    await dash.wait_for("agent:status", _is("a1", activity=WAITING))
    headers = {"Authorization": f"Bearer {make_token('viewer')}"}
    async with b.get("/api/agents/a1", headers=headers) as resp:
        assert (await resp.json())["activity"] == WAITING


async def test_a_decision_from_another_relay_reaches_the_sidecar_and_is_acked(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    a, b = await make_fleet(2)
    agent = await connect_agent(a, "a1")
    dash = await connect_dashboard(b)
    await agent.send("agent:activity", activity=WAITING)
    await dash.wait_for("agent:status", _is("a1", activity=WAITING))
    await dash.send("permission:decide", agent_id="a1", request_id="r1", decision_id="d-1",
                    decision="allow")
    sent = await agent.expect("permission:decide")
    assert (sent["decision_id"], sent["decision"], sent["message"]) == ("d-1", "allow", None)
    await agent.send("command:ack", request_id=sent["request_id"], ok=True)
    ack = await dash.wait_for("command:ack")
    assert (ack["agent_id"], ack["request_id"], ack["ok"]) == ("a1", "r1", True)


async def test_a_stale_decision_on_another_relay_never_reaches_the_sidecar(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    a, b = await make_fleet(2)
    agent = await connect_agent(a, "a1")
    dash = await connect_dashboard(b)
    await agent.send("agent:activity", activity=WAITING)
    await agent.send("agent:activity", activity=WORKING)
    await dash.wait_for("agent:status", _is("a1", activity=WORKING))
    await dash.send("permission:decide", agent_id="a1", request_id="r1", decision_id="d-1",
                    decision="allow")
    error = await dash.error()
    assert (error["code"], error["ref"]) == ("stale_decision", "r1")
    await agent.send("heartbeat", ts=1)
    assert (await agent.expect("heartbeat"))["ts"] == 1


async def test_a_reconnect_to_another_relay_keeps_the_activity_of_the_same_process(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    a, b = await make_fleet(2)
    agent = await connect_agent(a, "a1", pid=77, started_at=5.0)
    dash = await connect_dashboard(b)
    await agent.send("agent:activity", activity=WAITING)
    await dash.wait_for("agent:status", _is("a1", activity=WAITING))
    await agent.close()
    gone = await dash.wait_for("agent:status", _is("a1", state="disconnected"))
    assert gone["agent"]["activity"] == WAITING
    await connect_agent(b, "a1", pid=77, started_at=5.0)
    back = await dash.wait_for("agent:status", _is("a1", state="running"))
    assert back["agent"]["activity"] == WAITING
    other = await connect_agent(a, "a1", pid=99, started_at=6.0)
    fresh = await dash.wait_for("agent:status", _is("a1", pid=99))
    assert fresh["agent"]["activity"] is None
    await other.send("agent:status", state="exited", pid=99, cols=80, rows=24, exit_code=143,
                     signal="SIGTERM")
    ended = await dash.wait_for("agent:status", _is("a1", state="exited"))
    assert ended["agent"]["signal"] == "SIGTERM"


async def test_an_agent_written_back_after_redis_lost_its_data_keeps_its_activity(
    make_fleet: Any, connect_agent: Any, connect_dashboard: Any, make_token: Any,
    redis_server: RedisServer,
) -> None:
    (a,) = await make_fleet(1)
    agent = await connect_agent(a, "a1")
    dash = await connect_dashboard(a)
    await agent.send("agent:activity", activity=WAITING)
    await dash.wait_for("agent:status", _is("a1", activity=WAITING))
    await redis_server.stop(kill=True)
    await redis_server.start()
    # The relay writes its live agent back (REASSERT) and announces the record again.
    back = await dash.wait_for("agent:status", _is("a1", state="running"))
    assert back["agent"]["activity"] == WAITING
    headers = {"Authorization": f"Bearer {make_token('viewer')}"}
    async with a.get("/api/agents/a1", headers=headers) as resp:  # read from Redis
        assert (await resp.json())["activity"] == WAITING
