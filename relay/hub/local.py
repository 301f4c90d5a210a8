"""The in-process :class:`relay.hub.interface.Hub`: one relay's agents, scrollback and routing.

Every method runs to completion without awaiting anything, so each is atomic on the
event loop: a ``subscribe`` snapshots the scrollback and starts live delivery in one
step, which is what makes "every byte exactly once, in order" hold.

Fan-out encodes each chunk at most once per form (JSON text, binary frame) and enqueues
the same object on every subscriber's :class:`relay.hub.interface.Peer`. A subscriber whose
position differs from the chunk's start (it asked for a ``since`` inside the chunk) gets
a sliced copy of its own. ``dashboard:connected`` joins per-agent texts kept until the
agent changes (:class:`relay.hub.agent_list.AgentList`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from relay.hub.agent_list import AgentList
from relay.hub.budget import Budget
from relay.hub.interface import (
    Acked,
    AgentConn,
    ChangeObserver,
    Control,
    DashboardConn,
    HubError,
    OutputSlice,
    Scope,
    info_after_activity,
    same_process,
    stale_decision,
)
from relay.hub.presence import Presence, presence_message
from relay.hub.scrollback import Chunk, Scrollback
from relay.hub.snapshot import AgentRecord
from relay.protocol import (
    TYPING_SECONDS,
    Activity,
    AgentHello,
    AgentInfo,
    AgentInfoState,
    AgentRemoved,
    AgentStatus,
    AgentStatusEvent,
    AgentWelcome,
    CloseCode,
    CommandAck,
    Direction,
    ErrorCode,
    Heartbeat,
    PermissionDecide,
    Subscribed,
    TerminalGap,
    TerminalInput,
    TerminalOutput,
    Unsubscribed,
    encode,
    encode_binary_output,
    encode_terminal_input,
    prepared,
)

log = logging.getLogger(__name__)
TO_AGENT = Direction.RELAY_TO_AGENT


@dataclass(slots=True)
class _Agent:
    _info: AgentInfo
    scrollback: Scrollback
    conn: AgentConn | None = None
    forget: asyncio.TimerHandle | None = None
    #: subscriber -> next offset it expects
    subscribers: dict[DashboardConn, int] = field(default_factory=dict)
    #: The info dashboards were last told about (what a change observer compares with).
    announced: AgentInfo | None = None
    #: Loaded from a predecessor's snapshot and not reconnected since: its sidecar's
    #: first hello continues the record (state, time in state, activity).
    imported: bool = False
    #: When output last came, if after ``_info`` was stored: the record's ``last_seen``
    #: and ``offset`` (the scrollback's end) are brought up to date when it is read, not
    #: copied on every output frame.
    _output_at: float | None = None

    @property
    def agent_id(self) -> str:
        """The id, without bringing the record up to date (it never changes)."""
        return self._info.agent_id

    @property
    def info(self) -> AgentInfo:
        if self._output_at is not None:
            self._info = dataclasses.replace(
                self._info, last_seen=self._output_at, offset=self.scrollback.end
            )
            self._output_at = None
        return self._info

    @info.setter
    def info(self, info: AgentInfo) -> None:
        self._info = info
        self._output_at = None

    def output_seen(self, now: float) -> None:
        """Output came at ``now`` (the scrollback has it)."""
        self._output_at = now


@dataclass(frozen=True, slots=True)
class _Pending:
    dashboard: DashboardConn
    request_id: str
    agent_id: str
    conn: AgentConn


def _chunk_text(agent_id: str, chunk: Chunk) -> str:
    return encode(TerminalOutput(agent_id=agent_id, offset=chunk.offset, data=chunk.data))


def _chunk_binary(agent_id: str, chunk: Chunk) -> bytes:
    return encode_binary_output(agent_id, chunk.offset, chunk.data)


class LocalHub:
    """Implements :class:`relay.hub.interface.Hub` in memory."""

    def __init__(
        self,
        *,
        scrollback_bytes: int,
        forget_after: float,
        clock: Callable[[], float] = time.time,
        on_change: ChangeObserver | None = None,
        typing_seconds: float = TYPING_SECONDS,
        scrollback_budget: int | None = None,
    ) -> None:
        self._scrollback_bytes = scrollback_bytes
        self._budget = Budget(scrollback_budget)
        self._on_change = on_change
        self._forget_after = forget_after
        self._clock = clock
        self._agents: dict[str, _Agent] = {}
        self._agent_list = AgentList()
        self._dashboards: dict[DashboardConn, set[str]] = {}
        self._pending: dict[str, _Pending] = {}
        self._prefix = secrets.token_hex(4)
        self._counter = 0
        self._presence = Presence(
            announce=self._send_presence, clock=clock, typing_seconds=typing_seconds
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._presence.close()
        for agent in self._agents.values():
            if agent.forget is not None:
                agent.forget.cancel()
                agent.forget = None

    async def healthy(self) -> bool:
        return True

    # ------------------------------------------------------------------ sidecar side

    async def attach_agent(self, conn: AgentConn, hello: AgentHello) -> int:
        now = self._clock()
        agent = self._agents.get(hello.agent_id)
        if agent is None:
            agent = _Agent(
                self._info_from_hello(hello, now, offset=0),
                scrollback=Scrollback(self._scrollback_bytes),
            )
            self._agents[hello.agent_id] = agent
        else:
            old = agent.conn
            if old is not None and old is not conn:
                self._fail_pending(old, "the agent's connection was replaced before the ack")
                old.peer.close(CloseCode.REPLACED, "replaced by a newer connection")
            info = self._info_from_hello(hello, now, offset=agent.scrollback.end)
            if agent.info.state == "running":  # replaced while running: no new state
                info = dataclasses.replace(info, state_since=agent.info.state_since)
            if same_process(agent.info, hello):  # a reconnect: what it did still holds
                info = dataclasses.replace(info, activity=agent.info.activity)
                if agent.imported and agent.info.state in ("running", "idle"):
                    # Back after a takeover: nothing changed for the agent itself.
                    info = dataclasses.replace(
                        info, state=agent.info.state, state_since=agent.info.state_since
                    )
            agent.imported = False
            agent.info = info
        self._cancel_forget(agent)
        self._budget.revived(hello.agent_id)
        agent.conn = conn
        resume_from = agent.scrollback.end
        conn.peer.send_text(encode(AgentWelcome(
            agent_id=hello.agent_id, resume_from=resume_from,
            max_message_bytes=conn.max_message_bytes)))
        self._broadcast_status(agent)
        return resume_from

    async def detach_agent(self, conn: AgentConn) -> None:
        self._fail_pending(conn, "the agent disconnected before it acknowledged")
        agent = self._agents.get(conn.agent_id)
        if agent is None or agent.conn is not conn:
            return
        agent.conn = None
        state: AgentInfoState = "exited" if agent.info.state == "exited" else "disconnected"
        self._stamp(agent, dataclasses.replace(agent.info, state=state))
        self._schedule_forget(agent)
        self._broadcast_status(agent)
        if state == "disconnected":
            self._budget.ended(conn.agent_id, exited=False)
            self._within_budget()

    async def agent_output(
        self, conn: AgentConn, chunk: TerminalOutput, frame: bytes | None = None
    ) -> None:
        self.agent_output_now(conn, chunk, frame)

    def agent_output_now(
        self, conn: AgentConn, chunk: TerminalOutput, frame: bytes | None = None
    ) -> None:
        agent = self._live(conn)
        if agent is None:
            return
        before = agent.scrollback.size
        appended = agent.scrollback.append(chunk.offset, chunk.data)
        agent.output_seen(self._clock())
        self._budget.add(agent.scrollback.size - before)
        if self._budget.over:
            self._within_budget()
        if appended.chunk is None:
            return
        self._fan_out(agent, appended.chunk, frame if appended.whole else None)

    async def agent_status(self, conn: AgentConn, status: AgentStatus) -> None:
        agent = self._live(conn)
        if agent is None:
            return
        info = dataclasses.replace(
            agent.info,
            state=status.state,
            pid=status.pid,
            cols=status.cols,
            rows=status.rows,
            exit_code=status.exit_code if status.state == "exited" else None,
            signal=status.signal if status.state == "exited" else None,
            activity=None if status.state == "exited" else agent.info.activity,
        )
        self._stamp(agent, info)
        if status.state == "exited":
            self._schedule_forget(agent)
            self._budget.ended(conn.agent_id, exited=True)
        else:
            self._cancel_forget(agent)
            self._budget.revived(conn.agent_id)
        self._broadcast_status(agent)
        if status.state == "exited":
            self._within_budget()

    async def agent_activity(self, conn: AgentConn, activity: Activity) -> None:
        agent = self._live(conn)
        if agent is None:
            return
        info = info_after_activity(agent.info, activity)
        if info is None:
            return
        self._stamp(agent, info)
        self._broadcast_status(agent)

    async def agent_ack(self, conn: AgentConn, ack: CommandAck) -> None:
        pending = self._pending.get(ack.request_id)
        self._touch(conn)
        if pending is None or pending.conn is not conn:
            log.debug("ignoring an ack for an unknown request from agent %s", conn.agent_id)
            return
        del self._pending[ack.request_id]
        if pending.dashboard in self._dashboards:
            pending.dashboard.peer.send_text(
                encode(
                    CommandAck(
                        agent_id=pending.agent_id,
                        request_id=pending.request_id,
                        ok=ack.ok,
                        error=ack.error,
                    )
                )
            )

    async def agent_heartbeat(self, conn: AgentConn, heartbeat: Heartbeat) -> None:
        conn.peer.send_text(encode(heartbeat))  # output is stored as it arrives
        self._touch(conn)

    async def agent_seen(self, conn: AgentConn) -> None:
        self._touch(conn)

    # ------------------------------------------------------------------ dashboard side

    async def attach_dashboard(self, conn: DashboardConn) -> None:
        self._dashboards[conn] = set()
        infos = await self.list_agents(conn.scope)
        conn.peer.send_text(self._agent_list.connected(conn, infos))

    async def detach_dashboard(self, conn: DashboardConn) -> None:
        subscribed = self._dashboards.pop(conn, set())
        for agent_id in subscribed:
            agent = self._agents.get(agent_id)
            if agent is not None:
                agent.subscribers.pop(conn, None)
        for rid in [r for r, p in self._pending.items() if p.dashboard is conn]:
            del self._pending[rid]
        self._presence.gone(conn)

    async def subscribe(self, conn: DashboardConn, agent_id: str, since: int | None) -> None:
        agent = self._known(agent_id)
        subscribed = self._dashboards.get(conn)
        if subscribed is None:
            return
        ring = agent.scrollback
        start = ring.start if since is None else max(since, ring.start)
        conn.peer.drop(agent_id)
        conn.peer.send_text(encode(Subscribed(agent_id=agent_id, from_=start, offset=ring.end)))
        chunks = ring.chunks_from(start)
        if chunks:
            conn.peer.send_replay(agent_id, self._replay(agent_id, chunks, conn.binary))
        agent.subscribers[conn] = max(start, ring.end)
        subscribed.add(agent_id)
        if not self._presence.subscribed(conn, agent_id) and conn.presence:
            self._send_presence(agent_id, only=conn)

    async def unsubscribe(self, conn: DashboardConn, agent_id: str) -> None:
        agent = self._agents.get(agent_id)
        if agent is not None:
            agent.subscribers.pop(conn, None)
        self._dashboards.get(conn, set()).discard(agent_id)
        conn.peer.drop(agent_id)
        conn.peer.send_text(encode(Unsubscribed(agent_id=agent_id)))
        self._presence.unsubscribed(conn, agent_id)

    async def control(self, conn: DashboardConn, msg: Control) -> None:
        agent_id = msg.agent_id
        assert agent_id is not None
        agent = self._known(agent_id)
        target = agent.conn
        if target is None:
            raise HubError(ErrorCode.AGENT_OFFLINE, f"agent '{agent_id}' is not connected")
        if isinstance(msg, PermissionDecide):
            stale = stale_decision(agent_id, agent.info.activity, msg)
            if stale is not None:
                raise stale
        # Prepared: an agent in this process takes the message without decoding it.
        if isinstance(msg, TerminalInput):  # one per keystroke: no copy of the message
            target.peer.send_text(prepared(
                encode_terminal_input(msg.data), TerminalInput(data=msg.data), TO_AGENT))
        else:
            out: Control
            if isinstance(msg, Acked):
                self._counter += 1
                relay_rid = f"{self._prefix}.{self._counter}"
                self._pending[relay_rid] = _Pending(conn, msg.request_id, agent_id, target)
                out = dataclasses.replace(msg, agent_id=None, request_id=relay_rid)
            else:
                out = dataclasses.replace(msg, agent_id=None)
            target.peer.send_text(prepared(encode(out), out, TO_AGENT))
        self._presence.typed(conn, agent_id, msg.TYPE)

    # ------------------------------------------------------------------ reads

    async def list_agents(self, scope: Scope) -> list[AgentInfo]:
        return [
            self._agents[aid].info for aid in sorted(self._agents) if scope.may_see(aid)
        ]

    async def get_agent(self, agent_id: str) -> AgentInfo | None:
        agent = self._agents.get(agent_id)
        return None if agent is None else agent.info

    async def read_output(self, agent_id: str, since: int | None) -> OutputSlice | None:
        agent = self._agents.get(agent_id)
        if agent is None:
            return None
        offset, data = agent.scrollback.read(since)
        return OutputSlice(offset=offset, end=agent.scrollback.end, data=data)

    # ------------------------------------------------------------------ takeover

    def connected_agents(self) -> int:
        """How many agents have a sidecar connected now."""
        return sum(1 for agent in self._agents.values() if agent.conn is not None)

    def export_agents(self) -> list[AgentRecord]:
        """Every agent's record and retained scrollback (for a successor relay)."""
        out = []
        for agent_id in sorted(self._agents):
            agent = self._agents[agent_id]
            start, data = agent.scrollback.read(None)
            out.append(AgentRecord(agent.info, start, data))
        return out

    def import_agents(self, records: list[AgentRecord], *, grace: float) -> int:
        """Take over a predecessor's agents (those this hub does not know yet).

        Exited and disconnected agents keep their state and are forgotten when their
        ``--forget-after`` runs out, counted from when they entered that state. Agents
        that were connected come back as they were and are expected to reconnect: one
        that has not within ``grace`` seconds turns ``disconnected``. Returns how many
        agents were taken over."""
        now = self._clock()
        taken = 0
        for record in records:
            agent_id = record.info.agent_id
            if agent_id in self._agents:
                continue
            ring = Scrollback(self._scrollback_bytes, end=record.start)
            if record.data:
                ring.append(record.start, record.data)
            agent = _Agent(
                dataclasses.replace(record.info, offset=ring.end), scrollback=ring,
                imported=True,
            )
            self._agents[agent_id] = agent
            self._budget.add(ring.size)
            taken += 1
            if agent.info.state in ("exited", "disconnected"):
                self._budget.ended(agent_id, exited=agent.info.state == "exited")
                since = agent.info.state_since or agent.info.last_seen
                self._schedule_forget(agent, max(0.0, since + self._forget_after - now))
            else:
                loop = asyncio.get_running_loop()
                agent.forget = loop.call_later(grace, self._orphaned, agent_id)
            self._broadcast_status(agent)
        return taken

    def _orphaned(self, agent_id: str) -> None:
        """A taken-over agent whose sidecar never came back."""
        agent = self._agents.get(agent_id)
        if agent is None or agent.conn is not None:
            return
        agent.forget = None
        agent.imported = False
        self._stamp(agent, dataclasses.replace(agent.info, state="disconnected"))
        self._schedule_forget(agent)
        self._broadcast_status(agent)

    # ------------------------------------------------------------------ internals

    def _info_from_hello(self, hello: AgentHello, now: float, offset: int) -> AgentInfo:
        return AgentInfo(
            agent_id=hello.agent_id,
            name=hello.name,
            host=hello.host,
            command=hello.command,
            labels=dict(hello.labels),
            pid=hello.pid,
            cols=hello.cols,
            rows=hello.rows,
            started_at=hello.started_at,
            state="running",
            exit_code=None,
            last_seen=now,
            offset=offset,
            state_since=now,
            local_terminal=hello.local_terminal,
        )

    def _known(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise HubError(ErrorCode.UNKNOWN_AGENT, f"unknown agent '{agent_id}'")
        return agent

    def _live(self, conn: AgentConn) -> _Agent | None:
        agent = self._agents.get(conn.agent_id)
        if agent is None or agent.conn is not conn:
            return None
        return agent

    def _touch(self, conn: AgentConn) -> None:
        agent = self._live(conn)
        if agent is not None:
            agent.info = dataclasses.replace(agent.info, last_seen=self._clock())

    def _stamp(self, agent: _Agent, info: AgentInfo) -> None:
        """Store ``info`` as seen now; ``state_since`` moves only if the state changed."""
        now = self._clock()
        since = info.state_since if info.state == agent.info.state else now
        agent.info = dataclasses.replace(
            info, last_seen=now, offset=agent.scrollback.end, state_since=since
        )

    def _broadcast_status(self, agent: _Agent) -> None:
        old, agent.announced = agent.announced, agent.info
        if self._on_change is not None:
            self._on_change(old, agent.info)
        text = encode(AgentStatusEvent(agent=agent.info))
        agent_id = agent.info.agent_id
        for dashboard in self._dashboards:
            if dashboard.scope.may_see(agent_id):
                dashboard.peer.send_text(text)

    def _send_presence(self, agent_id: str, only: DashboardConn | None = None) -> None:
        """``agent:presence`` to the agent's watchers (or to ``only``)."""
        if agent_id not in self._agents:
            return
        entries = self._presence.entries(agent_id)
        message = presence_message(
            agent_id, entries, self._clock(), self._presence.typing_seconds
        )
        text = encode(message)
        for conn in [only] if only is not None else self._presence.watchers(agent_id):
            conn.peer.send_text(text)

    def _fan_out(self, agent: _Agent, chunk: Chunk, frame: bytes | None) -> None:
        agent_id = agent.agent_id
        text: str | None = None
        binary = frame
        for dashboard, cursor in agent.subscribers.items():
            if cursor >= chunk.end:
                continue  # a since beyond this chunk: wait for the stream to reach it
            peer = dashboard.peer
            if cursor < chunk.offset:
                gap = TerminalGap(agent_id=agent_id, from_=cursor, to=chunk.offset)
                peer.send_text(encode(gap), agent_id=agent_id)
            elif cursor > chunk.offset:
                own = Chunk(cursor, chunk.data[cursor - chunk.offset:])
                if dashboard.binary:
                    peer.send_bytes(_chunk_binary(agent_id, own), agent_id=agent_id)
                else:
                    peer.send_text(_chunk_text(agent_id, own), agent_id=agent_id)
                agent.subscribers[dashboard] = chunk.end
                continue
            if dashboard.binary:
                if binary is None:
                    binary = _chunk_binary(agent_id, chunk)
                peer.send_bytes(binary, agent_id=agent_id)
            else:
                if text is None:
                    text = _chunk_text(agent_id, chunk)
                peer.send_text(text, agent_id=agent_id)
            agent.subscribers[dashboard] = chunk.end

    @staticmethod
    def _replay(agent_id: str, chunks: list[Chunk], binary: bool) -> Iterator[str | bytes]:
        for chunk in chunks:
            yield _chunk_binary(agent_id, chunk) if binary else _chunk_text(agent_id, chunk)

    def _fail_pending(self, conn: AgentConn, error: str) -> None:
        for rid in [r for r, p in self._pending.items() if p.conn is conn]:
            pending = self._pending.pop(rid)
            if pending.dashboard in self._dashboards:
                ack = CommandAck(
                    agent_id=pending.agent_id,
                    request_id=pending.request_id,
                    ok=False,
                    error=error,
                )
                pending.dashboard.peer.send_text(encode(ack))

    def _within_budget(self) -> None:
        """Free whole scrollbacks of ended agents, oldest first, until the total is
        within the budget (``relay.hub.budget``); their records stay."""
        budget = self._budget
        for agent_id in budget.candidates():
            if not budget.over:
                return
            agent = self._agents.get(agent_id)
            if agent is None or agent.info.state not in ("exited", "disconnected"):
                budget.revived(agent_id)
                continue
            freed = agent.scrollback.release()
            budget.add(-freed)
            budget.revived(agent_id)  # nothing left to free
            log.info("scrollback budget: freed %d bytes of %s agent %s (all scrollbacks now "
                     "%d bytes, budget %s)", freed, agent.info.state, agent_id,
                     budget.retained, budget.limit)

    def _schedule_forget(self, agent: _Agent, delay: float | None = None) -> None:
        self._cancel_forget(agent)
        loop = asyncio.get_running_loop()
        wait = self._forget_after if delay is None else delay
        agent.forget = loop.call_later(wait, self._forget, agent.info.agent_id)

    @staticmethod
    def _cancel_forget(agent: _Agent) -> None:
        if agent.forget is not None:
            agent.forget.cancel()
            agent.forget = None

    def _forget(self, agent_id: str) -> None:
        agent = self._agents.get(agent_id)
        if agent is None:
            return
        agent.forget = None
        if agent.conn is not None:  # exited but still draining: try again later
            self._schedule_forget(agent)
            return
        del self._agents[agent_id]
        self._budget.add(-agent.scrollback.size)
        self._budget.revived(agent_id)
        self._agent_list.discard(agent_id)
        self._presence.forget(agent_id)
        log.info("forgot agent %s", agent_id)
        text = encode(AgentRemoved(agent_id=agent_id))
        for dashboard, subscribed in self._dashboards.items():
            subscribed.discard(agent_id)
            if dashboard.scope.may_see(agent_id):
                dashboard.peer.send_text(text)
