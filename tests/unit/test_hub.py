"""LocalHub through its interface, with in-memory peers: offsets, subscriptions, fan-out."""

from __future__ import annotations

from typing import Any

import pytest

from relay.hub.interface import AgentConn, Control, DashboardConn, Hub, HubError, Scope
from relay.hub.local import LocalHub
from relay.protocol import (
    AgentHello,
    AgentStatus,
    CommandInterrupt,
    CommandRequest,
    Direction,
    ErrorCode,
    Prepared,
    TerminalInput,
    TerminalOutput,
    TerminalResize,
    decode,
)
from tests.timing import deadline
from tests.unit.fakes import AllScope, FakePeer, PrefixScope


def make_hub(scrollback: int = 1024, forget_after: float = 3600.0) -> LocalHub:
    return LocalHub(scrollback_bytes=scrollback, forget_after=forget_after, clock=lambda: 42.0)


def hello(agent_id: str = "a1") -> AgentHello:
    return AgentHello(agent_id=agent_id, name=agent_id, host="h", command=("sh",), pid=1,
                      cols=80, rows=24, started_at=1.0)


async def attach(hub: Hub, agent_id: str = "a1", conn_id: str = "c1") -> AgentConn:
    conn = AgentConn(agent_id=agent_id, conn_id=conn_id, sub=agent_id, peer=FakePeer())
    await hub.attach_agent(conn, hello(agent_id))
    return conn


async def dashboard(hub: Hub, scope: Scope | None = None, binary: bool = False) -> DashboardConn:
    conn = DashboardConn(session_id="s", sub="d", role="operator", scope=scope or AllScope(),
                         binary=binary, peer=FakePeer())
    await hub.attach_dashboard(conn)
    return conn


def peer(conn: AgentConn | DashboardConn) -> FakePeer:
    assert isinstance(conn.peer, FakePeer)
    return conn.peer


async def out(hub: Hub, conn: AgentConn, offset: int, data: bytes) -> None:
    await hub.agent_output(conn, TerminalOutput(agent_id=conn.agent_id, offset=offset, data=data))


def stream(conn: DashboardConn, agent_id: str = "a1") -> list[tuple[int, bytes]]:
    """The (offset, bytes) of every output message, in order."""
    result = []
    for m in peer(conn).messages():
        if m["type"] == "terminal:output" and m["agent_id"] == agent_id:
            data = m["data"] if isinstance(m["data"], bytes) else m["data"].encode()
            result.append((m["offset"], data))
    return result


async def test_welcome_of_a_new_agent_resumes_from_zero() -> None:
    hub = make_hub()
    conn = await attach(hub)
    assert peer(conn).messages() == [{"type": "agent:welcome", "agent_id": "a1", "resume_from": 0}]


async def test_welcome_of_a_returning_agent_resumes_from_the_end() -> None:
    hub = make_hub()
    first = await attach(hub)
    await out(hub, first, 0, b"hello")
    await hub.detach_agent(first)
    second = await attach(hub, conn_id="c2")
    assert peer(second).of_type("agent:welcome")[0]["resume_from"] == 5


async def test_a_second_connection_replaces_the_first_with_4409() -> None:
    hub = make_hub()
    first = await attach(hub)
    await attach(hub, conn_id="c2")
    assert peer(first).close_code == 4409


async def test_output_of_a_replaced_connection_is_ignored() -> None:
    hub = make_hub()
    first = await attach(hub)
    await attach(hub, conn_id="c2")
    await out(hub, first, 0, b"stale")
    assert (await hub.get_agent("a1")).offset == 0  # type: ignore[union-attr]


async def test_the_record_has_the_time_and_end_of_the_latest_output() -> None:
    now = [10.0]
    hub = LocalHub(scrollback_bytes=1024, forget_after=3600.0, clock=lambda: now[0])
    conn = await attach(hub)
    for offset, data, at in ((0, b"abc", 11.0), (3, b"de", 12.5), (1, b"bc", 13.0)):
        now[0] = at
        await out(hub, conn, offset, data)
        now[0] = 99.0  # the record keeps the time of the output, not of the read
        info = await hub.get_agent("a1")
        assert info is not None
        assert (info.last_seen, info.offset) == (at, 5 if at > 11 else 3)
        assert [(i.last_seen, i.offset) for i in await hub.list_agents(AllScope())] == [
            (info.last_seen, info.offset)]
    now[0] = 14.0
    await hub.agent_status(conn, AgentStatus(state="idle", pid=1, cols=80, rows=24))
    info = await hub.get_agent("a1")
    assert info is not None
    assert (info.last_seen, info.offset, info.state) == (14.0, 5, "idle")


