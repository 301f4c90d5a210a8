"""``/ws/agent``: a sidecar's connection, from hello to close.

After ``agent:hello`` (token from the message, else the ``Authorization`` header; role
``agent``; the ``agent_id`` allowed by the token's ``agents`` or ``sub``; at most
``max_connections_per_identity`` per ``sub``) the hub registers the connection and sends
``agent:welcome``. Then each frame is handled in order; a bad frame is answered with an
``error`` and the connection stays open.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from relay.appkeys import CONFIG, CONNECTIONS, HUB, OPS
from relay.handlers.endpoint import (
    Socket,
    authenticate,
    is_gone,
    serve_endpoint,
    serve_socket,
)
from relay.handlers.outbox import Outbox
from relay.handlers.pipe import Handler, Pipe, PipeEnd, PipeTransport
from relay.hub.interface import AgentConn, Hub, OutputNow
from relay.ops.logs import bind_connection
from relay.protocol import (
    AgentActivity,
    AgentHello,
    AgentStatus,
    CloseCode,
    CommandAck,
    Direction,
    Error,
    ErrorCode,
    Heartbeat,
    ProtocolError,
    TerminalOutput,
    WireFrame,
    decode,
    decode_binary_output,
    encode,
)

log = logging.getLogger(__name__)

KIND = "agent"


async def handle_agent(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]

    async def authorised(sock: Socket, hello: AgentHello) -> None:
        await _authorised(sock, hello, hub)

    return await serve_endpoint(request, KIND, Direction.AGENT_TO_RELAY, AgentHello, authorised)


@dataclass(frozen=True, slots=True)
class _InProcess:
    """The :class:`relay.handlers.endpoint.Peer` of an in-process connection."""

    app: web.Application
    headers: Mapping[str, str] = field(default_factory=dict)
    remote: str | None = "in-process"


def attach_in_process(app: web.Application) -> tuple[PipeEnd, asyncio.Task[None]]:
    """Connect an agent living in this process: the agent's end of a
    :class:`relay.handlers.pipe.Pipe`, served like a ``/ws/agent`` connection (the same
    hello, auth, hub calls and message handling) by the returned task, which ends after
    either side closed."""
    pipe = Pipe()
    hub = app[HUB]
    config = app[CONFIG]

    async def authorised(sock: Socket, hello: AgentHello) -> None:
        await _authorised(sock, hello, hub)

    async def serve() -> None:
        bind_connection(KIND)
        outbox = Outbox(PipeTransport(pipe.relay), limit=config.slow_consumer_bytes,
                        name=f"{KIND}@in-process", meter=app[OPS].metrics)
        outbox.start()
        app[CONNECTIONS].add(outbox, KIND)
        sock = Socket(request=_InProcess(app), ws=pipe.relay, outbox=outbox, config=config)
        await serve_socket(sock, KIND, Direction.AGENT_TO_RELAY, AgentHello, authorised)

    return pipe.agent, asyncio.create_task(serve())


async def _authorised(sock: Socket, hello: AgentHello, hub: Hub) -> None:
    claims = authenticate(sock, hello.token, KIND)
    if claims is None:
        return
    if claims.role != "agent":
        sock.close(CloseCode.FORBIDDEN, f"role {claims.role} may not connect to /ws/agent")
        return
    if not claims.may_register(hello.agent_id):
        sock.close(CloseCode.FORBIDDEN, f"this token may not register as agent '{hello.agent_id}'")
        return
    connections = sock.request.app[CONNECTIONS]
    if not connections.acquire(claims.sub):
        sock.close(CloseCode.TOO_MANY_CONNECTIONS, f"too many connections for '{claims.sub}'")
        return
    conn = AgentConn(
        agent_id=hello.agent_id, conn_id=secrets.token_hex(12), sub=claims.sub, peer=sock.outbox,
        max_message_bytes=sock.config.max_message_bytes,
    )
    try:
        log.info("agent %s registered (sub=%s)", hello.agent_id, claims.sub)
        await hub.attach_agent(conn, hello)
        ops = sock.request.app[OPS]
        ops.agent_started(hello)
        try:
            await _loop(sock, conn, hub)
        finally:
            ops.agent_gone(conn.agent_id)
            await hub.detach_agent(conn)
    finally:
        connections.release(claims.sub)


async def _loop(sock: Socket, conn: AgentConn, hub: Hub) -> None:
    ws = sock.ws
    if isinstance(ws, PipeEnd) and isinstance(hub, OutputNow):
        ws.take_directly(_output_taker(sock, conn, hub))
        try:
            await _read(sock, conn, hub)
        finally:
            ws.take_directly(None)
    else:
        await _read(sock, conn, hub)


async def _read(sock: Socket, conn: AgentConn, hub: Hub) -> None:
    dead_after = sock.config.dead_after
    while True:
        try:
            msg = await sock.ws.receive(timeout=dead_after)
        except TimeoutError as exc:
            why = str(exc) or f"no message or pong for {dead_after:g} s"
            log.info("agent %s is dead (%s): dropping it", conn.agent_id, why)
            sock.close(CloseCode.GOING_AWAY, why)
            return
        if is_gone(msg.type) or sock.outbox.closed:
            return
        try:
            if msg.type is WSMsgType.TEXT:
                await _on_text(sock, conn, hub, msg.data)
            elif msg.type is WSMsgType.BINARY:
                chunk = _binary_output(sock, conn, msg.data)
                if chunk is not None:
                    await hub.agent_output(conn, chunk, msg.data)
                    sock.request.app[OPS].agent_output(chunk)
        except ProtocolError as exc:
            _error(sock, exc.code, exc.message, exc.ref)


async def _on_text(sock: Socket, conn: AgentConn, hub: Hub, text: str) -> None:
    message = decode(text, Direction.AGENT_TO_RELAY)
    ops = sock.request.app[OPS]
    ops.metrics.message_received(KIND, message.TYPE)
    match message:
        case TerminalOutput():
            await _on_output(sock, conn, hub, message, None)
        case AgentStatus():
            await hub.agent_status(conn, message)
            ops.agent_status(conn.agent_id, message)
        case CommandAck():
            await hub.agent_ack(conn, message)
        case Heartbeat():
            await hub.agent_heartbeat(conn, message)
        case AgentActivity():
            await hub.agent_activity(conn, message.activity)
            ops.agent_activity(conn.agent_id, message.activity)
        case AgentHello():
            _error(sock, ErrorCode.INVALID_MESSAGE,
                   "agent:hello: this connection is already registered")
        case _:  # pragma: no cover - decode only returns the kinds above
            raise AssertionError(f"unexpected message {message.TYPE}")


async def _on_output(
    sock: Socket, conn: AgentConn, hub: Hub, chunk: TerminalOutput, frame: bytes | None
) -> None:
    if _foreign(sock, conn, chunk):
        return
    await hub.agent_output(conn, chunk, frame)
    sock.request.app[OPS].agent_output(chunk)


def _output_taker(sock: Socket, conn: AgentConn, hub: OutputNow) -> Handler:
    """What an in-process agent's binary output frames go through while the read loop
    waits with nothing queued: the loop's own handling of such a frame, without the
    task switch (a keystroke's echo reaches the dashboards inside the sidecar's PTY
    read callback). Text frames (status, activity, heartbeats) still go to the loop."""
    ops = sock.request.app[OPS]

    def take(frame: WireFrame) -> bool:
        if isinstance(frame, str) or sock.outbox.closed:
            return False
        chunk = _binary_output(sock, conn, frame)
        if chunk is not None:
            hub.agent_output_now(conn, chunk, frame)
            ops.agent_output(chunk)
        return True

    return take


def _binary_output(sock: Socket, conn: AgentConn, frame: bytes) -> TerminalOutput | None:
    """A binary output frame, counted and decoded; None when it is invalid or for
    another agent (answered with an error)."""
    sock.request.app[OPS].metrics.message_received(KIND, TerminalOutput.TYPE)
    try:
        chunk = decode_binary_output(frame)
    except ProtocolError as exc:
        _error(sock, exc.code, exc.message, exc.ref)
        return None
    return None if _foreign(sock, conn, chunk) else chunk


def _foreign(sock: Socket, conn: AgentConn, chunk: TerminalOutput) -> bool:
    """Output for another agent on this connection: answered with an error."""
    if chunk.agent_id == conn.agent_id:
        return False
    _error(
        sock,
        ErrorCode.FORBIDDEN,
        f"terminal:output for agent '{chunk.agent_id}' on the connection of '{conn.agent_id}'",
    )
    return True


def _error(sock: Socket, code: ErrorCode, message: str, ref: str | None = None) -> None:
    sock.outbox.send_text(encode(Error(code=code, message=message, ref=ref)))
    sock.request.app[OPS].metrics.error_sent(code)
