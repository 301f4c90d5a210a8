"""Contract section 4, ``dashboard:connected``: through a real relay, the frame a
dashboard receives is byte for byte the encoding of the relay's agent listing for its
scope, after the agents changed (the relay builds it from cached per-agent texts)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import WSMsgType

from relay.appkeys import CONFIG, HUB
from relay.protocol import DashboardConnected, InputLimit, encode
from tests.unit.fakes import AllScope, PrefixScope


async def settled(agent: Any) -> None:
    """Everything the agent sent before is processed (the echo follows it)."""
    await agent.send("heartbeat", ts="sync")
    await agent.wait_for("heartbeat")


@pytest.mark.parametrize(
    ("agents", "scope", "visible"),
    [
        pytest.param(None, AllScope(), ["a1", "a2", "b1"], id="all"),
        pytest.param(["a*"], PrefixScope("a"), ["a1", "a2"], id="scoped"),
    ],
)
async def test_connected_is_the_encoded_listing_after_agents_changed(
    relay: Any, connect_agent: Any, connect_dashboard: Any, open_ws: Any, make_token: Any,
    agents: list[str] | None, scope: Any, visible: list[str],
) -> None:
    a1 = await connect_agent(relay, "a1", labels={"team": "ü ✓"})
    a2 = await connect_agent(relay, "a2")
    b1 = await connect_agent(relay, "b1")
    watcher = await connect_dashboard(relay)
    for step in range(3):  # a fresh dashboard after each round of changes
        await a1.output("a1", step * 4, b"out\n")
        await a2.send("agent:status", state="idle" if step else "running", pid=5,
                      cols=100 + step, rows=30)
        for agent in (a1, a2):
            await settled(agent)
        if step == 2:
            await b1.send("agent:status", state="exited", pid=None, cols=80, rows=24,
                          exit_code=1)
            await settled(b1)
            await a2.close()
            await watcher.wait_for("agent:status", lambda m: m["agent"]["state"] == "disconnected")
        dash = await open_ws(relay, "/ws/dashboard")
        await dash.send("dashboard:connect", protocol=1,
                        token=make_token("viewer", sub="vera", agents=agents))
        kind, text = await dash.frame()
        assert kind is WSMsgType.TEXT
        listing = tuple(await relay.app[HUB].list_agents(scope))
        assert [a.agent_id for a in listing] == visible
        config = relay.app[CONFIG]
        assert text == encode(DashboardConnected(
            session_id=json.loads(text)["session_id"], sub="vera", role="viewer", agents=listing,
            input_limit=InputLimit(rate=config.rate_limit, burst=config.rate_burst),
        ))
        await dash.close()