async def test_subscribe_replays_then_streams_live_exactly_once() -> None:
    hub = make_hub()
    agent = await attach(hub)
    await out(hub, agent, 0, b"abc")
    dash = await dashboard(hub)
    await hub.subscribe(dash, "a1", None)
    await out(hub, agent, 3, b"def")
    await out(hub, agent, 1, b"bcdefg")  # a resend overlapping the end: only "g" is new
    assert peer(dash).of_type("subscribed") == [
        {"type": "subscribed", "agent_id": "a1", "from": 0, "offset": 3}
    ]
    assert stream(dash) == [(0, b"abc"), (3, b"def"), (6, b"g")]


async def test_subscribe_with_since_inside_a_chunk_slices_it() -> None:
    hub = make_hub()
    agent = await attach(hub)
    await out(hub, agent, 0, b"abcdef")
    dash = await dashboard(hub)
    await hub.subscribe(dash, "a1", 4)
    assert stream(dash) == [(4, b"ef")]


async def test_subscribe_since_beyond_the_end_waits_for_the_stream() -> None:
    hub = make_hub()
    agent = await attach(hub)
    dash = await dashboard(hub)
    await hub.subscribe(dash, "a1", 5)
    await out(hub, agent, 0, b"abc")
    await out(hub, agent, 3, b"defgh")
    assert peer(dash).of_type("subscribed")[0]["from"] == 5
    assert stream(dash) == [(5, b"fgh")]


async def test_subscribe_before_the_retained_start_announces_the_gap_in_from() -> None:
    hub = make_hub(scrollback=4)
    agent = await attach(hub)
    await out(hub, agent, 0, b"abcdefgh")
    dash = await dashboard(hub)
    await hub.subscribe(dash, "a1", 0)
    assert peer(dash).of_type("subscribed")[0]["from"] == 4
    assert stream(dash) == [(4, b"efgh")]


async def test_output_past_the_end_sends_a_gap_to_subscribers() -> None:
    hub = make_hub()
    agent = await attach(hub)
    dash = await dashboard(hub)
    await hub.subscribe(dash, "a1", None)
    await out(hub, agent, 0, b"ab")
    await out(hub, agent, 10, b"xy")
    msgs = [m for m in peer(dash).messages() if m["type"] in ("terminal:output", "terminal:gap")]
    assert [m["type"] for m in msgs] == ["terminal:output", "terminal:gap", "terminal:output"]
    assert (msgs[1]["from"], msgs[1]["to"]) == (2, 10)


async def test_resubscribe_drops_queued_output_and_restarts() -> None:
    hub = make_hub()
    agent = await attach(hub)
    await out(hub, agent, 0, b"abcdef")
    dash = await dashboard(hub)
    await hub.subscribe(dash, "a1", 0)
    await hub.subscribe(dash, "a1", 3)
    assert stream(dash) == [(3, b"def")]


async def test_no_output_after_unsubscribed() -> None:
    hub = make_hub()
    agent = await attach(hub)
    dash = await dashboard(hub)
    await hub.subscribe(dash, "a1", None)
    await hub.unsubscribe(dash, "a1")
    await out(hub, agent, 0, b"abc")
    assert peer(dash).messages()[-1] == {"type": "unsubscribed", "agent_id": "a1"}
    assert stream(dash) == []


async def test_fan_out_shares_one_encoded_frame_between_json_subscribers() -> None:
    hub = make_hub()
    agent = await attach(hub)
    dashes = [await dashboard(hub) for _ in range(3)]
    for d in dashes:
        await hub.subscribe(d, "a1", None)
    await out(hub, agent, 0, b"x")
    frames = [peer(d).frames[-1][0] for d in dashes]
    assert frames[0] is frames[1] is frames[2]


async def test_binary_dashboards_get_the_binary_form() -> None:
    hub = make_hub()
    agent = await attach(hub)
    dash = await dashboard(hub, binary=True)
    await hub.subscribe(dash, "a1", None)
    await out(hub, agent, 0, b"\x1b[31m")
    assert isinstance(peer(dash).frames[-1][0], bytes)
    assert stream(dash) == [(0, b"\x1b[31m")]


async def test_status_events_go_only_to_dashboards_in_scope() -> None:
    hub = make_hub()
    inside = await dashboard(hub, PrefixScope("a"))
    outside = await dashboard(hub, PrefixScope("b"))
    conn = await attach(hub)
    await hub.agent_status(conn, AgentStatus(state="idle", pid=1, cols=100, rows=30))
    states = [m["agent"]["state"] for m in peer(inside).of_type("agent:status")]
    assert states == ["running", "idle"]
    assert peer(outside).of_type("agent:status") == []


async def test_connected_lists_only_agents_in_scope() -> None:
    hub = make_hub()
    await attach(hub, "a1")
    await attach(hub, "b1", conn_id="c2")
    dash = await dashboard(hub, PrefixScope("b"))
    assert [a["agent_id"] for a in peer(dash).messages()[0]["agents"]] == ["b1"]


