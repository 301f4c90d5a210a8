"""The Redis-backed :class:`relay.hub.interface.Hub`: relays sharing one Redis act as one relay.

Shared state lives in Redis (layout in ``relay.redis.keys``): agent records changed only
by the atomic scripts of ``relay.redis.state`` (each change published, with a version,
on the events channel), output in one stream per agent appended idempotently by offset
(``relay.redis.stream``), liveness keys and a sweeper (``relay.redis.liveness``).

What each relay keeps in memory:

- a copy of the records, kept exact by applying events in version order and reloading
  after every resubscription (``relay.redis.bus``). ``dashboard:connected`` is built
  from it in the same step that registers the dashboard for events, after waiting until
  the copy has caught up with the version Redis had when the dashboard connected, so
  no event is missed or doubled and the list includes every agent attached before
  (each agent's text is kept until it changes, ``relay.hub.agent_list``);
- its own agent connections (``_local``) and dashboards;
- one :class:`relay.redis.feed.Feed` per watched agent, fed by the relay's ``XREAD``
  loop and, for local agents, directly after each append;
- output of its agents not yet in Redis (``relay.redis.pipeline``);
- requests in flight (``relay.redis.control``, which also routes control messages).

Redis trouble: every call that fails marks the relay degraded (``healthy()`` is False
until the bus has resubscribed and a PING answers). Output of local agents keeps going
to local subscribers and stays queued (at most ``scrollback_bytes`` per agent, oldest
dropped, which the append then records as a gap) until an append succeeds. On every
resubscription the relay refreshes its liveness key, writes its live agents back (Redis
may have lost them), flushes the queues, finishes detaches that failed, and reloads the
records. If Redis lost its data meanwhile (its epoch changed, ``AgentStore.sync``), record
versions start over, and agents the reload lacks are only announced as removed after one
liveness period, so the relays that hold them have time to write them back. A sidecar
that connects while Redis is unreachable is closed with 1013 (try again later) and retries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from relay.hub.agent_list import AgentList
from relay.hub.interface import (
    AgentConn,
    ChangeObserver,
    Control,
    DashboardConn,
    HubError,
    OutputSlice,
    Scope,
    info_after_activity,
)
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
    ErrorCode,
    Heartbeat,
    Subscribed,
    TerminalGap,
    TerminalOutput,
    Unsubscribed,
    WireFrame,
    encode,
)
from relay.redis.bus import REDIS_DOWN, Bus
from relay.redis.control import DISCONNECTED_BEFORE_ACK, REPLACED_BEFORE_ACK, Routing
from relay.redis.feed import Feed, Reader, catch_up
from relay.redis.keys import DEFAULT_PREFIX, Keys, Record
from relay.redis.liveness import Liveness
from relay.redis.pipeline import Appends
from relay.redis.presence import SharedPresence
from relay.redis.state import AgentStore, Event, gone_info, status_info
from relay.redis.stream import OutputStore, slice_from
from relay.redis.version import AppliedVersion

log = logging.getLogger(__name__)

#: Close code for a sidecar that connects while Redis is unreachable (RFC 6455 "try
#: again later"); the sidecar retries it like any close but 4401/4403/4409.
TRY_AGAIN_LATER = 1013
#: Longest each step of :meth:`RedisHub.close` may take.
CLOSE_STEP_TIMEOUT = 5.0


class RedisHub:
    """Implements :class:`relay.hub.interface.Hub` on a shared Redis."""

    def __init__(
        self,
        *,
        url: str,
        scrollback_bytes: int,
        forget_after: float,
        liveness_ttl: float = 10.0,
        sweep_interval: float = 2.0,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
        read_block: float = 5.0,
        slow_consumer_bytes: int | None = None,
        on_change: ChangeObserver | None = None,
        on_roundtrip: Callable[[float], None] | None = None,
        typing_seconds: float = TYPING_SECONDS,
    ) -> None:
        self._url = url
        self._typing_seconds = typing_seconds
        self._on_change = on_change
        self._scrollback_bytes = scrollback_bytes
        self._forget_after = forget_after
        self._liveness_ttl = liveness_ttl
        self._sweep_interval = sweep_interval
        self._keys = Keys(prefix)
        self._clock = clock
        self._read_block = read_block
        self._slow_consumer_bytes = slow_consumer_bytes
        self._on_roundtrip = on_roundtrip
        self.relay_id = secrets.token_hex(6)
        # Shared-state copy
        self._agents: dict[str, Record] = {}
        self._agent_list = AgentList()
        self._applied = AppliedVersion()
        # This relay's connections and routing
        self._local: dict[str, AgentConn] = {}
        #: The state each local agent last reported (what to write back after a sweep).
        self._live_state: dict[str, AgentInfoState] = {}
        #: The last status each local agent sent (its exit code, for a write-back).
        self._last_status: dict[str, AgentStatus] = {}
        self._local_version: dict[str, int] = {}
        self._confirmed_end: dict[str, int] = {}
        self._to_detach: dict[str, str] = {}
        self._dashboards: dict[DashboardConn, set[str]] = {}
        self._feeds: dict[str, Feed] = {}
        self._forget_timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._degraded_logged = False
        #: Redis lost its data and the resync that repairs it has not completed yet.
        self._lost_pending = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        # One retry, on a fresh connection, of a command whose connection Redis closed:
        # after a Redis restart every pooled connection that sat idle through the outage
        # is dead, and its first command must not fail (a failure degrades the relay and
        # makes reads fall back to the local copy). Only connection errors: a timeout may
        # have run the command, and a second run of a publish would double it. This must
        # be the asyncio Retry: the asyncio client awaits what ``call_with_retry``
        # returns, so the synchronous one returns the coroutine and never retries.
        self._client = aioredis.Redis.from_url(
            self._url, socket_timeout=5.0, socket_connect_timeout=2.0,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._store = AgentStore(self._client, self._keys)
        self._output = OutputStore(self._client, self._keys, self._scrollback_bytes)
        self._appends = Appends(
            self._output, self._feeds, self._confirmed_end, limit=self._scrollback_bytes,
            slow_consumer_bytes=self._slow_consumer_bytes,
            is_live=self._is_live, reassert=self._reassert, on_down=self._down,
            clock=self._clock,
        )
        self._liveness = Liveness(
            self._client, self._keys, self.relay_id, self._store,
            ttl=self._liveness_ttl, sweep_interval=self._sweep_interval,
            forget_after=self._forget_after, clock=self._clock, on_down=self._down,
            on_roundtrip=self._on_roundtrip,
        )
        self._reader = Reader(
            self._url, self._keys, self._feeds, self._client, on_down=self._down,
            block=self._read_block,
        )
        self._routing = Routing(
            self._client, self._keys, self.relay_id, local=self._local,
            dashboards=self._dashboards, agents=self._agents, on_down=self._down,
            spawn=self._spawn,
        )
        self._presence = SharedPresence(
            self._client, self._keys, self.relay_id, clock=self._clock,
            refresh=self._liveness_ttl, is_known=lambda a: a in self._agents,
            on_down=self._down, typing_seconds=self._typing_seconds,
        )
        self._bus = Bus(
            self._url, self._keys, self.relay_id, on_event=self._on_event,
            on_message=self._on_bus_message, on_resync=self._resync, on_down=self._down,
        )
        # Not in ``_tasks`` (the short-lived ones): it lives as long as the hub.
        self._presence_task = asyncio.create_task(
            self._presence.run(), name=f"presence:{self.relay_id}"
        )
        self._bus.start()
        self._reader.start()
        self._liveness.start()
        if not await self._bus.wait_ready(5.0):
            log.warning("relay %s: redis is unreachable at start; running degraded",
                        self.relay_id)
        else:
            log.info("relay %s: joined the redis fleet", self.relay_id)

    async def close(self) -> None:
        """Stop every background task and connection. Each step is bounded by
        ``CLOSE_STEP_TIMEOUT`` so that a task stuck in a Redis call can never hold the
        relay's shutdown (SIGTERM must end in exit 0); what did not stop is logged."""
        for handle in self._forget_timers.values():
            handle.cancel()
        self._forget_timers.clear()
        self._presence.close()
        tasks = [*self._tasks, self._presence_task]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=CLOSE_STEP_TIMEOUT)
            for task in pending:
                log.warning("relay %s: task %s did not stop on close", self.relay_id,
                            task.get_name())
            for task in tasks:
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: an error here is moot at shutdown
        for name, step in (
            ("appends", self._appends.close),
            ("bus", self._bus.close),
            ("reader", self._reader.close),
            ("liveness", self._liveness.close),
            ("client", self._client.aclose),
        ):
            try:
                async with asyncio.timeout(CLOSE_STEP_TIMEOUT):
                    await step()
            except TimeoutError:
                log.warning("relay %s: closing the %s took over %.0f s; left behind",
                            self.relay_id, name, CLOSE_STEP_TIMEOUT)
            except REDIS_DOWN:
                pass

    async def healthy(self) -> bool:
        if not self._bus.connected:
            return False
        try:
            async with asyncio.timeout(1.0):
                await self._client.ping()
        except REDIS_DOWN:
            self._down()
            return False
        return True

    # ------------------------------------------------------------------ sidecar side

    async def attach_agent(self, conn: AgentConn, hello: AgentHello) -> int:
        agent_id = hello.agent_id
        try:
            attached = await self._store.attach(hello, conn.conn_id, self.relay_id, self._clock())
        except REDIS_DOWN:
            self._down()
            log.info("agent %s refused: redis is unreachable", agent_id)
            conn.peer.close(TRY_AGAIN_LATER, "shared state unavailable; try again later")
            return 0
        old = self._local.get(agent_id)
        if old is not None and old is not conn:
            self._routing.fail_conn(old, REPLACED_BEFORE_ACK)
            old.peer.close(CloseCode.REPLACED, "replaced by a newer connection")
        self._local[agent_id] = conn
        self._live_state[agent_id] = "running"
        self._last_status.pop(agent_id, None)
        self._local_version[agent_id] = attached.version
        self._confirmed_end[agent_id] = attached.end
        self._to_detach.pop(agent_id, None)
        self._cancel_forget(agent_id)
        conn.peer.send_text(encode(AgentWelcome(
            agent_id=agent_id, resume_from=attached.end,
            max_message_bytes=conn.max_message_bytes)))
        return attached.end

    async def detach_agent(self, conn: AgentConn) -> None:
        self._routing.fail_conn(conn, DISCONNECTED_BEFORE_ACK)
        agent_id = conn.agent_id
        if self._local.get(agent_id) is not conn:
            return
        del self._local[agent_id]
        self._live_state.pop(agent_id, None)
        self._last_status.pop(agent_id, None)
        self._local_version.pop(agent_id, None)
        try:
            if not await self._appends.received(agent_id):
                raise RedisConnectionError("the agent's output is still buffered")
            await self._detach_in_redis(agent_id, conn.conn_id)
        except REDIS_DOWN:
            self._down()
            self._to_detach[agent_id] = conn.conn_id
            record = self._agents.get(agent_id)
            if record is not None:
                self._local_update(record, gone_info(record.info, self._clock()), conn="")

    async def agent_output(
        self, conn: AgentConn, chunk: TerminalOutput, frame: bytes | None = None
    ) -> None:
        if self._local.get(conn.agent_id) is not conn or not chunk.data:
            return
        self._appends.push(conn.agent_id, conn.conn_id, chunk.offset, chunk.data, frame)

    async def agent_status(self, conn: AgentConn, status: AgentStatus) -> None:
        agent_id = conn.agent_id
        if self._local.get(agent_id) is not conn:
            return
        await self._appends.received(agent_id)  # the offset below includes the output
        if self._local.get(agent_id) is not conn:
            return
        self._live_state[agent_id] = status.state
        self._last_status[agent_id] = status
        now = self._clock()
        record = self._agents.get(agent_id)
        info = status_info(
            agent_id, record.info if record is not None else None, status, now,
            self._confirmed_end.get(agent_id, 0),
        )
        try:
            changed = await self._store.status(
                agent_id, conn.conn_id, info, now, now + self._forget_after
            )
        except REDIS_DOWN:
            self._down()
            if record is not None:
                self._local_update(record, info, conn=conn.conn_id)
            return
        if changed and status.state == "exited":
            self._schedule_forget(agent_id)
        elif changed:
            self._cancel_forget(agent_id)

    async def agent_activity(self, conn: AgentConn, activity: Activity) -> None:
        agent_id = conn.agent_id
        if self._local.get(agent_id) is not conn:
            return
        try:
            await self._store.activity(agent_id, conn.conn_id, activity, self._clock())
        except REDIS_DOWN:
            self._down()
            record = self._agents.get(agent_id)
            info = None if record is None else info_after_activity(record.info, activity)
            if record is not None and info is not None:
                self._local_update(record, info, conn=conn.conn_id)

    async def agent_ack(self, conn: AgentConn, ack: CommandAck) -> None:
        await self.agent_seen(conn)
        await self._routing.agent_ack(conn, ack)

    async def agent_heartbeat(self, conn: AgentConn, heartbeat: Heartbeat) -> None:
        echo = encode(heartbeat)
        if self._local.get(conn.agent_id) is conn:
            # Only once every chunk before it is in Redis, where every relay reads it
            # (the outage buffer is not enough: docs/protocol.md, the no-loss rule).
            self._appends.when_received(
                conn.agent_id, lambda ok: self._echo(conn, echo, ok), stored=True)
        else:
            conn.peer.send_text(echo)
        await self.agent_seen(conn)

    def _echo(self, conn: AgentConn, echo: str, stored: bool) -> None:
        if stored:
            conn.peer.send_text(echo)
        else:  # the relay is closing: the sidecar resends to the next one
            log.info("agent %s: heartbeat not echoed, its output is not stored",
                     conn.agent_id)

    async def agent_seen(self, conn: AgentConn) -> None:
        if self._local.get(conn.agent_id) is not conn:
            return
        try:
            await self._store.seen(conn.agent_id, conn.conn_id, self._clock())
        except REDIS_DOWN:
            self._down()

    # ------------------------------------------------------------------ dashboard side

    async def attach_dashboard(self, conn: DashboardConn) -> None:
        ends: dict[str, tuple[int, float]] = {}
        try:
            version = int(await self._client.get(self._keys.seq) or 0)
            await self._applied.wait(version, 2.0)
            ids = sorted(a for a in self._agents if conn.scope.may_see(a))
            if ids:
                async with self._client.pipeline(transaction=False) as pipe:
                    for agent_id in ids:
                        pipe.hmget(self._keys.agent(agent_id), ["end", "seen"])
                    for agent_id, (end, seen) in zip(ids, await pipe.execute(), strict=True):
                        if end is not None:
                            ends[agent_id] = (int(end), float(seen or 0))
        except REDIS_DOWN:
            self._down()
        self._dashboards[conn] = set()
        texts = []
        for agent_id in sorted(a for a in self._agents if conn.scope.may_see(a)):
            info = self._agents[agent_id].info
            end, seen = ends.get(agent_id, (info.offset, info.last_seen))
            texts.append(self._agent_list.text(
                info, offset=max(end, info.offset), last_seen=max(seen, info.last_seen)
            ))
        conn.peer.send_text(self._agent_list.connected_texts(conn, texts))

    async def detach_dashboard(self, conn: DashboardConn) -> None:
        for agent_id in self._dashboards.pop(conn, set()):
            self._unwatch(conn, agent_id)
        self._routing.forget_dashboard(conn)
        self._presence.local.gone(conn)

    async def subscribe(self, conn: DashboardConn, agent_id: str, since: int | None) -> None:
        snap = await self._output.snapshot(agent_id, since)
        if snap is None:
            raise HubError(ErrorCode.UNKNOWN_AGENT, f"unknown agent '{agent_id}'")
        start = snap.start if since is None else max(since, snap.start)
        frames, cursor = catch_up(agent_id, start, snap.entries, conn.binary)
        cursor = max(cursor, start, snap.end)
        # The relay's feed may already be past this snapshot: read on until it is not, so
        # that the subscriber joins the live fan-out exactly where its replay ends.
        feed = self._feeds.get(agent_id)
        while feed is not None and feed.tail > cursor:
            more = await self._output.entries_after(agent_id, cursor)
            more_frames, cursor = catch_up(agent_id, cursor, more, conn.binary)
            frames += more_frames
            feed = self._feeds.get(agent_id)
            if not more and feed is not None and feed.tail > cursor:
                frames.append(_gap(agent_id, cursor, feed.tail))
                cursor = feed.tail
        subscribed = self._dashboards.get(conn)
        if subscribed is None:
            return
        conn.peer.drop(agent_id)
        conn.peer.send_text(encode(Subscribed(agent_id=agent_id, from_=start, offset=snap.end)))
        if frames:
            conn.peer.send_replay(agent_id, iter(frames))
        feed = self._feeds.get(agent_id)
        if feed is None:
            feed = self._feeds[agent_id] = Feed(agent_id, cursor)
            self._reader.wake()
        feed.subscribers[conn] = cursor
        subscribed.add(agent_id)
        self._presence.subscribed(conn, agent_id)

    async def unsubscribe(self, conn: DashboardConn, agent_id: str) -> None:
        self._unwatch(conn, agent_id)
        self._dashboards.get(conn, set()).discard(agent_id)
        conn.peer.drop(agent_id)
        conn.peer.send_text(encode(Unsubscribed(agent_id=agent_id)))
        self._presence.local.unsubscribed(conn, agent_id)

    async def control(self, conn: DashboardConn, msg: Control) -> None:
        await self._routing.control(conn, msg)
        assert msg.agent_id is not None
        self._presence.local.typed(conn, msg.agent_id, msg.TYPE)

    # ------------------------------------------------------------------ reads (REST)

    async def list_agents(self, scope: Scope) -> list[AgentInfo]:
        try:
            records = (await self._store.snapshot()).records
        except REDIS_DOWN:
            self._down()
            records = dict(self._agents)
        return [records[a].info for a in sorted(records) if scope.may_see(a)]

    async def get_agent(self, agent_id: str) -> AgentInfo | None:
        try:
            record = await self._store.get(agent_id)
        except REDIS_DOWN:
            self._down()
            record = self._agents.get(agent_id)
        return None if record is None else record.info

    async def read_output(self, agent_id: str, since: int | None) -> OutputSlice | None:
        snap = await self._output.snapshot(agent_id, since)
        if snap is None:
            return None
        first = snap.start if since is None else max(since, snap.start)
        if first >= snap.end:
            offset = snap.end if since is None else max(first, snap.end)
            return OutputSlice(offset=offset, end=snap.end, data=b"")
        data = b"".join(c.data for c in slice_from(snap.entries, first))
        return OutputSlice(offset=first, end=snap.end, data=data)

    # ------------------------------------------------------------------ bus callbacks

    def _on_event(self, event: Event) -> None:
        if self._applied.covers(event.version):
            return
        self._apply(event.agent_id, event.record)
        self._applied.advance(event.version)

    async def _on_bus_message(self, message: dict[str, Any]) -> None:
        if message.get("k") in ("presence", "presence?"):
            await self._presence.on_message(message)
        else:
            await self._routing.on_message(message)

    async def _resync(self) -> None:
        """Redis answers again (or for the first time): put this relay's part back."""
        await self._liveness.beat()
        snap, lost = await self._store.sync(self._applied.value)
        # Sticky until this resync completes: the next sync would not see the loss again.
        lost = self._lost_pending = lost or self._lost_pending
        if lost:
            await self._restore(set(snap.records))
        for agent_id in list(self._local):
            await self._reassert(agent_id)
        await self._appends.flush()
        for agent_id, conn_id in list(self._to_detach.items()):
            await self._detach_in_redis(agent_id, conn_id)
            self._to_detach.pop(agent_id, None)
        snap = await self._store.snapshot()
        missing = sorted(set(self._agents) - set(snap.records))
        if lost:  # the others get one liveness period to write their agents back
            log.warning("relay %s: redis lost its data; restoring live agents", self.relay_id)
            self._applied.reset()
            self._routing.reset_versions()
            if missing:
                self._spawn(self._remove_if_still_missing(missing))
            missing = []
        for agent_id in missing:
            self._apply(agent_id, None)
        for agent_id, record in sorted(snap.records.items()):
            old = self._agents.get(agent_id)
            # After a loss versions start over: an equal number says nothing.
            if lost or old is None or old.version != record.version:
                self._apply(agent_id, record)
        self._applied.advance(snap.version)
        self._lost_pending = False
        await self._presence.rejoined()
        if self._degraded_logged:
            log.info("relay %s: redis is back", self.relay_id)
            self._degraded_logged = False

    async def _restore(self, present: set[str]) -> None:
        """Redis lost its data: write back every record this relay's copy holds that is
        not there (the live agents of this relay are reasserted next). Their output is
        gone with Redis: a restored record's retained range starts at its end, so a
        reader is told of the gap. An agent whose sidecar left while Redis was away is
        restored with that connection, so the output this relay still buffers for it
        is appended before its detach."""
        now = self._clock()
        for agent_id, record in sorted(self._agents.items()):
            if agent_id in present or agent_id in self._local:
                continue
            info = record.info
            conn_id = self._to_detach.get(agent_id, "")
            if info.state != "exited":
                info = dataclasses.replace(
                    info, state="disconnected",
                    state_since=info.state_since if info.state == "disconnected" else now)
            confirmed = self._confirmed_end.get(agent_id)
            # With a connection the buffered output starts at what Redis had confirmed.
            end = confirmed if conn_id and confirmed is not None else max(
                info.offset, confirmed or 0)
            await self._store.restore(info, conn_id, self.relay_id, now, end,
                                      now + self._forget_after)
        if self._agents:
            log.warning("relay %s: redis lost its data; agents written back, their output "
                        "before the loss announced as a gap", self.relay_id)

    async def _reassert(self, agent_id: str) -> bool:
        """Write a live local agent back into Redis (it lost the record, or a sweeper
        took this relay for dead); False when another connection holds the agent."""
        conn = self._local.get(agent_id)
        record = self._agents.get(agent_id)
        if conn is None or record is None:
            return False
        end = self._confirmed_end.get(agent_id, 0)
        info = dataclasses.replace(record.info, offset=end)
        live = self._live_state.get(agent_id)
        status = self._last_status.get(agent_id)
        if status is not None:
            # The copy may hold another relay's write-back (after a data loss) by now.
            info = dataclasses.replace(info, pid=status.pid, cols=status.cols,
                                       rows=status.rows, exit_code=status.exit_code,
                                       signal=status.signal)
        if live is not None and info.state != live:
            # A sweeper took this relay for dead: the copy says "disconnected", but the
            # sidecar is here and last reported ``live``.
            info = dataclasses.replace(info, state=live, state_since=None)
        version = await self._store.reassert(info, conn.conn_id, self.relay_id,
                                             self._clock(), end)
        if version:
            self._local_version[agent_id] = version
        return bool(version)

    async def _remove_if_still_missing(self, agent_ids: list[str]) -> None:
        await asyncio.sleep(self._liveness_ttl + self._sweep_interval)
        try:
            records = (await self._store.snapshot()).records
        except REDIS_DOWN:
            return  # the next resync reconciles
        for agent_id in agent_ids:
            if agent_id not in records:
                self._apply(agent_id, None)

    def _is_live(self, agent_id: str, conn_id: str) -> bool:
        local = self._local.get(agent_id)
        return local is not None and local.conn_id == conn_id

    def _down(self) -> None:
        if not self._degraded_logged:
            log.warning("relay %s: redis is unreachable; degraded", self.relay_id)
            self._degraded_logged = True

    # ------------------------------------------------------------------ internals

    def _apply(self, agent_id: str, record: Record | None) -> None:
        """A record changed (None: the agent was forgotten): tell local dashboards, move
        requests and connections that the change leaves behind."""
        if record is None:
            if self._agents.pop(agent_id, None) is None:
                return
            self._cancel_forget(agent_id)
            self._confirmed_end.pop(agent_id, None)
            self._agent_list.discard(agent_id)
            self._presence.forget(agent_id)
            feed = self._feeds.pop(agent_id, None)
            text = encode(AgentRemoved(agent_id=agent_id))
            for dashboard, subscribed in self._dashboards.items():
                subscribed.discard(agent_id)
                if dashboard.scope.may_see(agent_id):
                    dashboard.peer.send_text(text)
            del feed
            return
        old = self._agents.get(agent_id)
        self._agents[agent_id] = record
        if self._on_change is not None:
            self._on_change(None if old is None else old.info, record.info)
        local = self._local.get(agent_id)
        if (
            local is not None
            and record.conn
            and record.conn != local.conn_id
            and record.version > self._local_version.get(agent_id, 0)
        ):
            log.info("agent %s: replaced by a connection on relay %s", agent_id, record.relay)
            del self._local[agent_id]
            self._live_state.pop(agent_id, None)
            self._last_status.pop(agent_id, None)
            self._local_version.pop(agent_id, None)
            self._routing.fail_conn(local, REPLACED_BEFORE_ACK)
            local.peer.close(CloseCode.REPLACED, "replaced by a newer connection")
        self._routing.moved(agent_id, record)
        self._broadcast_status(record.info)

    def _local_update(self, record: Record, info: AgentInfo, *, conn: str) -> None:
        """Redis is down: keep this relay's copy and its dashboards current."""
        self._agents[info.agent_id] = dataclasses.replace(record, info=info, conn=conn)
        if self._on_change is not None:
            self._on_change(record.info, info)
        self._broadcast_status(info)

    def _broadcast_status(self, info: AgentInfo) -> None:
        text = encode(AgentStatusEvent(agent=info))
        for dashboard in self._dashboards:
            if dashboard.scope.may_see(info.agent_id):
                dashboard.peer.send_text(text)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _unwatch(self, conn: DashboardConn, agent_id: str) -> None:
        feed = self._feeds.get(agent_id)
        if feed is not None:
            feed.subscribers.pop(conn, None)
            if not feed.subscribers:
                del self._feeds[agent_id]

    async def _detach_in_redis(self, agent_id: str, conn_id: str) -> None:
        now = self._clock()
        if await self._store.detach(agent_id, conn_id, now, now + self._forget_after):
            self._schedule_forget(agent_id)

    # ------------------------------------------------------------------ forgetting

    def _schedule_forget(self, agent_id: str) -> None:
        self._cancel_forget(agent_id)
        loop = asyncio.get_running_loop()
        self._forget_timers[agent_id] = loop.call_later(
            self._forget_after, lambda: self._spawn(self._forget(agent_id))
        )

    def _cancel_forget(self, agent_id: str) -> None:
        handle = self._forget_timers.pop(agent_id, None)
        if handle is not None:
            handle.cancel()

    async def _forget(self, agent_id: str) -> None:
        self._forget_timers.pop(agent_id, None)
        try:
            if not await self._store.forget(agent_id, self._clock(), self._forget_after):
                if agent_id in self._agents and agent_id not in self._forget_timers:
                    self._schedule_forget(agent_id)  # still draining, or not yet due
        except REDIS_DOWN:
            self._down()  # the sweeper of whichever relay sees Redis first does it


def _gap(agent_id: str, start: int, end: int) -> WireFrame:
    return encode(TerminalGap(agent_id=agent_id, from_=start, to=end))
