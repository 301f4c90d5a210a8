"""What both WebSocket endpoints share: origin check, upgrade, the hello phase, auth.

A connection's life: :func:`origin_allowed` (else HTTP 403, no upgrade) ->
:func:`open_socket` (upgrade; an :class:`relay.handlers.outbox.Outbox` writes everything the relay
sends) -> :func:`read_first` (the first message within ``hello_timeout``: 4408, 4400) ->
:func:`authenticate` (4401) -> the endpoint's own role/scope checks and message loop ->
:func:`finish`. :func:`serve_endpoint` runs that life for one endpoint.
:func:`close_at_expiry` (dashboards only) closes with 4401 when the token's ``exp`` passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar
from urllib.parse import urlsplit

from aiohttp import WSMessage, WSMsgType, web

from relay.appkeys import CONFIG, CONNECTIONS, OPS
from relay.auth import AuthError, Claims, verify
from relay.config import RelayConfig
from relay.handlers.live_ws import LiveWebSocketResponse
from relay.handlers.outbox import Outbox
from relay.ops.logs import bind_connection
from relay.protocol import (
    PROTOCOL_VERSION,
    AgentHello,
    CloseCode,
    DashboardConnect,
    Direction,
    ProtocolError,
    WireFrame,
    parse,
    websocket_header,
)

log = logging.getLogger(__name__)

_GONE: Final = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR})
MAX_REASON_BYTES: Final = 123
#: After its close frame the relay reads and discards until the peer closes, at most this
#: long (relay.handlers.linger), so the close frame is not lost in a TCP reset.
LINGER_SECONDS: Final = 2.0
#: Direct writes only while the transport buffers less than this (asyncio pauses at 64 KiB).
DIRECT_WRITE_LIMIT: Final = 16 * 1024
#: Up to this payload size the header and payload are joined into one write.
DIRECT_CONCAT_BYTES: Final = 16 * 1024


class WsTransport:
    """:class:`relay.handlers.outbox.Transport` over aiohttp's ``WebSocketResponse``."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, timeout: float) -> None:
        self._request = request
        self._ws = ws
        self._timeout = timeout

    async def send(self, frame: WireFrame) -> None:
        if isinstance(frame, str):
            await self._ws.send_str(frame)
        else:
            await self._ws.send_bytes(frame)

    def send_now(self, frame: WireFrame) -> bool:
        """Write one unmasked, uncompressed frame (``compress=False``) straight to the
        TCP transport when its buffer is below the pause mark; else False.

        aiohttp writes each frame with synchronous ``transport.write`` calls, so frames
        written here and by aiohttp (pings, the close frame) never interleave; none is
        written once the WebSocket is closing.
        """
        transport = self._request.transport
        if (
            transport is None
            or self._ws.closed
            or transport.is_closing()
            or transport.get_write_buffer_size() > DIRECT_WRITE_LIMIT
        ):
            return False
        text = isinstance(frame, str)
        payload = frame.encode("utf-8") if isinstance(frame, str) else frame
        n = len(payload)
        header = websocket_header(n, text=text, masked=False)
        if n <= DIRECT_CONCAT_BYTES:
            transport.write(header + payload)
        else:
            transport.write(header)
            transport.write(payload)
        return True

    async def close(self, code: int, reason: str) -> None:
        message = reason.encode("utf-8")[:MAX_REASON_BYTES]
        try:
            async with asyncio.timeout(self._timeout):
                await self._ws.close(code=code, message=message)
        except TimeoutError:
            # The peer reads nothing, not even the close frame: drop the TCP connection.
            transport = self._request.transport
            if transport is not None:
                transport.abort()
        except Exception as exc:
            log.debug("closing a websocket failed: %s", type(exc).__name__)