async def test_disconnect_marks_the_agent_disconnected() -> None:
    hub = make_hub()
    conn = await attach(hub)
    await hub.detach_agent(conn)
    assert (await hub.get_agent("a1")).state == "disconnected"  # type: ignore[union-attr]


async def test_an_exited_agent_stays_exited_after_disconnect() -> None:
    hub = make_hub()
    conn = await attach(hub)
    await hub.agent_status(conn, AgentStatus(state="exited", pid=1, cols=80, rows=24,
                                             exit_code=3))
    await hub.detach_agent(conn)
    info = await hub.get_agent("a1")
    assert info is not None
    assert (info.state, info.exit_code) == ("exited", 3)


async def test_control_to_an_unknown_agent_is_unknown_agent() -> None:
    hub = make_hub()
    dash = await dashboard(hub)
    from relay.protocol import TerminalInput

    with pytest.raises(HubError) as info:
        await hub.control(dash, TerminalInput(agent_id="zz", data="x"))
    assert info.value.code is ErrorCode.UNKNOWN_AGENT


async def test_control_to_a_disconnected_agent_is_agent_offline() -> None:
    hub = make_hub()
    conn = await attach(hub)
    await hub.detach_agent(conn)
    dash = await dashboard(hub)
    from relay.protocol import TerminalInput

    with pytest.raises(HubError) as info:
        await hub.control(dash, TerminalInput(agent_id="a1", data="x"))
    assert info.value.code is ErrorCode.AGENT_OFFLINE


async def _request(hub: Hub, dash: DashboardConn, rid: str) -> None:
    from relay.protocol import CommandRequest

    await hub.control(dash, CommandRequest(agent_id="a1", request_id=rid, input="ls"))


async def test_acks_with_the_same_request_id_go_to_their_own_dashboards() -> None:
    from relay.protocol import CommandAck

    hub = make_hub()
    agent = await attach(hub)
    one, two = await dashboard(hub), await dashboard(hub)
    await _request(hub, one, "r1")
    await _request(hub, two, "r1")
    sent = peer(agent).of_type("command:request")
    assert sent[0]["request_id"] != sent[1]["request_id"]
    assert "agent_id" not in sent[0]
    await hub.agent_ack(agent, CommandAck(request_id=sent[1]["request_id"], ok=True))
    assert peer(one).of_type("command:ack") == []
    assert peer(two).of_type("command:ack") == [
        {"type": "command:ack", "agent_id": "a1", "request_id": "r1", "ok": True}
    ]


async def test_disconnect_before_ack_answers_ok_false() -> None:
    hub = make_hub()
    agent = await attach(hub)
    dash = await dashboard(hub)
    await _request(hub, dash, "r9")
    await hub.detach_agent(agent)
    acks = peer(dash).of_type("command:ack")
    assert len(acks) == 1
    assert acks[0]["request_id"] == "r9"
    assert acks[0]["ok"] is False
    assert acks[0]["error"]


async def test_an_ack_from_another_connection_is_ignored() -> None:
    from relay.protocol import CommandAck

    hub = make_hub()
    agent = await attach(hub)
    other = await attach(hub, "b1", conn_id="c2")
    dash = await dashboard(hub)
    await _request(hub, dash, "r1")
    rid = peer(agent).of_type("command:request")[0]["request_id"]
    await hub.agent_ack(other, CommandAck(request_id=rid, ok=True))
    assert peer(dash).of_type("command:ack") == []


async def test_forget_after_removes_a_disconnected_agent() -> None:

    hub = make_hub(forget_after=0.01)
    dash = await dashboard(hub)
    conn = await attach(hub)
    await hub.detach_agent(conn)
    async with deadline(2):
        await peer(dash).wait_for("agent:removed")
    assert await hub.get_agent("a1") is None


async def test_read_output_of_an_unknown_agent_is_none() -> None:
    assert await make_hub().read_output("nope", None) is None


async def test_list_agents_is_sorted_and_scoped() -> None:
    hub = make_hub()
    for aid, cid in (("b2", "1"), ("a1", "2"), ("b1", "3")):
        await attach(hub, aid, conn_id=cid)
    infos: list[Any] = await hub.list_agents(PrefixScope("b"))
    assert [i.agent_id for i in infos] == ["b1", "b2"]


# --------------------------------------------------------------------------- state_since
# One table for both hubs (``tests/integration/redis/test_redis_state_since.py`` plays it
# on the Redis hub): steps at given clock times, then the agent's state and state_since.


