"""Recordings on a real relay: ``GET /api/agents/{id}/cast`` replayed by ``asciinema``."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from relay.app import create_app
from relay.ops.config import OpsConfig
from tests.timing import deadline

ASCIINEMA = shutil.which("asciinema") or str(Path(sys.executable).with_name("asciinema"))


async def asciinema(*args: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        ASCIINEMA, *args, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    async with deadline(30):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out


async def synced(agent: Any) -> None:
    """Everything the sidecar sent before this heartbeat's echo was handled."""
    await agent.send("heartbeat", ts=1)
    await agent.wait_for("heartbeat")


async def fetch_cast(client: Any, token: str, agent_id: str, tmp_path: Path) -> Path:
    resp = await client.get(f"/api/agents/{agent_id}/cast",
                            headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/x-asciicast")
    path = tmp_path / "fetched" / f"{agent_id}-{id(resp)}.cast"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(await resp.read())
    return path


def events(path: Path) -> tuple[dict[str, Any], list[list[Any]]]:
    head, *rest = path.read_text().splitlines()
    return json.loads(head), [json.loads(line) for line in rest]


async def test_a_cast_has_the_output_resizes_and_markers_and_asciinema_replays_it(
    relay: Any, make_token: Any, connect_agent: Any, tmp_path: Path
) -> None:
    agent = await connect_agent(relay, "a1", cols=80, rows=24)
    await agent.output("a1", 0, b"hello \xc3")           # a character cut in two
    await agent.output("a1", 7, b"\xa9t\xc3\xa9\r\n")
    await agent.send("agent:status", state="running", pid=1, cols=100, rows=30)
    await agent.output("a1", 13, b"\x1b[1mbold\x1b[0m\r\n")
    await agent.send("agent:status", state="exited", pid=1, cols=100, rows=30, exit_code=3)
    await synced(agent)

    path = await fetch_cast(relay, make_token("viewer"), "a1", tmp_path)
    head, evs = events(path)
    assert (head["version"], head["width"], head["height"]) == (2, 80, 24)
    kinds = [e[1] for e in evs]
    runs = [k for i, k in enumerate(kinds) if i == 0 or k != "o" or kinds[i - 1] != "o"]
    assert runs == ["o", "r", "o", "m"]  # output within 10 ms is one event
    assert [e[2] for e in evs if e[1] != "o"] == ["100x30", "exited (code 3)"]
    times = [e[0] for e in evs]
    assert times == sorted(times)
    expected = "hello été\r\n\x1b[1mbold\x1b[0m\r\n".encode()
    assert await asciinema("cat", str(path)) == expected
    assert await asciinema("play", "-s", "1000", "-i", "0.01", str(path)) == expected
    await agent.close()


async def test_a_cast_needs_a_token_that_may_see_the_agent(
    relay: Any, make_token: Any, connect_agent: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    for headers, status in [
        ({}, 401),
        ({"Authorization": f"Bearer {make_token('viewer', agents=['b*'])}"}, 403),
        ({"Authorization": f"Bearer {make_token('agent', sub='a1')}"}, 403),
    ]:
        resp = await relay.get("/api/agents/a1/cast", headers=headers)
        assert resp.status == status
    resp = await relay.get("/api/agents/nobody/cast",
                           headers={"Authorization": f"Bearer {make_token('viewer')}"})
    assert resp.status == 404
    await agent.close()


async def test_record_dir_keeps_what_the_scrollback_dropped(
    make_relay: Any, make_token: Any, connect_agent: Any, tmp_path: Path
) -> None:
    records = tmp_path / "casts"
    relay = await make_relay(scrollback_bytes=64, ops=OpsConfig(record_dir=records))
    agent = await connect_agent(relay, "a1")
    lines = [f"line {n:04d}\r\n".encode() for n in range(100)]
    offset = 0
    for line in lines:
        await agent.output("a1", offset, line)
        offset += len(line)
    await agent.output("a1", 0, lines[0])               # a resend: dropped as a duplicate
    await synced(agent)
    path = await fetch_cast(relay, make_token("viewer"), "a1", tmp_path)
    assert await asciinema("cat", str(path)) == b"".join(lines)
    assert (records / "a1.cast").stat().st_mode & 0o777 == 0o600
    output = await relay.get("/api/agents/a1/output",
                             headers={"Authorization": f"Bearer {make_token('viewer')}"})
    assert len(await output.read()) <= 64
    await agent.close()


async def test_a_recording_stops_with_a_marker_at_its_size_cap(
    make_relay: Any, make_token: Any, connect_agent: Any, tmp_path: Path
) -> None:
    relay = await make_relay(ops=OpsConfig(record_dir=tmp_path, record_max_bytes=600))
    agent = await connect_agent(relay, "a1")
    for n in range(40):
        await agent.output("a1", n * 10, f"chunk {n:02d}\r\n".encode())
    await synced(agent)
    path = await fetch_cast(relay, make_token("viewer"), "a1", tmp_path)
    assert path.stat().st_size <= 600 + 100
    _, evs = events(path)
    assert evs[-1][1:] == ["m", "recording stopped: size cap reached"]
    shown = await asciinema("cat", str(path))
    assert shown.startswith(b"chunk 00\r\n")
    assert shown.endswith(b"\r\n")
    assert len(shown) < 400
    await agent.close()


async def test_a_restarted_relay_continues_the_agents_cast_file(
    aiohttp_client: Any, make_config: Any, make_token: Any, connect_agent: Any,
    tmp_path: Path,
) -> None:
    config = make_config(ops=OpsConfig(record_dir=tmp_path / "casts"))
    first = await aiohttp_client(create_app(config))
    agent = await connect_agent(first, "a1")
    await agent.output("a1", 0, b"before\r\n")
    await synced(agent)
    await agent.close()
    await first.close()

    second = await aiohttp_client(create_app(config))
    agent = await connect_agent(second, "a1")
    await agent.output("a1", agent.welcome["resume_from"], b"after\r\n")
    await synced(agent)
    path = await fetch_cast(second, make_token("viewer"), "a1", tmp_path)
    _head, evs = events(path)
    assert sum(1 for line in path.read_text().splitlines() if '"version"' in line) == 1
    assert [e[1] for e in evs] == ["o", "r", "o"]  # the size, again after the restart
    assert [e[0] for e in evs] == sorted(e[0] for e in evs)
    assert await asciinema("cat", str(path)) == b"before\r\nafter\r\n"
    await agent.close()


async def test_activity_changes_and_decisions_are_markers_and_agents_count_by_activity(
    relay: Any, make_token: Any, connect_agent: Any, connect_dashboard: Any, tmp_path: Path
) -> None:
    waiting = {"state": "waiting", "since": 1.0, "reason": "permission", "prompt": "Allow?",
               "options": None, "decision_id": "d-1", "detail": None,
               "agent_kind": "claude", "source": "hook"}
    working = {"state": "working", "since": 2.0, "reason": None, "prompt": None,
               "options": None, "decision_id": None, "detail": "make",
               "agent_kind": "claude", "source": "hook"}
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay, sub="alice")
    await agent.output("a1", 0, b"Allow? ")
    await agent.send("agent:activity", activity=waiting)
    await agent.send("agent:activity", activity=waiting)    # a repeat: no second marker
    await dash.wait_for("agent:status", lambda m: m["agent"]["activity"] is not None)
    resp = await relay.get("/metrics",
                           headers={"Authorization": f"Bearer {make_token('admin')}"})
    assert 'agent_relay_agents_activity{activity="waiting"} 1.0' in await resp.text()
    await dash.send("permission:decide", agent_id="a1", request_id="p1", decision_id="d-1",
                    decision="allow")
    await agent.expect("permission:decide")
    await agent.send("agent:activity", activity=working)
    await agent.output("a1", 7, b"yes\r\n")
    await synced(agent)

    path = await fetch_cast(relay, make_token("viewer"), "a1", tmp_path)
    _, evs = events(path)
    assert [e[2] for e in evs if e[1] == "m"] == [
        "activity: waiting (permission)", "decision: allow by alice", "activity: working"]
    assert await asciinema("cat", str(path)) == b"Allow? yes\r\n"
    await agent.close()
    await dash.close()