def _origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def origin_allowed(request: web.Request, config: RelayConfig) -> bool:
    """No ``Origin``, or the relay's own origin (``Host``, ``public_url``), or a listed one."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in {o.strip().rstrip("/").lower() for o in config.allowed_origins}:
        return True
    if config.public_url is not None and origin == _origin_of(config.public_url):
        return True
    host = request.headers.get("Host", "").strip().lower()
    parts = urlsplit(origin)
    if not host or parts.scheme not in ("http", "https") or parts.netloc != host:
        return False
    # DNS rebinding: a page of attacker.example whose name now resolves to 127.0.0.1
    # sends that name as Host and Origin alike. A relay that listens on loopback is
    # reached by loopback names only (other names: --public-url, --allowed-origin).
    return not is_loopback(config.host) or is_loopback(parts.hostname or "")


def is_loopback(name: str) -> bool:
    """``localhost`` (and its subdomains, RFC 6761) or a loopback IP address."""
    name = name.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def forbidden_origin(request: web.Request) -> web.Response:
    origin = request.headers.get("Origin", "")[:200]
    log.info("refused an upgrade from %s: origin %r not allowed", peer_name(request), origin)
    return web.json_response(
        {"error": "forbidden", "message": f"origin {origin!r} may not connect to this relay"},
        status=403,
    )


class Peer(Protocol):
    """What a connection's handlers read of its HTTP request (an in-process connection
    has no request: :mod:`relay.handlers.pipe`)."""

    @property
    def app(self) -> web.Application: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def remote(self) -> str | None: ...


class Incoming(Protocol):
    """The receiving half of a connection: a WebSocket, or an in-process pipe's end."""

    @property
    def close_code(self) -> int | None: ...

    async def receive(self, timeout: float | None = None) -> WSMessage: ...

    async def lingered(self) -> None: ...


def bearer_token(request: Peer) -> str | None:
    """The token of an ``Authorization: Bearer`` header (never the query string)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def peer_name(request: Peer) -> str:
    return request.remote or "?"


@dataclass(slots=True)
class Socket:
    request: Peer
    ws: Incoming
    outbox: Outbox
    config: RelayConfig

    def close(self, code: int, reason: str) -> None:
        self.outbox.close(code, reason)


async def open_socket(request: web.Request, kind: str) -> Socket:
    """Upgrade ``request`` and start the connection's writer."""
    config = request.app[CONFIG]
    ws = LiveWebSocketResponse(
        ping_after=config.heartbeat_interval,
        pong_within=config.heartbeat_interval / 2,
        linger=min(LINGER_SECONDS, config.shutdown_timeout),
        # aiohttp refuses a message of exactly max_msg_size; the limit is inclusive.
        max_msg_size=config.max_message_bytes + 1,
        timeout=config.shutdown_timeout,
        compress=False,
    )
    await ws.prepare(request)
    outbox = Outbox(
        WsTransport(request, ws, config.shutdown_timeout),
        limit=config.slow_consumer_bytes,
        name=f"{kind}@{peer_name(request)}",
        meter=request.app[OPS].metrics,
    )
    outbox.start()
    request.app[CONNECTIONS].add(outbox, kind)
    return Socket(request=request, ws=ws, outbox=outbox, config=config)


async def read_first(
    sock: Socket, direction: Direction, expected: str
) -> AgentHello | DashboardConnect | None:
    """The first message, validated; None after closing the socket (or if it went away)."""
    timeout = sock.config.hello_timeout
    try:
        async with asyncio.timeout(timeout):
            msg = await sock.ws.receive()
    except TimeoutError:
        sock.close(CloseCode.HELLO_TIMEOUT, f"no {expected} within {timeout:g} s")
        return None
    if msg.type in _GONE:
        return None
    if msg.type is not WSMsgType.TEXT:
        sock.close(CloseCode.PROTOCOL_ERROR, f"the first message must be a text {expected}")
        return None
    try:
        frame = parse(msg.data, direction)
        if frame.type != expected:
            sock.close(
                CloseCode.PROTOCOL_ERROR,
                f"the first message must be {expected}, not {frame.type[:40]}",
            )
            return None
        first = frame.message()
    except ProtocolError as exc:
        sock.close(CloseCode.PROTOCOL_ERROR, exc.message)
        return None
    assert isinstance(first, AgentHello | DashboardConnect)
    if first.protocol != PROTOCOL_VERSION:
        sock.close(
            CloseCode.PROTOCOL_ERROR,
            f"protocol {first.protocol} is not supported; this relay speaks {PROTOCOL_VERSION}",
        )
        return None
    return first