class Clock:
    """A settable clock for the hubs' ``clock`` parameter."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


Step = tuple[float, str]

#: (steps, final state, final state_since). Steps: "hello" (a new connection, replacing
#: the previous one), "running"/"idle" (a status; the same state again is what a sidecar
#: sends after a resize), "exit" (exited 3), "drop" (the connection ends).
STATE_SINCE: list[Any] = [
    pytest.param([(10.0, "hello")], "running", 10.0, id="set-at-attach"),
    pytest.param([(10.0, "hello"), (20.0, "running")], "running", 10.0,
                 id="a-resize-while-running-keeps-it"),
    pytest.param([(10.0, "hello"), (20.0, "idle")], "idle", 20.0, id="running-to-idle-moves-it"),
    pytest.param([(10.0, "hello"), (20.0, "idle"), (30.0, "idle")], "idle", 20.0,
                 id="a-resize-while-idle-keeps-it"),
    pytest.param([(10.0, "hello"), (20.0, "idle"), (30.0, "running")], "running", 30.0,
                 id="idle-to-running-moves-it"),
    pytest.param([(10.0, "hello"), (20.0, "exit")], "exited", 20.0, id="exit-moves-it"),
    pytest.param([(10.0, "hello"), (20.0, "drop")], "disconnected", 20.0,
                 id="disconnect-moves-it"),
    pytest.param([(10.0, "hello"), (20.0, "exit"), (30.0, "drop")], "exited", 20.0,
                 id="a-disconnect-after-exit-keeps-it"),
    pytest.param([(10.0, "hello"), (20.0, "drop"), (30.0, "hello")], "running", 30.0,
                 id="a-reconnect-moves-it"),
    pytest.param([(10.0, "hello"), (20.0, "hello")], "running", 10.0,
                 id="a-replacing-connection-while-running-keeps-it"),
    pytest.param([(10.0, "hello"), (20.0, "idle"), (30.0, "hello")], "running", 30.0,
                 id="a-replacing-connection-while-idle-moves-it"),
]


async def play(hub: Hub, clock: Clock, steps: list[Step], agent_id: str = "a1") -> None:
    conn: AgentConn | None = None
    for n, (at, step) in enumerate(steps):
        clock.now = at
        if step == "hello":
            conn = await attach(hub, agent_id, conn_id=f"c{n}")
            continue
        assert conn is not None
        if step == "drop":
            await hub.detach_agent(conn)
        elif step == "exit":
            await hub.agent_status(conn, AgentStatus("exited", None, 80, 24, exit_code=3))
        else:
            cols = 80 + n  # a status that keeps the state still changes something
            await hub.agent_status(conn, AgentStatus(step, 1, cols, 24))  # type: ignore[arg-type]


@pytest.mark.parametrize(("steps", "state", "since"), STATE_SINCE)
async def test_state_since_moves_only_when_the_state_changes(
    steps: list[Step], state: str, since: float
) -> None:
    clock = Clock()
    hub = LocalHub(scrollback_bytes=1024, forget_after=3600.0, clock=clock)
    dash = await dashboard(hub)
    await play(hub, clock, steps)
    info = await hub.get_agent("a1")
    assert info is not None
    assert (info.state, info.state_since) == (state, since)
    last = peer(dash).of_type("agent:status")[-1]["agent"]
    assert (last["state"], last["state_since"]) == (state, since)
    fresh = await dashboard(hub)
    assert peer(fresh).messages()[0]["agents"][0]["state_since"] == since


async def test_state_since_is_the_hubs_clock_not_the_agents_started_at() -> None:
    clock = Clock(5000.0)
    hub = LocalHub(scrollback_bytes=1024, forget_after=3600.0, clock=clock)
    await attach(hub)  # started_at=1.0
    info = await hub.get_agent("a1")
    assert info is not None
    assert (info.started_at, info.state_since) == (1.0, 5000.0)


@pytest.mark.parametrize("msg", [
    TerminalInput(data="ls -l\r\u00e9", agent_id="a1"),
    CommandRequest(request_id="r1", input="make", submit=False, agent_id="a1"),
    TerminalResize(cols=132, rows=50, agent_id="a1"),
    CommandInterrupt(request_id="r2", signal="SIGTERM", agent_id="a1"),
])
async def test_a_control_frame_carries_the_message_its_text_decodes_to(msg: Control) -> None:
    """An agent in the relay's process takes the carried message instead of decoding the
    text: the two must be the same message."""
    hub = make_hub()
    conn = await attach(hub)
    await hub.control(await dashboard(hub), msg)
    frame = peer(conn).frames[-1][0]
    assert isinstance(frame, Prepared)
    assert frame.direction is Direction.RELAY_TO_AGENT
    assert decode(str(frame), Direction.RELAY_TO_AGENT) == frame.message
    assert decode(frame, Direction.RELAY_TO_AGENT) is frame.message
