"""``dashboard:connected`` from cached per-agent texts is byte for byte what
``encode(DashboardConnected(...))`` gives for the same state.

Three levels: the codec's splice (a table and a Hypothesis property), the cache
(:class:`relay.hub.agent_list.AgentList`: reuse, and overrides that look equal but encode
differently), and both hubs driven through agent updates, exits, disconnects and
removals, with an all-seeing and a scoped dashboard connecting after each step. The
reference is always the uncached encoder over the hub's own listing.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.hub.agent_list import AgentList
from relay.hub.interface import AgentConn, DashboardConn, Hub, Scope
from relay.hub.local import LocalHub
from relay.protocol import (
    AGENT_INFO_STATES,
    AgentHello,
    AgentInfo,
    AgentStatus,
    DashboardConnected,
    Heartbeat,
    TerminalOutput,
    encode,
)
from relay.protocol.codec import encode_agent_info, encode_dashboard_connected
from relay.redis.hub import RedisHub
from tests.redis_server import RedisServer, redis_server
from tests.timing import deadline
from tests.unit.fakes import AllScope, FakePeer, PrefixScope

__all__ = ["redis_server"]

WAIT = 5.0


def info(agent_id: str = "a1", **fields: object) -> AgentInfo:
    base = AgentInfo(
        agent_id=agent_id, name=agent_id, host="h", command=("sh", "-c", "x"), labels={},
        pid=7, cols=80, rows=24, started_at=1.5, state="running", exit_code=None,
        last_seen=2.25, offset=0,
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def head(session_id: str = "s", role: str = "viewer") -> DashboardConnected:
    return DashboardConnected(session_id=session_id, sub="d", role=role,  # type: ignore[arg-type]
                              agents=())


# --------------------------------------------------------------------------- codec

CASES = [
    pytest.param((), id="no-agents"),
    pytest.param((info(),), id="one"),
    pytest.param((info("a1"), info("a2", state="exited", exit_code=3, pid=None)), id="exited"),
    pytest.param((info(name="żółw ✓ \"q\"\n", labels={"k": "v", "ü": "\u2028"}),),
                 id="unicode-and-escapes"),
    pytest.param((info(last_seen=5, started_at=0, offset=2**53),), id="int-timestamps"),
    pytest.param((info(last_seen=-0.0, started_at=1e300),), id="float-edges"),
    pytest.param((info(state="idle", state_since=2.0), info("a2", state_since=3)),
                 id="state-since"),
]


@pytest.mark.parametrize("agents", CASES)
def test_spliced_texts_equal_the_encoded_message(agents: tuple[AgentInfo, ...]) -> None:
    msg = head()
    expected = encode(dataclasses.replace(msg, agents=agents))
    assert encode_dashboard_connected(msg, [encode_agent_info(a) for a in agents]) == expected


_text = st.text(max_size=12)
_infos = st.builds(
    AgentInfo,
    agent_id=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,12}\Z"),
    name=_text, host=_text,
    command=st.lists(_text, max_size=3).map(tuple),
    labels=st.dictionaries(_text, _text, max_size=3),
    pid=st.none() | st.integers(1, 2**22),
    cols=st.integers(1, 1000), rows=st.integers(1, 1000),
    started_at=st.floats(allow_nan=False, allow_infinity=False) | st.integers(0, 2**40),
    state=st.sampled_from(AGENT_INFO_STATES),
    exit_code=st.none() | st.integers(-255, 255),
    last_seen=st.floats(allow_nan=False, allow_infinity=False) | st.integers(0, 2**40),
    offset=st.integers(0, 2**53),
    state_since=st.none() | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(0, 2**40),
)


@given(st.lists(_infos, max_size=5), _text, st.sampled_from(["viewer", "operator", "admin"]))
def test_any_agent_list_splices_to_the_encoded_message(
    agents: list[AgentInfo], sub: str, role: str
) -> None:
    msg = DashboardConnected(session_id="s", sub=sub, role=role, agents=())  # type: ignore[arg-type]
    expected = encode(dataclasses.replace(msg, agents=tuple(agents)))
    assert encode_dashboard_connected(msg, map(encode_agent_info, agents)) == expected


def test_splicing_refuses_a_message_that_already_lists_agents() -> None:
    with pytest.raises(ValueError, match="encoded texts"):
        encode_dashboard_connected(dataclasses.replace(head(), agents=(info(),)), [])


# --------------------------------------------------------------------------- cache


def test_the_text_of_an_unchanged_agent_is_reused() -> None:
    agents, a = AgentList(), info()
    first = agents.text(a)
    assert first == encode_agent_info(a)
    assert agents.text(a) is first


def test_a_changed_agent_is_encoded_again() -> None:
    agents, a = AgentList(), info()
    agents.text(a)
    b = dataclasses.replace(a, state="idle", cols=100)  # same offset and last_seen
    assert agents.text(b) == encode_agent_info(b)


@pytest.mark.parametrize(
    ("base", "offset", "last_seen"),
    [
        pytest.param(info(offset=3, last_seen=2.0), 9, 4.5, id="newer"),
        pytest.param(info(offset=3, last_seen=2.0), 3, 2.0, id="same-values"),
        pytest.param(info(offset=3, last_seen=5), 3, 5.0, id="int-vs-float"),
        pytest.param(info(offset=3, last_seen=5.0), 3, 5, id="float-vs-int"),
        pytest.param(info(offset=3, last_seen=0.0), 3, -0.0, id="signed-zero"),
    ],
)
def test_overrides_encode_like_the_replaced_info(
    base: AgentInfo, offset: int, last_seen: float
) -> None:
    agents = AgentList()
    agents.text(base)  # a cached text of the plain info must not be taken for this one
    expected = encode_agent_info(dataclasses.replace(base, offset=offset, last_seen=last_seen))
    assert agents.text(base, offset=offset, last_seen=last_seen) == expected
    assert agents.text(base, offset=offset, last_seen=last_seen) == expected
    assert agents.text(base) == encode_agent_info(base)


def test_discard_drops_the_text() -> None:
    agents = AgentList()
    agents.text(info("a1"))
    agents.text(info("a2"))
    agents.discard("a1")
    agents.discard("nope")
    assert len(agents) == 1


# --------------------------------------------------------------------------- hubs

SCOPES: list[Scope] = [AllScope(), PrefixScope("a"), PrefixScope("zz")]
CONN_IDS = itertools.count()


def hello(agent_id: str, **fields: object) -> AgentHello:
    base = AgentHello(agent_id=agent_id, name=agent_id, host="h", command=("sh",), pid=1,
                      cols=80, rows=24, started_at=1.0)
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


async def attach(hub: Hub, agent_id: str, **fields: object) -> AgentConn:
    conn = AgentConn(agent_id=agent_id, conn_id=f"{agent_id}-{next(CONN_IDS)}", sub=agent_id,
                     peer=FakePeer())
    await hub.attach_agent(conn, hello(agent_id, **fields))
    return conn


async def dashboard(hub: Hub, scope: Scope, n: int = 0) -> DashboardConn:
    conn = DashboardConn(session_id=f"s{n}", sub="d", role="operator", scope=scope,
                         binary=False, peer=FakePeer())
    await hub.attach_dashboard(conn)
    return conn


async def check_connects(hub: Hub, visible: Callable[[Scope], list[str]] | None = None) -> None:
    """A fresh dashboard per scope gets exactly the uncached encoding of the listing."""
    for n, scope in enumerate(SCOPES):
        conn = await dashboard(hub, scope, n)
        assert isinstance(conn.peer, FakePeer)
        [(frame, _)] = conn.peer.frames
        listed = tuple(await hub.list_agents(scope))
        assert frame == encode(DashboardConnected(
            session_id=conn.session_id, sub=conn.sub, role=conn.role, agents=listed
        ))
        if visible is not None:
            assert [a.agent_id for a in listed] == visible(scope)
        await hub.detach_dashboard(conn)


async def status(hub: Hub, conn: AgentConn, **fields: object) -> None:
    base = AgentStatus(state="running", pid=1, cols=80, rows=24)
    await hub.agent_status(conn, dataclasses.replace(base, **fields))  # type: ignore[arg-type]


async def output(hub: Hub, conn: AgentConn, offset: int, data: bytes) -> None:
    await hub.agent_output(conn, TerminalOutput(agent_id=conn.agent_id, offset=offset,
                                                data=data))


async def stored(hub: Hub, conn: AgentConn) -> None:
    """Wait until everything sent on ``conn`` is stored (the heartbeat echo says so)."""
    assert isinstance(conn.peer, FakePeer)
    conn.peer.frames.clear()
    await hub.agent_heartbeat(conn, Heartbeat(ts=1))
    async with deadline(WAIT):
        await conn.peer.wait_for("heartbeat")


async def removed(conn: DashboardConn, agent_id: str) -> None:
    assert isinstance(conn.peer, FakePeer)
    async with deadline(WAIT):
        while not any(m["agent_id"] == agent_id for m in conn.peer.of_type("agent:removed")):
            conn.peer.changed.clear()
            await conn.peer.changed.wait()


def ticking_clock() -> Callable[[], float]:
    ticks = itertools.count(1000)
    return lambda: next(ticks) / 4  # a new last_seen on every call, ints and floats alike


def still_clock() -> Callable[[], float]:
    return lambda: 42.0  # changes that leave last_seen as it was


@pytest.mark.parametrize("clock", [ticking_clock, still_clock])
async def test_local_hub_connects_match_the_uncached_encoding_through_every_change(
    clock: Callable[[], Callable[[], float]],
) -> None:
    hub = LocalHub(scrollback_bytes=1024, forget_after=0.01, clock=clock())
    await check_connects(hub, lambda s: [])
    a1, a2, b1 = await attach(hub, "a1"), await attach(hub, "a2"), await attach(hub, "b1")
    await check_connects(hub)
    await output(hub, a1, 0, b"hello")  # offset and last_seen
    await check_connects(hub)
    await hub.agent_seen(a2)  # last_seen only
    await check_connects(hub)
    await status(hub, a2, state="idle", cols=132, rows=40, pid=99)
    await check_connects(hub)
    await status(hub, b1, state="exited", pid=None, exit_code=3)
    await check_connects(hub)
    await hub.detach_agent(a1)  # disconnected
    await check_connects(hub)
    a1 = await attach(hub, "a1", name="żółw ✓", labels={"team": "ü"}, cols=90)  # re-hello
    await check_connects(hub)
    watcher = await dashboard(hub, AllScope(), 9)
    await hub.detach_agent(b1)  # exited and gone: forgotten after forget_after
    await removed(watcher, "b1")
    await check_connects(hub, lambda s: [a for a in ("a1", "a2") if s.may_see(a)])
    assert len(hub._agent_list) == 2  # the forgotten agent's text is not kept


async def test_local_hub_connect_reuses_texts_only_while_agents_are_unchanged() -> None:
    hub = LocalHub(scrollback_bytes=1024, forget_after=60.0, clock=ticking_clock())
    a1 = await attach(hub, "a1")
    await attach(hub, "a2")
    await check_connects(hub)
    await check_connects(hub)  # nothing changed: every text from the cache
    await output(hub, a1, 0, b"x")
    await check_connects(hub)  # a1 changed in between: its text is not stale


# --------------------------------------------------------------------------- redis


@pytest.fixture
async def redis_hub(redis_server: RedisServer) -> AsyncIterator[RedisHub]:
    hub = RedisHub(url=redis_server.url, scrollback_bytes=1 << 16, forget_after=0.05,
                   liveness_ttl=1.0, sweep_interval=0.2, prefix="agent-list-test")
    await hub.start()
    try:
        yield hub
    finally:
        await hub.close()


@pytest.mark.redis
async def test_redis_hub_connects_match_the_uncached_encoding_through_every_change(
    redis_hub: RedisHub,
) -> None:
    hub = redis_hub
    await check_connects(hub, lambda s: [])
    a1, a2, b1 = await attach(hub, "a1"), await attach(hub, "a2"), await attach(hub, "b1")
    await check_connects(hub)
    # Output and heartbeats move the stream's end and last_seen in Redis but not the
    # relay's copy of the record: connect overrides them, and the cache must follow.
    await output(hub, a1, 0, b"hello")
    await stored(hub, a1)
    await check_connects(hub)
    await output(hub, a1, 5, b" world")
    await stored(hub, a1)
    await check_connects(hub)
    await status(hub, a2, state="idle", cols=132, rows=40, pid=99)
    await check_connects(hub)
    await hub.detach_agent(a1)  # disconnected (forgotten later; a1 is back before that)
    a1 = await attach(hub, "a1", name="żółw ✓", labels={"team": "ü"}, cols=90)  # re-hello
    await check_connects(hub)
    watcher = await dashboard(hub, AllScope(), 9)
    await status(hub, b1, state="exited", pid=None, exit_code=3)
    await hub.detach_agent(b1)
    await removed(watcher, "b1")
    await check_connects(hub, lambda s: [a for a in ("a1", "a2") if s.may_see(a)])
    assert len(hub._agent_list) == 2  # the forgotten agent's text is not kept