def authenticate(sock: Socket, message_token: str | None, kind: str) -> Claims | None:
    """Verify the message's token, else the header's; None after closing with 4401."""
    token = message_token or bearer_token(sock.request)
    if token is None:
        log.info("%s from %s: auth failed: no token", kind, peer_name(sock.request))
        sock.close(CloseCode.UNAUTHENTICATED, "no token: send one in the first message or header")
        return None
    try:
        claims = verify(token, sock.config)
    except AuthError as exc:
        log.info("%s from %s: auth failed: %s", kind, peer_name(sock.request), exc)
        sock.close(CloseCode.UNAUTHENTICATED, str(exc))
        return None
    log.info("%s from %s: auth ok: sub=%s role=%s", kind, peer_name(sock.request),
             claims.sub, claims.role)
    return claims


@contextlib.contextmanager
def close_at_expiry(sock: Socket, claims: Claims, kind: str) -> Iterator[None]:
    """Close ``sock`` with 4401 when ``claims.exp`` passes, unless the block ends first.

    One timer per connection, cancelled on the way out. ``exp`` is wall-clock time; the
    delay is computed once, so a wall clock that jumps later does not move the close.
    """
    delay = max(0.0, claims.exp - time.time())
    handle = asyncio.get_running_loop().call_later(delay, _expired, sock, claims, kind)
    try:
        yield
    finally:
        handle.cancel()


def _expired(sock: Socket, claims: Claims, kind: str) -> None:
    if sock.outbox.closed:
        return
    log.info("%s from %s: token of sub=%s expired: closing with %d", kind,
             peer_name(sock.request), claims.sub, CloseCode.UNAUTHENTICATED)
    sock.close(CloseCode.UNAUTHENTICATED, "token expired")


async def finish(sock: Socket, kind: str) -> None:
    """Close (1000 unless a code was chosen), wait for the writer, forget the socket."""
    chosen = sock.outbox.close_code
    sock.outbox.close(CloseCode.NORMAL, "")
    await sock.outbox.wait_closed()
    sock.request.app[CONNECTIONS].discard(sock.outbox)
    if chosen is not None:
        log.info("%s from %s: relay closed with %s", kind, peer_name(sock.request), chosen)
    else:
        log.info("%s from %s: peer closed with %s", kind, peer_name(sock.request),
                 sock.ws.close_code)
    await sock.ws.lingered()


def is_gone(msg_type: WSMsgType) -> bool:
    return msg_type in _GONE


First = TypeVar("First", AgentHello, DashboardConnect)


async def serve_endpoint(
    request: web.Request,
    kind: str,
    direction: Direction,
    first_type: type[First],
    authorised: Callable[[Socket, First], Awaitable[None]],
) -> web.StreamResponse:
    """A connection's whole life on one endpoint: origin, upgrade, first message, then
    ``authorised`` (authentication, checks, message loop). An unexpected exception closes
    with 1011 and no detail on the wire; the detail goes to the log."""
    if not origin_allowed(request, request.app[CONFIG]):
        return forbidden_origin(request)
    bind_connection(kind)
    sock = await open_socket(request, kind)
    await serve_socket(sock, kind, direction, first_type, authorised)
    assert isinstance(sock.ws, web.WebSocketResponse)
    return sock.ws


async def serve_socket(
    sock: Socket,
    kind: str,
    direction: Direction,
    first_type: type[First],
    authorised: Callable[[Socket, First], Awaitable[None]],
) -> None:
    """An open connection's life from its first message to its close (a WebSocket's or
    an in-process one's)."""
    try:
        first = await read_first(sock, direction, first_type.TYPE)
        if isinstance(first, first_type):
            await authorised(sock, first)
    except Exception:
        log.exception("internal error on a %s connection", kind)
        sock.close(CloseCode.INTERNAL_ERROR, "internal error")
    finally:
        await finish(sock, kind)
