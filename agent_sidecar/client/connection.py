"""A dashboard connection to a relay, as a typed async object.

::

    async with await Client.connect(endpoint) as client:
        print(client.role, sorted(client.agents))
        stream = await client.subscribe("build-1", since=0, follow=True)
        async for event in stream: ...
        ack = await client.command("build-1", "make test")

One reader task receives every frame and routes it: agent records to :attr:`agents` and
to the :meth:`events` iterators, output and gaps to the agent's :class:`OutputStream`,
``command:ack`` and ``error`` to the request that caused them. Requests carry a
``request_id`` unique in this client; an ``error`` without a usable ``ref`` answers the
oldest pending subscription (the relay handles a connection's messages in order), or
else goes to :attr:`on_error` (errors about ``terminal:input``/``terminal:resize``,
which have no ``request_id``). When the connection ends, every waiter gets the
:class:`~agent_sidecar.client.errors.ClientError` that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeAlias
from urllib.parse import quote

import aiohttp

from relay.protocol import (
    AgentInfo,
    AgentRemoved,
    AgentStatusEvent,
    CommandAck,
    CommandInterrupt,
    CommandRequest,
    DashboardConnect,
    DashboardConnected,
    Decision,
    Direction,
    Error,
    Heartbeat,
    Message,
    PermissionDecide,
    ProtocolError,
    Role,
    SignalName,
    Subscribe,
    Subscribed,
    TerminalGap,
    TerminalInput,
    TerminalOutput,
    TerminalResize,
    Unsubscribe,
    Unsubscribed,
    decode,
    decode_binary_output,
    encode,
)

from .endpoint import Endpoint
from .errors import (
    ClientError,
    ConnectionLost,
    Forbidden,
    RelayUnreachable,
    RequestFailed,
    UnknownAgent,
    from_close,
    from_error,
)
from .names import resolve_agent
from .stream import Cursor, OutputStream

log = logging.getLogger(__name__)

AgentEvent: TypeAlias = AgentStatusEvent | AgentRemoved

#: Frames up to this size are accepted from the relay (its scrollback replay and a long
#: agent list can exceed aiohttp's 4 MiB default).
MAX_FRAME_BYTES = 64 * 1024 * 1024


class Client:
    """An authenticated ``/ws/dashboard`` connection; make one with :meth:`connect`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        connected: DashboardConnected,
        endpoint: Endpoint,
    ) -> None:
        self._session = session
        self.endpoint = endpoint
        self._ws = ws
        self.connected = connected
        self._agents: dict[str, AgentInfo] = {a.agent_id: a for a in connected.agents}
        self._streams: dict[str, OutputStream] = {}
        self._pending_subscribes: deque[OutputStream] = deque()
        self._subscribe_refs: dict[str, OutputStream] = {}
        self._acks: dict[str, asyncio.Future[CommandAck]] = {}
        self._pings: dict[str, asyncio.Future[None]] = {}
        self._watchers: list[asyncio.Queue[AgentEvent | ClientError]] = []
        self._ids = itertools.count(1)
        self.closed: ClientError | None = None
        #: Errors no request waits for (about ``terminal:input`` or ``terminal:resize``).
        self.on_error: Callable[[ClientError], None] = self._log_error
        self._reader = asyncio.create_task(self._read(), name="client-reader")

    # ------------------------------------------------------------------ connect

    @classmethod
    async def connect(
        cls,
        endpoint: Endpoint,
        *,
        client_name: str = "agent-sidecar",
        binary: bool = True,
        timeout: float = 10.0,
    ) -> Self:
        """Open ``/ws/dashboard``, say ``dashboard:connect``, wait for ``dashboard:connected``.

        Raises :class:`RelayUnreachable`, :class:`TokenRefused`, :class:`Forbidden` (a
        token whose role may not watch) or :class:`ConnectionLost`.
        """
        session = aiohttp.ClientSession()
        try:
            ws = await cls._open(session, endpoint, timeout)
            hello = DashboardConnect(token=endpoint.token, client=client_name, binary=binary)
            await ws.send_str(encode(hello))
            try:
                async with asyncio.timeout(timeout):
                    msg = await ws.receive()
            except TimeoutError:
                raise RelayUnreachable(
                    f"{endpoint.dashboard_url} did not answer dashboard:connect in {timeout:g} s"
                ) from None
            if msg.type is not aiohttp.WSMsgType.TEXT:
                await ws.close()
                raise from_close(ws.close_code, _reason(msg))
            try:
                first = decode(msg.data, Direction.RELAY_TO_DASHBOARD)
            except ProtocolError as exc:
                raise ConnectionLost(f"the relay's first answer is not valid: {exc}") from None
            if not isinstance(first, DashboardConnected):
                raise ConnectionLost(f"the relay answered {first.TYPE}, not dashboard:connected")
        except BaseException:
            await session.close()
            raise
        log.info("connected to %s as %s (%s)", endpoint.dashboard_url, first.sub, first.role)
        return cls(session, ws, first, endpoint)

    @classmethod
    async def connect_first(
        cls, endpoints: Sequence[Endpoint], **kwargs: Any
    ) -> Self:
        """:meth:`connect` to the first of ``endpoints`` that can be reached (in order);
        :class:`RelayUnreachable` naming every one when none can."""
        if not endpoints:
            raise ValueError("no endpoint to connect to")
        failures: list[str] = []
        for endpoint in endpoints:
            try:
                return await cls.connect(endpoint, **kwargs)
            except RelayUnreachable as exc:
                failures.append(str(exc))
        raise RelayUnreachable("; ".join(failures))

    @staticmethod
    async def _open(
        session: aiohttp.ClientSession, endpoint: Endpoint, timeout: float
    ) -> aiohttp.ClientWebSocketResponse:
        url = endpoint.dashboard_url
        try:
            async with asyncio.timeout(timeout):
                return await session.ws_connect(
                    url, autoping=True, max_msg_size=MAX_FRAME_BYTES
                )
        except aiohttp.WSServerHandshakeError as exc:
            raise RelayUnreachable(
                f"{url} refused the WebSocket upgrade (HTTP {exc.status}): is it a relay?"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise RelayUnreachable(f"cannot reach the relay at {url}: {_why(exc)}") from None
        except TimeoutError:
            raise RelayUnreachable(f"cannot reach the relay at {url}: no answer in "
                                   f"{timeout:g} s") from None

    # ------------------------------------------------------------------ state

    @property
    def sub(self) -> str:
        return self.connected.sub

    @property
    def role(self) -> Role:
        return self.connected.role

    @property
    def can_control(self) -> bool:
        """True when the role may type, send, resize and interrupt (operator, admin)."""
        return self.role in ("operator", "admin")

    @property
    def agents(self) -> Mapping[str, AgentInfo]:
        """Every agent the token may see, as the relay last described it (kept live)."""
        return self._agents

    def resolve(self, agent: str) -> str:
        """``agent`` (an id, or a ``run --name``) as an agent id: :func:`resolve_agent`
        over the agents this client sees."""
        return resolve_agent(self._agents, agent)

    async def agent(self, agent_id: str) -> AgentInfo:
        """The agent's record; :class:`UnknownAgent` or :class:`Forbidden` (outside the
        token's scope: the relay says which, through its REST API) otherwise."""
        info = self._agents.get(agent_id)
        if info is not None:
            return info
        headers = {"Authorization": f"Bearer {self.endpoint.token}"}
        url = f"{self.endpoint.http_url}/api/agents/{quote(agent_id, safe='')}"
        try:
            async with self._session.get(url, headers=headers) as resp:
                status = resp.status
        except (aiohttp.ClientError, OSError) as exc:
            raise RelayUnreachable(f"cannot reach the relay at {url}: {_why(exc)}") from None
        if status == 403:
            raise Forbidden(f"agent {agent_id!r} is outside this token's scope")
        if status == 200:
            info = self._agents.get(agent_id)
            if info is not None:
                return info
        raise UnknownAgent(f"no agent {agent_id!r} on this relay")

    # ------------------------------------------------------------------ events

    async def events(self) -> AsyncIterator[AgentEvent]:
        """Every later ``agent:status`` and ``agent:removed``, until the connection ends
        (then the :class:`ClientError` that ended it is raised)."""
        queue: asyncio.Queue[AgentEvent | ClientError] = asyncio.Queue()
        self._watchers.append(queue)
        try:
            while True:
                if self.closed is not None and queue.empty():
                    raise self.closed
                item = await queue.get()
                if isinstance(item, ClientError):
                    raise item
                yield item
        finally:
            self._watchers.remove(queue)

    # ------------------------------------------------------------------ output

    async def subscribe(
        self, agent_id: str, since: int | None = None, *, follow: bool = True
    ) -> OutputStream:
        """Subscribe to an agent's output from ``since`` (None: the oldest byte the relay
        keeps); returns once the relay said ``subscribed``. Raises :class:`Forbidden`,
        :class:`UnknownAgent`. A second subscription to the same agent replaces the first.
        """
        self._check_open()
        stream = OutputStream(Cursor(agent_id, since, follow=follow))
        known = self._agents.get(agent_id)
        if known is not None:
            stream.cursor.status(known)  # an agent that already exited ends the stream
        old = self._streams.get(agent_id)
        if old is not None:
            old.fail(ConnectionLost(f"replaced by a new subscription to {agent_id!r}", 1000))
        self._streams[agent_id] = stream
        self._pending_subscribes.append(stream)
        rid = self._request_id()
        self._subscribe_refs[rid] = stream
        try:
            await self._send(Subscribe(agent_id=agent_id, since=since, request_id=rid))
            await stream.subscribed
        except ClientError:
            if self._streams.get(agent_id) is stream:
                del self._streams[agent_id]
            raise
        finally:
            self._subscribe_refs.pop(rid, None)
        return stream

    async def unsubscribe(self, agent_id: str) -> None:
        """Stop the agent's output (its stream ends where it is)."""
        stream = self._streams.pop(agent_id, None)
        if stream is not None:
            stream.fail(ConnectionLost(f"unsubscribed from {agent_id!r}", 1000))
        await self._send(Unsubscribe(agent_id=agent_id))

    # ------------------------------------------------------------------ control

    async def command(
        self, agent_id: str, text: str, *, submit: bool = True, timeout: float | None = None
    ) -> CommandAck:
        """``command:request``: type ``text`` (then Enter when ``submit``); the ack."""
        rid = self._request_id()
        msg = CommandRequest(request_id=rid, input=text, submit=submit, agent_id=agent_id)
        return await self._request(rid, msg, timeout)

    async def interrupt(
        self, agent_id: str, signal: SignalName = "SIGINT", *, timeout: float | None = None
    ) -> CommandAck:
        """``command:interrupt``: signal the agent's foreground process group; the ack."""
        rid = self._request_id()
        msg = CommandInterrupt(request_id=rid, signal=signal, agent_id=agent_id)
        return await self._request(rid, msg, timeout)

    async def decide(
        self,
        agent_id: str,
        decision_id: str,
        decision: Decision,
        message: str | None = None,
        *,
        timeout: float | None = None,
    ) -> CommandAck:
        """``permission:decide`` (1.1): allow or deny the permission request the agent holds
        open (``activity.decision_id``); the ack. A decision that is no longer pending
        raises :class:`RequestFailed` with code ``stale_decision``."""
        rid = self._request_id()
        msg = PermissionDecide(
            request_id=rid,
            decision_id=decision_id,
            decision=decision,
            message=message,
            agent_id=agent_id,
        )
        return await self._request(rid, msg, timeout)

    async def input(self, agent_id: str, data: str) -> None:
        """``terminal:input``: raw keystrokes, no ack (errors go to :attr:`on_error`)."""
        await self._send(TerminalInput(data=data, agent_id=agent_id))

    async def resize(self, agent_id: str, cols: int, rows: int) -> None:
        """``terminal:resize`` (no ack; the agent's next ``agent:status`` shows it)."""
        await self._send(TerminalResize(cols=cols, rows=rows, agent_id=agent_id))

    async def ping(self, timeout: float | None = None) -> float:
        """A ``heartbeat`` round trip, in seconds. Its echo also means the relay has
        handled everything sent before it."""
        ts = f"ping-{self._request_id()}"
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[ts] = waiter
        started = time.monotonic()
        try:
            await self._send(Heartbeat(ts=ts))
            async with asyncio.timeout(timeout):
                await waiter
        finally:
            self._pings.pop(ts, None)
        return time.monotonic() - started

    # ------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Close the connection (code 1000) and end every stream and waiter."""
        if self.closed is None:
            self._finish(ConnectionLost("the client closed the connection", 1000))
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ internals

    def _request_id(self) -> str:
        return f"c{next(self._ids)}"

    def _check_open(self) -> None:
        if self.closed is not None:
            raise self.closed

    async def _send(self, msg: Message) -> None:
        self._check_open()
        try:
            await self._ws.send_str(encode(msg))
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise ConnectionLost(f"cannot send to the relay: {_why(exc)}") from None

    async def _request(
        self,
        rid: str,
        msg: CommandRequest | CommandInterrupt | PermissionDecide,
        timeout: float | None,
    ) -> CommandAck:
        waiter: asyncio.Future[CommandAck] = asyncio.get_running_loop().create_future()
        self._acks[rid] = waiter
        try:
            await self._send(msg)
            try:
                async with asyncio.timeout(timeout):
                    return await waiter
            except TimeoutError:
                raise RequestFailed(
                    f"no answer from agent {msg.agent_id!r} within {timeout:g} s"
                ) from None
        finally:
            self._acks.pop(rid, None)

    async def _read(self) -> None:
        error: ClientError
        try:
            async for frame in self._ws:
                if frame.type is aiohttp.WSMsgType.TEXT:
                    msg: Message = decode(frame.data, Direction.RELAY_TO_DASHBOARD)
                elif frame.type is aiohttp.WSMsgType.BINARY:
                    msg = decode_binary_output(frame.data)
                else:
                    break
                await self._dispatch(msg)
            error = from_close(self._ws.close_code, "")
        except ProtocolError as exc:
            log.warning("the relay sent an invalid frame: %s", exc.message)
            error = ConnectionLost(f"the relay sent an invalid frame: {exc.message}")
            await self._ws.close()
        except (aiohttp.ClientError, ConnectionError) as exc:
            error = ConnectionLost(f"the connection to the relay was lost: {_why(exc)}")
        self._finish(error)

    async def _dispatch(self, msg: Message) -> None:
        match msg:
            case TerminalOutput():
                stream = self._streams.get(msg.agent_id)
                if stream is not None:
                    await stream.put(stream.cursor.output(msg))
            case TerminalGap():
                stream = self._streams.get(msg.agent_id)
                if stream is not None:
                    await stream.put(stream.cursor.gap(msg))
            case Subscribed():
                stream = self._on_subscribed(msg)
                if stream is not None and self._streams.get(msg.agent_id) is stream:
                    await stream.put(stream.cursor.subscribed(msg.from_, msg.offset))
            case AgentStatusEvent():
                self._agents[msg.agent.agent_id] = msg.agent
                self._notify(msg)
                stream = self._streams.get(msg.agent.agent_id)
                if stream is not None:
                    await stream.put(stream.cursor.status(msg.agent))
            case AgentRemoved():
                self._agents.pop(msg.agent_id, None)
                self._notify(msg)
                stream = self._streams.pop(msg.agent_id, None)
                if stream is not None:
                    stream.fail(UnknownAgent(f"the relay forgot agent {msg.agent_id!r}"))
            case CommandAck():
                waiter = self._acks.get(msg.request_id)
                if waiter is not None and not waiter.done():
                    waiter.set_result(msg)
            case Error():
                self._on_error(msg)
            case Heartbeat():
                ping = self._pings.get(str(msg.ts))
                if ping is not None and not ping.done():
                    ping.set_result(None)
            case Unsubscribed():
                pass
            case _:
                log.debug("ignored %s from the relay", msg.TYPE)

    def _on_subscribed(self, msg: Subscribed) -> OutputStream | None:
        """The pending subscription this ``subscribed`` answers (the oldest for the agent)."""
        for stream in self._pending_subscribes:
            if stream.agent_id == msg.agent_id:
                self._pending_subscribes.remove(stream)
                if not stream.subscribed.done():
                    stream.subscribed.set_result((msg.from_, msg.offset))
                return stream
        return None

    def _on_error(self, msg: Error) -> None:
        error = from_error(msg.code.value, msg.message)
        stream = self._subscribe_refs.get(msg.ref) if msg.ref is not None else None
        if stream is not None:
            if stream in self._pending_subscribes:
                self._pending_subscribes.remove(stream)
            stream.fail(error)
            return
        if msg.ref is not None and msg.ref in self._acks:
            waiter = self._acks[msg.ref]
            if not waiter.done():
                waiter.set_exception(error)
            return
        if msg.ref is None and self._pending_subscribes:
            # A relay older than 1.1 leaves subscribe errors without ref: it answers in
            # order, so this error is about the oldest subscribe still waiting.
            self._pending_subscribes.popleft().fail(error)
            return
        self.on_error(error)

    def _notify(self, event: AgentEvent) -> None:
        for queue in self._watchers:
            queue.put_nowait(event)

    def _finish(self, error: ClientError) -> None:
        if self.closed is not None:
            return
        self.closed = error
        for stream in [*self._streams.values(), *self._pending_subscribes]:
            stream.fail(error)
        self._streams.clear()
        self._pending_subscribes.clear()
        for waiter in [*self._acks.values()]:
            if not waiter.done():
                waiter.set_exception(error)
        for ping in self._pings.values():
            if not ping.done():
                ping.set_exception(error)
        for queue in self._watchers:
            queue.put_nowait(error)

    @staticmethod
    def _log_error(error: ClientError) -> None:
        log.warning("the relay answered: %s", error)


def _reason(msg: aiohttp.WSMessage) -> str:
    return msg.extra if isinstance(msg.extra, str) else ""


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
