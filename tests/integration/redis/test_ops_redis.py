"""Operations with several relays on one real Redis: the shared audit stream, Redis
latency in the metrics, and casts of an agent connected to another relay."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.redis


async def audit(client: Any, token: str, **query: Any) -> list[dict[str, Any]]:
    resp = await client.get("/api/audit", params=query,
                            headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    records: list[dict[str, Any]] = (await resp.json())["records"]
    return records


async def test_every_relay_writes_the_shared_audit_stream_and_any_relay_reads_it(
    make_fleet: Any, make_token: Any, connect_agent: Any, connect_dashboard: Any,
    redis_client: aioredis.Redis,
) -> None:
    one, two = await make_fleet(2)
    agent = await connect_agent(one, "a1")
    alice = await connect_dashboard(one, sub="alice")
    bob = await connect_dashboard(two, sub="bob")
    await alice.send("command:request", agent_id="a1", request_id="r1", input="echo one")
    await agent.expect("command:request")
    await bob.send("command:request", agent_id="a1", request_id="r2", input="echo two")
    await agent.expect("command:request")
    admin = make_token("admin", sub="root")
    for relay in (one, two):
        await audit(relay, admin, limit=1)  # a read waits for the relay's own appends
    for relay in (one, two):
        records = await audit(relay, admin, agent="a1")
        assert {(r["sub"], r["input"], r["outcome"]) for r in records} == {
            ("alice", "echo one", "sent"), ("bob", "echo two", "sent")}
        assert len({r["relay"] for r in records}) == 2
    assert [r["sub"] for r in await audit(two, admin, sub="alice")] == ["alice"]
    assert await redis_client.xlen("agent-relay:audit") == 2
    for peer in (agent, alice, bob):
        await peer.close()


async def test_the_audit_stream_is_capped(
    make_fleet: Any, make_token: Any, connect_agent: Any, connect_dashboard: Any,
    redis_client: aioredis.Redis,
) -> None:
    from relay.ops.config import OpsConfig

    [relay] = await make_fleet(1, ops=OpsConfig(audit_stream_max=10))
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    for n in range(150):  # within the rate limit's burst
        await dash.send("terminal:input", agent_id="a1", data=str(n))
    await dash.send("heartbeat", ts=1)
    await dash.wait_for("heartbeat")  # every input before it was handled
    newest = await audit(relay, make_token("admin", sub="root"), limit=1)
    assert newest[0]["bytes"] == 3
    # MAXLEN ~ trims whole nodes only: near the cap, not all 150.
    assert await redis_client.xlen("agent-relay:audit") < 150
    await agent.close()
    await dash.close()


async def test_metrics_have_the_redis_round_trip_and_the_fleets_agents(
    make_fleet: Any, make_token: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    one, two = await make_fleet(2)
    agent = await connect_agent(one, "a1")
    dash = await connect_dashboard(two)
    await dash.send("terminal:resize", agent_id="a1", cols=90, rows=20)
    await agent.expect("terminal:resize")
    await audit(two, make_token("admin", sub="root"))  # waits for the stream append
    resp = await two.get("/metrics",
                         headers={"Authorization": f"Bearer {make_token('admin', sub='r')}"})
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(await resp.text()) for s in f.samples}
    assert samples[("agent_relay_redis_roundtrip_seconds_count", ())] >= 1
    assert samples[("agent_relay_agents", (("state", "running"),))] == 1
    assert samples[("agent_relay_connections", (("kind", "agent"),))] == 0
    await agent.close()
    await dash.close()


async def test_a_cast_of_an_agent_on_another_relay_comes_from_the_shared_scrollback(
    make_fleet: Any, make_token: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    one, two = await make_fleet(2)
    agent = await connect_agent(one, "a1")
    dash = await connect_dashboard(two)
    await dash.send("subscribe", agent_id="a1")
    await dash.expect("subscribed")
    await agent.output("a1", 0, b"from relay one\r\n")
    await dash.read_output("a1", 0, 16)
    resp = await two.get("/api/agents/a1/cast",
                         headers={"Authorization": f"Bearer {make_token('viewer')}"})
    assert resp.status == 200
    head, *events = (await resp.text()).splitlines()
    assert '"version": 2' in head
    assert events == ['[0.0, "o", "from relay one\\r\\n"]']
    await agent.close()
    await dash.close()
