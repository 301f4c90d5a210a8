"""Contract section 4: the per-connection rate limit on input-bearing messages."""

from __future__ import annotations

from typing import Any


async def test_over_the_burst_an_input_is_dropped_with_rate_limited(
    make_relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    relay = await make_relay(rate_limit=0.5, rate_burst=3)
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    for n in range(4):
        await dash.send("terminal:input", agent_id="a1", data=f"k{n}")
    error = await dash.expect("error")
    assert error["code"] == "rate_limited"
    assert 0 < error["retry_after"] <= 2.0
    assert [(await agent.expect("terminal:input"))["data"] for _ in range(3)] == ["k0", "k1", "k2"]
    await agent.send("heartbeat", ts=1)
    assert (await agent.expect("heartbeat"))["ts"] == 1  # k3 was not delivered


async def test_an_invalid_input_bearing_message_spends_a_token(
    make_relay: Any, connect_dashboard: Any
) -> None:
    relay = await make_relay(rate_limit=0.5, rate_burst=2)
    dash = await connect_dashboard(relay)
    await dash.send("terminal:resize", agent_id="a1")  # invalid: no cols/rows
    await dash.send("command:request", agent_id="a1")  # invalid: no request_id/input
    assert (await dash.expect("error"))["code"] == "invalid_message"
    assert (await dash.expect("error"))["code"] == "invalid_message"
    await dash.send("command:request", agent_id="a1", request_id="r3", input="x")
    error = await dash.expect("error")
    assert (error["code"], error["ref"]) == ("rate_limited", "r3")


async def test_non_input_messages_spend_no_tokens(
    make_relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    relay = await make_relay(rate_limit=0.5, rate_burst=1)
    await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    for n in range(5):
        await dash.send("heartbeat", ts=n)
        await dash.send("subscribe", agent_id="a1")
        await dash.send("unknown:kind")
    await dash.send("terminal:resize", agent_id="a1", cols=10, rows=10)
    await dash.send("heartbeat", ts="last")
    while (msg := await dash.recv())["type"] != "heartbeat" or msg["ts"] != "last":
        assert msg.get("code") != "rate_limited", msg


async def test_the_rate_limit_is_per_connection(
    make_relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    relay = await make_relay(rate_limit=0.5, rate_burst=1)
    agent = await connect_agent(relay, "a1")
    one = await connect_dashboard(relay, sub="one")
    two = await connect_dashboard(relay, sub="two")
    await one.send("terminal:input", agent_id="a1", data="1")
    await one.send("terminal:input", agent_id="a1", data="x")
    assert (await one.expect("error"))["code"] == "rate_limited"
    await two.send("terminal:input", agent_id="a1", data="2")
    assert [(await agent.expect("terminal:input"))["data"] for _ in range(2)] == ["1", "2"]


async def test_dashboard_connected_tells_the_connections_limit(
    make_relay: Any, connect_dashboard: Any
) -> None:
    """An addition (docs/protocol.md): the limit is in ``dashboard:connected`` so that a
    client can pace its input instead of having it dropped."""
    relay = await make_relay(rate_limit=0.01, rate_burst=7)
    dash = await connect_dashboard(relay, role="viewer")
    assert dash.connected["input_limit"] == {"rate": 0.01, "burst": 7}
    for n in range(8):
        await dash.send("terminal:resize", agent_id="a1", cols=80, rows=24 + n)
    for _ in range(7):  # a viewer: each spends a token, then is refused
        assert (await dash.expect("error"))["code"] == "forbidden"
    assert (await dash.expect("error"))["code"] == "rate_limited"  # the eighth, as told
