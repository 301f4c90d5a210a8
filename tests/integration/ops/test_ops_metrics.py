"""``GET /metrics`` of a real relay, parsed with prometheus-client's own parser."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.notify_receiver import make_receiver
from tests.timing import deadline

__all__ = ["make_receiver"]


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as ``{(name, sorted labels): value}``."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(client: Any, token: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    return parse(await resp.text())


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("operator", 403), ("viewer", 403)])
async def test_metrics_on_the_relay_port_need_an_admin_token(
    relay: Any, make_token: Any, role: str | None, status: int
) -> None:
    headers = {} if role is None else {"Authorization": f"Bearer {make_token(role)}"}
    resp = await relay.get("/metrics", headers=headers)
    assert resp.status == status
    assert "agent_relay" not in await resp.text()


async def test_metrics_count_connections_agents_output_messages_errors_and_rate_limits(
    make_relay: Any, make_token: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    relay = await make_relay(rate_limit=0.001, rate_burst=1)
    admin = make_token("admin", sub="root")
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay, role="operator")
    await dash.send("subscribe", agent_id="a1")
    await dash.expect("subscribed")
    await agent.output("a1", 0, b"hello world\r\n")
    await agent.send_bytes(b"\x01\x02a1" + (13).to_bytes(8, "big") + b"\xff\xfebinary")
    await dash.read_output("a1", 0, 13 + 8)
    await agent.send("agent:status", state="idle", pid=1, cols=80, rows=24)
    await dash.wait_for("agent:status", lambda m: m["agent"]["state"] == "idle")
    await dash.send("terminal:input", agent_id="a1", data="x")      # spends the one token
    await agent.expect("terminal:input")
    await dash.send("terminal:input", agent_id="a1", data="y")      # rate limited
    assert (await dash.error())["code"] == "rate_limited"
    await dash.send("no:such:type")
    assert (await dash.error())["code"] == "unknown_type"
    await dash.send("heartbeat", ts=1)
    await dash.expect("heartbeat")

    m = await scrape(relay, admin)
    assert value(m, "agent_relay_connections", kind="agent") == 1
    assert value(m, "agent_relay_connections", kind="dashboard") == 1
    assert value(m, "agent_relay_agents", state="idle") == 1
    assert value(m, "agent_relay_agents", state="running") == 0
    assert value(m, "agent_relay_agents_activity", activity="none") == 1
    assert value(m, "agent_relay_output_received_bytes_total") == 21
    assert value(m, "agent_relay_output_sent_bytes_total") >= 21
    assert value(m, "agent_relay_messages_received_total",
                 endpoint="agent", type="terminal:output") == 2
    assert value(m, "agent_relay_messages_received_total",
                 endpoint="dashboard", type="terminal:input") == 2
    assert value(m, "agent_relay_rate_limited_total", type="terminal:input") == 1
    assert value(m, "agent_relay_errors_sent_total", code="rate_limited") == 1
    assert value(m, "agent_relay_errors_sent_total", code="unknown_type") == 1
    assert ("agent_relay_messages_received_total",
            (("endpoint", "dashboard"), ("type", "no:such:type"))) not in m

    await dash.close()
    await agent.close()


async def test_two_relays_in_one_process_count_separately(
    make_relay: Any, make_token: Any, connect_agent: Any
) -> None:
    one, two = await make_relay(), await make_relay()
    agent = await connect_agent(one, "a1")
    await agent.output("a1", 0, b"abc")
    await agent.send("heartbeat", ts=1)
    await agent.expect("heartbeat")
    admin = make_token("admin", sub="root")
    assert value(await scrape(one, admin), "agent_relay_output_received_bytes_total") == 3
    assert value(await scrape(two, admin), "agent_relay_output_received_bytes_total") == 0
    await agent.close()


async def test_metrics_listen_serves_metrics_without_a_token_on_its_own_port(
    make_relay: Any,
) -> None:
    from relay.appkeys import OPS
    from relay.ops.config import OpsConfig

    relay = await make_relay(ops=OpsConfig(metrics_listen=("127.0.0.1", 0)))
    port = relay.server.app[OPS].metrics_port
    assert port is not None
    session = relay.session
    async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200
        samples = parse(await resp.text())
    assert value(samples, "agent_relay_connections", kind="agent") == 0
    async with session.get(f"http://127.0.0.1:{port}/api/agents") as resp:
        assert resp.status == 404


async def test_notification_deliveries_and_failures_are_counted_by_channel(
    make_relay: Any, make_token: Any, connect_agent: Any, make_receiver: Any
) -> None:

    from relay.appkeys import NOTIFIER
    from tests.contract.test_activity import WAITING

    good = await make_receiver()
    bad = await make_receiver(answers=[404])
    relay = await make_relay(notify_webhooks=(good.url,), notify_ntfy=(bad.url,),
                             notify_retry_delay=0.01, notify_timeout=2.0)
    agent = await connect_agent(relay, "a1")
    await agent.send("agent:activity", activity=WAITING)
    await good.next()
    await bad.next()
    notifier = relay.server.app[NOTIFIER]
    assert notifier is not None
    async with deadline(5):
        await notifier.drained()
    m = await scrape(relay, make_token("admin", sub="root"))
    assert value(m, "agent_relay_notifications_delivered_total", channel="webhook") == 1
    assert value(m, "agent_relay_notifications_failed_total", channel="ntfy") == 1
    assert ("agent_relay_notifications_failed_total", (("channel", "webhook"),)) not in m
    await agent.close()
