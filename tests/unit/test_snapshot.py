"""A relay's agents handed to a successor: the snapshot format and LocalHub's import."""

from __future__ import annotations

import dataclasses

import pytest

from relay.hub.interface import AgentConn, DashboardConn
from relay.hub.local import LocalHub
from relay.hub.snapshot import AgentRecord, SnapshotError, bounded, dumps, loads
from relay.protocol import Activity, AgentHello, AgentInfo, AgentStatus, TerminalOutput
from tests.timing import deadline
from tests.unit.fakes import AllScope, FakePeer

SECRET = b"s" * 32


def info(agent_id: str, state: str = "exited", **fields: object) -> AgentInfo:
    base = AgentInfo(
        agent_id=agent_id, name=agent_id, host="h", command=("sh",), labels={}, pid=7,
        cols=80, rows=24, started_at=100.0, state=state, exit_code=3 if state == "exited" else None,  # type: ignore[arg-type]
        last_seen=150.0, offset=0, state_since=140.0,
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def test_a_snapshot_round_trips_records_and_output() -> None:
    waiting = Activity(state="waiting", since=141.0, agent_kind="claude", source="hook",
                       reason="question", prompt="Go on?")
    records = [
        AgentRecord(info("done", offset=12), 2, b"\x00\xffbinary!!!"),
        AgentRecord(info("live", "running", activity=waiting, offset=0), 0, b""),
    ]
    back = loads(dumps(records, secret=SECRET, written_at=160.0), secret=SECRET)
    assert back == records


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"not json", "not valid JSON"),
        (b'{"version": 2}', "not a version 1"),
        (b'{"version": 1, "secret_sha256": "00"}', "another secret"),
    ],
)
def test_an_unusable_snapshot_is_refused(raw: bytes, why: str) -> None:
    with pytest.raises(SnapshotError, match=why):
        loads(raw, secret=SECRET)


def test_a_snapshot_for_another_secret_is_refused() -> None:
    raw = dumps([AgentRecord(info("a"), 0, b"x")], secret=SECRET, written_at=1.0)
    with pytest.raises(SnapshotError, match="another secret"):
        loads(raw, secret=b"t" * 32)


def test_a_broken_record_is_refused() -> None:
    raw = dumps([AgentRecord(info("a"), 0, b"x")], secret=SECRET, written_at=1.0)
    with pytest.raises(SnapshotError, match="record is invalid"):
        loads(raw.replace(b'"state":"exited"', b'"state":"sleeping"'), secret=SECRET)


def test_bounded_keeps_every_record_and_the_newest_output() -> None:
    records = [
        AgentRecord(info("old", last_seen=1.0), 0, b"a" * 100),
        AgentRecord(info("new", last_seen=2.0), 50, b"b" * 100),
    ]
    cut = bounded(records, agent_bytes=80, total_bytes=120)
    assert [r.info.agent_id for r in cut] == ["old", "new"]
    # Each at most 80 bytes; then the least recently seen gives up the rest.
    assert [(r.start, len(r.data), r.end) for r in cut] == [(60, 40, 100), (70, 80, 150)]


def hello(agent_id: str, pid: int = 7) -> AgentHello:
    return AgentHello(agent_id=agent_id, name=agent_id, host="h", command=("sh",), pid=pid,
                      cols=80, rows=24, started_at=100.0)


async def test_an_imported_agent_keeps_state_time_in_state_and_output_when_its_sidecar_returns() -> None:
    old = LocalHub(scrollback_bytes=1024, forget_after=60.0, clock=lambda: 150.0)
    conn = AgentConn(agent_id="live", conn_id="c1", sub="live", peer=FakePeer())
    await old.attach_agent(conn, hello("live"))
    await old.agent_output(conn, TerminalOutput(agent_id="live", offset=0, data=b"hello"))
    await old.agent_status(conn, AgentStatus(state="idle", pid=7, cols=80, rows=24))
    [exported] = old.export_agents()
    assert (exported.start, exported.data, exported.info.state) == (0, b"hello", "idle")

    new = LocalHub(scrollback_bytes=1024, forget_after=60.0, clock=lambda: 200.0)
    assert new.import_agents([exported], grace=30.0) == 1
    again = AgentConn(agent_id="live", conn_id="c2", sub="live", peer=FakePeer())
    assert await new.attach_agent(again, hello("live")) == 5  # resume after what it has
    back = await new.get_agent("live")
    assert back is not None
    assert (back.state, back.state_since) == ("idle", 150.0)
    # A new process under the same id starts afresh.
    await new.detach_agent(again)
    fresh = AgentConn(agent_id="live", conn_id="c3", sub="live", peer=FakePeer())
    await new.attach_agent(fresh, hello("live", pid=8))
    renewed = await new.get_agent("live")
    assert renewed is not None
    assert (renewed.state, renewed.state_since) == ("running", 200.0)
    await old.close()
    await new.close()


async def test_an_imported_agent_that_never_returns_turns_disconnected_and_exited_ones_are_forgotten_on_time() -> None:
    now = [1000.0]
    hub = LocalHub(scrollback_bytes=1024, forget_after=0.2, clock=lambda: now[0])
    hub.import_agents([
        AgentRecord(info("gone", "running", state_since=990.0), 0, b"x"),
        # Exited 0.1 s "ago" with --forget-after 0.2: forgotten after about 0.1 s more.
        AgentRecord(info("done", state_since=999.9), 0, b"y"),
        AgentRecord(info("ancient", state_since=1.0), 0, b"z"),
    ], grace=0.05)
    watcher = DashboardConn(session_id="s", sub="d", role="viewer", scope=AllScope(),
                            binary=False, peer=FakePeer())
    await hub.attach_dashboard(watcher)
    peer = watcher.peer
    assert isinstance(peer, FakePeer)
    [connected] = peer.messages()
    assert {a["agent_id"] for a in connected["agents"]} == {"gone", "done", "ancient"}

    def seen() -> tuple[set[str], set[str]]:
        removed = {m["agent_id"] for m in peer.of_type("agent:removed")}
        disconnected = {m["agent"]["agent_id"] for m in peer.of_type("agent:status")
                        if m["agent"]["state"] == "disconnected"}
        return removed, disconnected

    async with deadline(5):
        while seen() != ({"done", "ancient"}, {"gone"}):
            peer.changed.clear()
            await peer.changed.wait()
    await hub.close()
