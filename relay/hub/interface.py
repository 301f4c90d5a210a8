"""The hub's interface: what the connection handlers need from shared relay state.

The handlers (``relay.handlers.agent``, ``relay.handlers.dashboard``,
``relay.handlers.rest``) talk to
*one* object implementing :class:`Hub`. ``relay.hub.local.LocalHub`` keeps everything in
this process; a Redis-backed implementation (contract section 10: several relays share
agents, scrollback, control routing and acks) implements the same protocol.

The hub never imports aiohttp. It reaches connections through :class:`Peer`, a
non-blocking sender (``relay.handlers.outbox.Outbox`` in production, in-memory fakes in tests).

Division of work between handlers and hub, following the check order of contract
section 4:

- handlers: JSON parse, type, rate limit, field validation, **role** and **scope**
  (``forbidden``), authentication, origin, close codes of the hello phase;
- hub: **agent known** (``unknown_agent``) and **agent connected** (``agent_offline``),
  raised as :class:`HubError`; everything about agents, offsets, subscriptions, fan-out
  and ack routing.

Rules every implementation keeps:

- No method awaits a peer's send. Sending is ``Peer.send_*`` (enqueue, never blocks), so
  an agent's read loop never waits for a dashboard.
- The hub itself sends the messages whose order matters relative to the streams it
  feeds: ``agent:welcome``, ``dashboard:connected``, ``subscribed``, ``unsubscribed``,
  ``terminal:output``, ``terminal:gap``, ``agent:status`` events, ``agent:removed``,
  ``command:ack`` and the control messages towards the sidecar.
- Errors: :class:`HubError` carries a contract error code; anything else is a bug and
  the handler closes the connection with 1011.

Exceptions::

    HubError (code: ErrorCode)     unknown_agent, agent_offline, stale_decision
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeAlias, runtime_checkable

from relay.protocol import (
    Activity,
    AgentHello,
    AgentInfo,
    AgentStatus,
    CommandAck,
    CommandInterrupt,
    CommandRequest,
    ErrorCode,
    Heartbeat,
    InputLimit,
    PermissionDecide,
    Role,
    TerminalInput,
    TerminalOutput,
    TerminalResize,
)

#: Dashboard -> agent messages, with ``agent_id`` set (the hub strips it towards the sidecar).
Control: TypeAlias = (
    CommandRequest | TerminalInput | TerminalResize | CommandInterrupt | PermissionDecide
)
#: The control messages a sidecar acks (their ``request_id`` is mapped per relay).
Acked: TypeAlias = CommandRequest | CommandInterrupt | PermissionDecide
#: What a change of an agent's record looks like to an observer (notifications): the
#: info dashboards saw before (None for the first sight of the agent) and after.
ChangeObserver: TypeAlias = Callable[[AgentInfo | None, AgentInfo], None]


def stale_decision(
    agent_id: str, activity: Activity | None, decide: PermissionDecide
) -> HubError | None:
    """``stale_decision`` unless ``decide.decision_id`` is the pending one of the agent's
    current ``activity``."""
    if activity is not None and activity.decision_id == decide.decision_id:
        return None
    none = activity is None or activity.decision_id is None
    pending = "none is pending" if none else "another one is pending"
    return HubError(
        ErrorCode.STALE_DECISION,
        f"decision '{decide.decision_id[:128]}' of agent '{agent_id}' is not pending "
        f"({pending})",
    )


def info_after_activity(info: AgentInfo, activity: Activity) -> AgentInfo | None:
    """The agent after a sidecar reported ``activity``, or None when it is ignored: an
    exited command reports nothing more."""
    if info.state == "exited":
        return None
    return dataclasses.replace(info, activity=activity)


def same_process(info: AgentInfo, hello: AgentHello) -> bool:
    """A hello from the sidecar already known (a reconnect keeps the activity), not a
    new process reusing the agent id (its activity starts unknown)."""
    return (
        info.state != "exited"
        and info.pid == hello.pid
        and info.started_at == hello.started_at
    )


class HubError(Exception):
    """An answer for the requester: ``unknown_agent`` or ``agent_offline``."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Peer(Protocol):
    """A connection the hub sends to. Every method returns at once and never raises.

    Frames are queued and written by the connection's own writer task, in order.
    ``agent_id`` tags a frame as output of that agent so that :meth:`drop` can discard it
    when the dashboard unsubscribes or re-subscribes. A peer whose unsent bytes pass its
    bound closes itself with 4503 (slow consumer); after :meth:`close` every send is a
    no-op.
    """

    def send_text(self, text: str, *, agent_id: str | None = None) -> None:
        """Queue one text frame."""

    def send_bytes(self, data: bytes, *, agent_id: str | None = None) -> None:
        """Queue one binary frame."""

    def send_replay(self, agent_id: str, frames: Iterable[str | bytes]) -> None:
        """Queue a lazily produced run of frames (scrollback replay).

        ``frames`` is consumed one frame at a time by the writer, so a long replay does
        not count against the slow-consumer bound; frames queued after it wait for it.
        """

    def drop(self, agent_id: str) -> None:
        """Discard every queued, not yet written frame tagged with ``agent_id``."""

    def close(self, code: int, reason: str) -> None:
        """Close the connection with ``code`` after discarding the queue (idempotent)."""

    @property
    def queued_bytes(self) -> int:
        """Bytes queued and not yet handed to the socket (replays excluded)."""

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (by anyone)."""


class Scope(Protocol):
    """Which agent ids a token may see (``relay.auth.Claims`` is one)."""

    def may_see(self, agent_id: str) -> bool: ...


@dataclass(eq=False, slots=True)
class AgentConn:
    """One authenticated sidecar connection, registered as ``agent_id``.

    ``conn_id`` is unique across relays and restarts (a replaced connection and its
    successor differ by it). Compared by identity.
    """

    agent_id: str
    conn_id: str
    sub: str
    peer: Peer
    #: Told to the sidecar in ``agent:welcome`` (the relay's --max-message-bytes).
    max_message_bytes: int | None = None


@dataclass(eq=False, slots=True)
class DashboardConn:
    """One authenticated dashboard connection. Compared by identity."""

    session_id: str
    sub: str
    role: Role
    scope: Scope
    binary: bool
    peer: Peer
    #: It asked for ``agent:presence`` (``dashboard:connect.presence``).
    presence: bool = False
    #: The connection's input rate limit, told in ``dashboard:connected`` (None: not told).
    input_limit: InputLimit | None = None


@dataclass(frozen=True, slots=True)
class OutputSlice:
    """Retained output for ``GET /api/agents/{id}/output``.

    ``data`` are the bytes from ``offset`` to ``end``; ``offset`` greater than the asked
    ``since`` means a gap; a ``since`` beyond ``end`` gives ``offset == end`` and no data.
    """

    offset: int
    end: int
    data: bytes


class Hub(Protocol):
    """Shared relay state: agents, scrollback, subscriptions, control routing, acks.

    All methods are coroutines so that an implementation may talk to a store; none of
    them waits for a peer to read.
    """

    async def start(self) -> None:
        """Acquire resources (connections, background tasks). Called once at app startup."""

    async def close(self) -> None:
        """Release resources. Peers are closed by the app before this is called."""

    async def healthy(self) -> bool:
        """False while a shared store is unreachable (``/healthz`` answers 503)."""

    # ------------------------------------------------------------------ sidecar side

    async def attach_agent(self, conn: AgentConn, hello: AgentHello) -> int:
        """Register ``conn`` as the live connection of ``hello.agent_id``.

        A previous connection of the same id (on any relay) is closed with 4409 and its
        unacked requests are answered ``ok: false``. The agent's record is created or
        refreshed from ``hello``, state ``running``; an ``agent:status`` event goes to
        every dashboard whose scope allows the id. Sends ``agent:welcome`` to ``conn``
        with ``resume_from`` = the stream's end (the first offset the relay lacks; 0 for
        a new agent; a new sidecar process reusing the id continues the stream) and
        returns that offset.
        """

    async def detach_agent(self, conn: AgentConn) -> None:
        """``conn`` is gone. If it is still the agent's live connection: state becomes
        ``disconnected`` unless it was ``exited``, ``last_seen`` is now, an event goes out,
        the forget timer starts, and every request routed through ``conn`` and not yet
        acked gets ``command:ack ok: false`` with an ``error``. A replaced connection's
        detach changes nothing."""

    async def agent_output(
        self, conn: AgentConn, chunk: TerminalOutput, frame: bytes | None = None
    ) -> None:
        """Append output (``chunk.agent_id == conn.agent_id``, checked by the caller).

        Bytes below the stream's end are dropped (duplicates of a resend); a chunk
        starting above the end records a gap (``terminal:gap`` to subscribers; the
        scrollback before the gap is discarded). New bytes go to the scrollback ring and
        to every subscriber exactly once, in order. ``frame``, when given, is the binary
        frame the chunk came in; it may be forwarded as is to binary dashboards when the
        chunk is kept whole. Ignored if ``conn`` is no longer the live connection.

        Never waits for a shared store: an implementation may store the chunk later
        (queued behind earlier ones, in order), which :meth:`agent_heartbeat` accounts for.
        """

    async def agent_status(self, conn: AgentConn, status: AgentStatus) -> None:
        """Update state, pid, size and exit code; send an ``agent:status`` event.
        ``exited`` starts the forget timer; ``running``/``idle`` cancel it."""

    async def agent_activity(self, conn: AgentConn, activity: Activity) -> None:
        """(1.1) Store the sidecar's activity in the agent's info and send an
        ``agent:status`` event. Ignored after ``exited`` and from a replaced connection.
        A disconnect keeps the last activity; an exit, and a hello from another process
        (another pid or ``started_at``), reset it to null."""

    async def agent_ack(self, conn: AgentConn, ack: CommandAck) -> None:
        """Route a sidecar's ack (relay-side ``request_id``) back to the one dashboard
        that sent the request, with that dashboard's own ``request_id`` and ``agent_id``.
        Unknown or already answered ids are ignored."""

    async def agent_heartbeat(self, conn: AgentConn, heartbeat: Heartbeat) -> None:
        """Echo ``heartbeat`` to ``conn`` once everything received on ``conn`` before it
        is stored (contract section 6: the echo confirms receipt; the sidecar relies on
        it at exit), and record that the agent is alive. Stored means in the hub's store
        or, while a shared store is unreachable, in this relay's outage buffer. Sends at
        once when nothing is pending; never waits for the store itself."""

    async def agent_seen(self, conn: AgentConn) -> None:
        """Record that the agent is alive (``last_seen``)."""

    # ------------------------------------------------------------------ dashboard side

    async def attach_dashboard(self, conn: DashboardConn) -> None:
        """Register ``conn`` and send it ``dashboard:connected`` listing the agents its
        scope allows. From then on it gets ``agent:status``/``agent:removed`` events for
        those agents, none before ``dashboard:connected``."""

    async def detach_dashboard(self, conn: DashboardConn) -> None:
        """Forget ``conn``: its subscriptions and its pending requests (late acks are
        dropped)."""

    async def subscribe(self, conn: DashboardConn, agent_id: str, since: int | None) -> None:
        """Send ``subscribed {from, offset}`` then output from ``from`` on, live after.

        ``since`` None means the oldest retained byte. ``from`` = max(since, oldest
        retained); a ``since`` beyond the end answers ``from: since`` and bytes flow once
        the stream reaches it. Re-subscribing discards queued output of that agent and
        restarts. Raises ``HubError(unknown_agent)``. The caller checked the scope.
        """

    async def unsubscribe(self, conn: DashboardConn, agent_id: str) -> None:
        """Discard queued output of the agent, stop delivery, send ``unsubscribed``.
        Idempotent: answers ``unsubscribed`` even when there was no subscription."""

    async def control(self, conn: DashboardConn, msg: Control) -> None:
        """Deliver ``msg`` to the agent's live connection without ``agent_id``.

        ``command:request``/``command:interrupt``/``permission:decide`` get a
        relay-unique ``request_id`` towards the sidecar, mapped back when the ack comes.
        Raises ``HubError(unknown_agent)``, ``HubError(agent_offline)``, or for a
        ``permission:decide`` whose ``decision_id`` is not the one of the agent's current
        activity ``HubError(stale_decision)`` (checked last); never queues for later.
        The caller checked role and scope.
        """

    # ------------------------------------------------------------------ reads (REST)

    async def list_agents(self, scope: Scope) -> list[AgentInfo]:
        """Every known agent the scope allows, sorted by ``agent_id``."""

    async def get_agent(self, agent_id: str) -> AgentInfo | None:
        """One agent, or None if unknown (the caller checked the scope)."""

    async def read_output(self, agent_id: str, since: int | None) -> OutputSlice | None:
        """Retained bytes from ``since`` (None: oldest retained) to the end; None if the
        agent is unknown."""


@runtime_checkable
class OutputNow(Protocol):
    """A hub that can take output without a coroutine (``LocalHub``): the in-process
    agent connection hands it a keystroke's echo inside the PTY's read callback
    (``relay.handlers.agent``). A hub that stores output elsewhere does not offer it."""

    def agent_output_now(
        self, conn: AgentConn, chunk: TerminalOutput, frame: bytes | None = None
    ) -> None:
        """:meth:`Hub.agent_output`, done before returning."""
