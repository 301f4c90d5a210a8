from __future__ import annotations

from typing import Any


async def test_agent_output_reaches_a_subscribed_dashboard(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    assert agent.welcome["resume_from"] == 0
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1")
    sub = await dash.wait_for("subscribed")
    assert sub["from"] == 0
    await agent.output("a1", 0, b"hello")
    assert await dash.read_output("a1", 0, 5) == b"hello"
