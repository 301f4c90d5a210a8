"""``/ws/dashboard``: a dashboard's connection, from ``dashboard:connect`` to close.

Every frame is checked in the order of contract section 4: parse, object with a string
``type``, known type, rate limit (input-bearing kinds spend a token, valid or not),
fields, role, scope, then the hub's agent known / agent connected. The first failing
check answers an ``error``; the connection stays open.

A dashboard's access ends with its token: at ``exp`` the connection is closed with 4401
(:func:`relay.handlers.endpoint.close_at_expiry`). Sidecars are not closed at expiry (closing a
streaming agent would cut its output); their token is checked on every reconnect.
"""

from __future__ import annotations

import logging
import secrets

from aiohttp import WSMsgType, web

from relay.appkeys import CONNECTIONS, HUB, OPS
from relay.auth import Claims
from relay.handlers.endpoint import (
    Socket,
    authenticate,
    close_at_expiry,
    is_gone,
    serve_endpoint,
)
from relay.handlers.ratelimit import TokenBucket
from relay.hub.interface import Control, DashboardConn, Hub, HubError
from relay.protocol import (
    INPUT_BEARING_TYPES,
    CloseCode,
    CommandInterrupt,
    CommandRequest,
    DashboardConnect,
    Direction,
    Error,
    ErrorCode,
    Heartbeat,
    InputLimit,
    PermissionDecide,
    ProtocolError,
    Subscribe,
    TerminalInput,
    TerminalResize,
    Unsubscribe,
    encode,
    parse,
)

log = logging.getLogger(__name__)

KIND = "dashboard"


async def handle_dashboard(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]

    async def authorised(sock: Socket, connect: DashboardConnect) -> None:
        await _authorised(sock, connect, hub)

    return await serve_endpoint(
        request, KIND, Direction.DASHBOARD_TO_RELAY, DashboardConnect, authorised
    )


async def _authorised(sock: Socket, connect: DashboardConnect, hub: Hub) -> None:
    claims = authenticate(sock, connect.token, KIND)
    if claims is None:
        return
    if not claims.is_dashboard:
        sock.close(CloseCode.FORBIDDEN, f"role {claims.role} may not connect to /ws/dashboard")
        return
    connections = sock.request.app[CONNECTIONS]
    if not connections.acquire(claims.sub):
        sock.close(CloseCode.TOO_MANY_CONNECTIONS, f"too many connections for '{claims.sub}'")
        return
    conn = DashboardConn(
        session_id=secrets.token_urlsafe(12),
        sub=claims.sub,
        role=claims.role,
        scope=claims,
        binary=connect.binary,
        peer=sock.outbox,
        presence=connect.presence,
        input_limit=InputLimit(rate=sock.config.rate_limit, burst=sock.config.rate_burst),
    )
    try:
        with close_at_expiry(sock, claims, KIND):
            await hub.attach_dashboard(conn)
            try:
                await _Session(sock, conn, claims, hub).run()
            finally:
                await hub.detach_dashboard(conn)
    finally:
        connections.release(claims.sub)


