"""Contract section 8: /healthz and the REST API with its 401/403/404/400 answers."""

from __future__ import annotations

from typing import Any

import pytest


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _sync(agent: Any) -> None:
    await agent.send("heartbeat", ts="sync")
    await agent.wait_for("heartbeat")


async def test_healthz_is_ok_without_auth(relay: Any) -> None:
    resp = await relay.get("/healthz")
    assert (resp.status, await resp.json()) == (200, {"status": "ok"})


async def test_agents_lists_agent_info_filtered_by_scope(
    relay: Any, connect_agent: Any, make_token: Any
) -> None:
    await connect_agent(relay, "web-1")
    await connect_agent(relay, "db-1")
    resp = await relay.get("/api/agents", headers=_auth(make_token("viewer", agents=["web-*"])))
    body = await resp.json()
    assert resp.status == 200
    assert [a["agent_id"] for a in body["agents"]] == ["web-1"]
    # The contract's fields, plus state_since (docs/protocol.md: an addition its section 1
    # allows, since unknown fields are ignored).
    assert set(body["agents"][0]) == {
        "agent_id", "name", "host", "command", "labels", "pid", "cols", "rows", "started_at",
        "state", "exit_code", "last_seen", "offset", "state_since", "signal", "activity"}


@pytest.mark.parametrize("path", ["/api/agents", "/api/agents/a1", "/api/agents/a1/output"])
async def test_the_api_needs_a_valid_bearer_token(relay: Any, path: str) -> None:
    assert (await relay.get(path)).status == 401
    resp = await relay.get(path, headers=_auth("bogus"))
    assert (resp.status, (await resp.json())["error"]) == (401, "unauthenticated")


async def test_a_token_in_the_query_string_is_not_accepted(relay: Any, make_token: Any) -> None:
    assert (await relay.get(f"/api/agents?token={make_token('admin')}")).status == 401


async def test_the_agent_role_may_not_read_the_api(relay: Any, make_token: Any) -> None:
    resp = await relay.get("/api/agents", headers=_auth(make_token("agent", sub="a1")))
    assert resp.status == 403


async def test_an_agent_out_of_scope_is_403_whether_or_not_it_exists(
    relay: Any, connect_agent: Any, make_token: Any
) -> None:
    await connect_agent(relay, "db-1")
    headers = _auth(make_token("admin", agents=["web-*"]))
    assert (await relay.get("/api/agents/db-1", headers=headers)).status == 403
    assert (await relay.get("/api/agents/db-2", headers=headers)).status == 403
    assert (await relay.get("/api/agents/db-1/output", headers=headers)).status == 403


async def test_an_unknown_agent_in_scope_is_404(relay: Any, make_token: Any) -> None:
    headers = _auth(make_token("viewer"))
    resp = await relay.get("/api/agents/nobody", headers=headers)
    assert (resp.status, (await resp.json())["error"]) == (404, "unknown_agent")
    assert (await relay.get("/api/agents/nobody/output", headers=headers)).status == 404


async def test_one_agent_is_its_agent_info(
    relay: Any, connect_agent: Any, make_token: Any
) -> None:
    await connect_agent(relay, "a1", name="builder", labels={"k": "v"})
    resp = await relay.get("/api/agents/a1", headers=_auth(make_token("viewer")))
    info = await resp.json()
    assert (info["name"], info["labels"], info["state"]) == ("builder", {"k": "v"}, "running")


async def test_output_returns_the_retained_bytes_with_offset_headers(
    relay: Any, connect_agent: Any, make_token: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.output("a1", 0, b"hello ")
    await agent.output("a1", 6, b"\xffworld")
    await _sync(agent)
    resp = await relay.get("/api/agents/a1/output", headers=_auth(make_token("viewer")))
    assert resp.status == 200
    assert resp.content_type == "application/octet-stream"
    assert (resp.headers["X-Output-Offset"], resp.headers["X-Output-End"]) == ("0", "12")
    assert await resp.read() == b"hello \xffworld"


async def test_output_since_starts_there(relay: Any, connect_agent: Any, make_token: Any) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.output("a1", 0, b"0123456789")
    await _sync(agent)
    resp = await relay.get("/api/agents/a1/output?since=7", headers=_auth(make_token("viewer")))
    assert (resp.headers["X-Output-Offset"], await resp.read()) == ("7", b"789")


async def test_output_since_beyond_the_end_is_empty(
    relay: Any, connect_agent: Any, make_token: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.output("a1", 0, b"abc")
    await _sync(agent)
    resp = await relay.get("/api/agents/a1/output?since=99", headers=_auth(make_token("viewer")))
    assert (resp.status, resp.headers["X-Output-End"], await resp.read()) == (200, "3", b"")


async def test_output_since_before_the_retained_start_shows_the_gap(
    make_relay: Any, connect_agent: Any, make_token: Any
) -> None:
    relay = await make_relay(scrollback_bytes=4)
    agent = await connect_agent(relay, "a1")
    await agent.output("a1", 0, b"abcdefgh")
    await _sync(agent)
    resp = await relay.get("/api/agents/a1/output?since=0", headers=_auth(make_token("viewer")))
    assert (resp.headers["X-Output-Offset"], await resp.read()) == ("4", b"efgh")


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", "", "99999999999999999999999"])
async def test_a_bad_since_is_400_with_a_json_error(
    relay: Any, connect_agent: Any, make_token: Any, since: str
) -> None:
    await connect_agent(relay, "a1")
    resp = await relay.get(f"/api/agents/a1/output?since={since}",
                           headers=_auth(make_token("viewer")))
    assert (resp.status, (await resp.json())["error"]) == (400, "invalid_message")
