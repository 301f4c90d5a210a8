"""Audit (contract section 12) on a real relay: the file, ``GET /api/audit``, no tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relay.ops.config import OpsConfig


async def settle(dash: Any) -> None:
    """The relay handles a connection's messages in order: once the heartbeat's echo is
    back, every message sent before it was handled (and audited)."""
    await dash.send("heartbeat", ts=7)
    await dash.wait_for("heartbeat")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def audit(client: Any, token: str, **query: Any) -> list[dict[str, Any]]:
    resp = await client.get("/api/audit", params=query,
                            headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    records: list[dict[str, Any]] = (await resp.json())["records"]
    return records


async def test_every_control_action_is_one_line_with_its_outcome_and_no_token(
    make_relay: Any, make_token: Any, connect_agent: Any, connect_dashboard: Any,
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit" / "audit.log"
    relay = await make_relay(ops=OpsConfig(audit_log=log))
    agent_token = make_token("agent", sub="a1")
    agent = await connect_agent(relay, "a1", token=agent_token)
    dash_token = make_token("operator", sub="alice", agents=["a*"])
    dash = await connect_dashboard(relay, token=dash_token)
    await dash.send("command:request", agent_id="a1", request_id="r1", input="make test")
    await dash.send("terminal:input", agent_id="a1", data="päss\r")
    await dash.send("terminal:resize", agent_id="a1", cols=100, rows=30)
    await dash.send("command:interrupt", agent_id="a1", request_id="i1")
    await dash.send("command:request", agent_id="zz", request_id="r2", input="rm -rf /")
    await dash.send("command:request", agent_id="a2", request_id="r3", input="ls")
    viewer = await connect_dashboard(relay, role="viewer", sub="vic")
    await viewer.send("terminal:input", agent_id="a1", data="q")
    await settle(dash)
    await settle(viewer)

    records = lines(log)
    assert log.stat().st_mode & 0o777 == 0o600
    summary = [(r["sub"], r["role"], r["agent_id"], r["action"], r["outcome"]) for r in records]
    assert summary == [
        ("alice", "operator", "a1", "command:request", "sent"),
        ("alice", "operator", "a1", "terminal:input", "sent"),
        ("alice", "operator", "a1", "terminal:resize", "sent"),
        ("alice", "operator", "a1", "command:interrupt", "sent"),
        ("alice", "operator", "zz", "command:request", "forbidden"),
        ("alice", "operator", "a2", "command:request", "unknown_agent"),
        ("vic", "viewer", "a1", "terminal:input", "forbidden"),
    ]
    command, keys, resize, interrupt = records[:4]
    assert (command["request_id"], command["input"], command["submit"]) == ("r1", "make test", True)
    assert keys["bytes"] == len("päss\r".encode())
    assert "data" not in keys
    assert "päss" not in log.read_text()
    assert (resize["cols"], resize["rows"]) == (100, 30)
    assert (interrupt["request_id"], interrupt["signal"]) == ("i1", "SIGINT")
    assert all(isinstance(r["time"], float) and r["session_id"] for r in records)
    text = log.read_text()
    for token in (agent_token, dash_token):
        assert token not in text
        assert token.split(".")[2] not in text  # not even the signature
    await agent.close()
    await dash.close()
    await viewer.close()


async def test_a_command_to_an_agent_that_went_away_is_audited_as_agent_offline(
    relay: Any, make_token: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await agent.close()
    await dash.wait_for("agent:status", lambda m: m["agent"]["state"] == "disconnected")
    await dash.send("command:request", agent_id="a1", request_id="r1", input="ls")
    assert (await dash.error())["code"] == "agent_offline"
    [record] = await audit(relay, make_token("admin", sub="root"))
    assert (record["action"], record["outcome"]) == ("command:request", "agent_offline")
    await dash.close()


async def test_api_audit_filters_by_agent_sub_and_time_newest_first(
    relay: Any, make_token: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    a1, a2 = await connect_agent(relay, "a1"), await connect_agent(relay, "a2")
    alice = await connect_dashboard(relay, sub="alice")
    bob = await connect_dashboard(relay, sub="bob")
    await alice.send("terminal:resize", agent_id="a1", cols=81, rows=24)
    await settle(alice)
    await bob.send("terminal:resize", agent_id="a2", cols=82, rows=24)
    await settle(bob)
    await alice.send("terminal:resize", agent_id="a2", cols=83, rows=24)
    await settle(alice)
    admin = make_token("admin", sub="root")

    every = await audit(relay, admin)
    assert [r["cols"] for r in every] == [83, 82, 81]
    assert [r["cols"] for r in await audit(relay, admin, agent="a2")] == [83, 82]
    assert [r["cols"] for r in await audit(relay, admin, sub="alice")] == [83, 81]
    assert [r["cols"] for r in await audit(relay, admin, sub="alice", agent="a2")] == [83]
    middle = every[1]["time"]
    assert [r["cols"] for r in await audit(relay, admin, since=middle)] == [83, 82]
    assert [r["cols"] for r in await audit(relay, admin, until=middle)] == [82, 81]
    assert [r["cols"] for r in await audit(relay, admin, limit=1)] == [83]
    scoped = make_token("admin", sub="root", agents=["a1"])
    assert [r["cols"] for r in await audit(relay, scoped)] == [81]
    for peer in (a1, a2, alice, bob):
        await peer.close()


@pytest.mark.parametrize(
    ("role", "query", "status"),
    [(None, {}, 401), ("operator", {}, 403), ("viewer", {}, 403),
     ("admin", {"since": "yesterday"}, 400), ("admin", {"limit": "0"}, 400)],
)
async def test_api_audit_is_for_admins_with_valid_filters(
    relay: Any, make_token: Any, role: str | None, query: dict[str, str], status: int
) -> None:
    headers = {} if role is None else {"Authorization": f"Bearer {make_token(role)}"}
    resp = await relay.get("/api/audit", params=query, headers=headers)
    assert resp.status == status
    assert (await resp.json())["error"]


async def test_the_audit_file_is_rotated_by_size(
    make_relay: Any, connect_agent: Any, connect_dashboard: Any, tmp_path: Path
) -> None:
    log = tmp_path / "audit.log"
    relay = await make_relay(ops=OpsConfig(audit_log=log, audit_max_bytes=1000, audit_backups=2))
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    for n in range(40):
        await dash.send("terminal:resize", agent_id="a1", cols=10 + n, rows=24)
    await settle(dash)
    files = [log, log.with_name("audit.log.1"), log.with_name("audit.log.2")]
    assert all(f.stat().st_size <= 1000 for f in files)
    assert not log.with_name("audit.log.3").exists()
    kept = [r["cols"] for f in reversed(files) for r in lines(f)]
    assert kept == list(range(10 + 40 - len(kept), 50))  # the newest, in order, none torn
    await agent.close()
    await dash.close()


WAITING = {
    "state": "waiting", "since": 100.5, "reason": "permission",
    "prompt": "Allow Bash: rm -rf build?", "options": None, "decision_id": "d-1",
    "detail": None, "agent_kind": "claude", "source": "hook",
}


async def test_a_permission_decision_is_audited_with_its_text_and_a_stale_one_too(
    make_relay: Any, make_token: Any, connect_agent: Any, connect_dashboard: Any,
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit.log"
    relay = await make_relay(ops=OpsConfig(audit_log=log))
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay, sub="alice")
    await agent.send("agent:activity", activity=WAITING)
    await dash.wait_for("agent:status", lambda m: m["agent"]["activity"] is not None)
    await dash.send("permission:decide", agent_id="a1", request_id="p1", decision_id="d-1",
                    decision="deny", message="use make clean")
    await agent.expect("permission:decide")
    await dash.send("permission:decide", agent_id="a1", request_id="p2", decision_id="d-0",
                    decision="allow")
    assert (await dash.error())["code"] == "stale_decision"
    await settle(dash)
    decided, stale = lines(log)
    assert decided == {**decided, "action": "permission:decide", "outcome": "sent",
                       "request_id": "p1", "decision_id": "d-1", "decision": "deny",
                       "message": "use make clean", "sub": "alice", "agent_id": "a1"}
    assert (stale["outcome"], stale["decision"], stale["decision_id"]) == (
        "stale_decision", "allow", "d-0")
    assert "message" not in stale
    await agent.close()
    await dash.close()