class _Session:
    """The message loop of one authenticated dashboard."""

    def __init__(self, sock: Socket, conn: DashboardConn, claims: Claims, hub: Hub) -> None:
        self.sock = sock
        self.conn = conn
        self.claims = claims
        self.hub = hub
        self.ops = sock.request.app[OPS]
        self.bucket = TokenBucket(sock.config.rate_limit, sock.config.rate_burst)

    async def run(self) -> None:
        dead_after = self.sock.config.dead_after
        while True:
            try:
                msg = await self.sock.ws.receive(timeout=dead_after)
            except TimeoutError as exc:
                why = str(exc) or f"no message or pong for {dead_after:g} s"
                log.info("dashboard %s is dead (%s): dropping it", self.conn.sub, why)
                self.sock.close(CloseCode.GOING_AWAY, why)
                return
            if is_gone(msg.type) or self.sock.outbox.closed:
                return
            if msg.type is WSMsgType.TEXT:
                await self.on_text(msg.data)
            elif msg.type is WSMsgType.BINARY:
                self.error(ErrorCode.INVALID_MESSAGE, "dashboards may send only text frames")

    def error(
        self,
        code: ErrorCode,
        message: str,
        ref: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        error = Error(code=code, message=message, ref=ref, retry_after=retry_after)
        self.conn.peer.send_text(encode(error))
        self.ops.metrics.error_sent(code)

    async def on_text(self, text: str) -> None:
        try:
            frame = parse(text, Direction.DASHBOARD_TO_RELAY)
            self.ops.metrics.message_received(KIND, frame.type)
            if frame.type in INPUT_BEARING_TYPES:
                wait = self.bucket.take()
                if wait > 0:
                    self.ops.metrics.rate_limited(frame.type)
                    self.error(
                        ErrorCode.RATE_LIMITED,
                        f"{frame.type} dropped: over {self.bucket.rate:g} messages per second",
                        frame.ref,
                        retry_after=round(wait, 3) or 0.001,
                    )
                    return
            message = frame.message()
        except ProtocolError as exc:
            self.error(exc.code, exc.message, exc.ref)
            return
        try:
            match message:
                case Heartbeat():
                    self.conn.peer.send_text(encode(Heartbeat(ts=message.ts)))
                case Subscribe():
                    if self.in_scope(message.agent_id, frame.ref):
                        await self.hub.subscribe(self.conn, message.agent_id, message.since)
                case Unsubscribe():
                    if self.in_scope(message.agent_id, None):
                        await self.hub.unsubscribe(self.conn, message.agent_id)
                case (
                    CommandRequest()
                    | TerminalInput()
                    | TerminalResize()
                    | CommandInterrupt()
                    | PermissionDecide()
                ):
                    await self.on_control(message, frame.ref)
                case DashboardConnect():
                    self.error(
                        ErrorCode.INVALID_MESSAGE,
                        "dashboard:connect: this connection is already connected",
                    )
                case _:  # pragma: no cover - parse() admits only the kinds above
                    raise AssertionError(f"unexpected message {message.TYPE}")
        except HubError as exc:
            self.error(exc.code, exc.message, frame.ref)

    async def on_control(self, message: Control, ref: str | None) -> None:
        """A control action that passed the rate limit and field checks: role, scope,
        then the hub (agent known, connected; a decision still pending)."""
        outcome = await self._control(message, ref)
        self.controlled(message, outcome)

    async def _control(self, message: Control, ref: str | None) -> ErrorCode | None:
        """Deliver ``message`` or answer its error; the error code, None when delivered."""
        if not self.claims.can_control:
            self.error(
                ErrorCode.FORBIDDEN, f"role {self.claims.role} may not send {message.TYPE}", ref
            )
            return ErrorCode.FORBIDDEN
        assert message.agent_id is not None
        if not self.in_scope(message.agent_id, ref):
            return ErrorCode.FORBIDDEN
        try:
            await self.hub.control(self.conn, message)
        except HubError as exc:
            self.error(exc.code, exc.message, ref)
            return exc.code
        return None

    def controlled(self, message: Control, outcome: ErrorCode | None) -> None:
        """Every control action of this dashboard (``command:request``,
        ``terminal:input``, ``terminal:resize``, ``command:interrupt``,
        ``permission:decide``) with its outcome: the error answered, or None when it was
        handed to the agent (its ``command:ack`` follows separately). The seam for audit
        records; it logs kinds only, never the text."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "dashboard %s (%s): %s to %s: %s", self.conn.sub, self.conn.role,
                message.TYPE, message.agent_id, outcome or "delivered",
            )
        self.ops.control(sub=self.conn.sub, role=self.conn.role,
                         session_id=self.conn.session_id, message=message,
                         outcome=outcome or "sent")

    def in_scope(self, agent_id: str, ref: str | None) -> bool:
        if self.claims.may_see(agent_id):
            return True
        self.error(ErrorCode.FORBIDDEN, f"agent '{agent_id}' is outside this token's scope", ref)
        return False
