"""The sidecar's connection to the relay: hello/welcome, resend, heartbeats, reconnects.

One :class:`Link` lives as long as the sidecar. It connects to ``/ws/agent`` (the URLs in
order, moving on when one fails), says ``agent:hello``, and on every ``agent:welcome``
(re)sends the retained output from ``resume_from``. A single sender task writes every
frame, so order is simple: control replies first, then state changes, then output
(whatever accumulated while the previous frame was in flight goes out as one larger
frame), then ``exited`` once every byte is out, then a heartbeat whose echo proves the
relay has processed all of it (that is what :meth:`Link.drain` waits for).

Close codes 4401, 4403 and 4409 are final; everything else is retried with exponential
backoff and jitter. The PTY side never waits for the link: it appends to the retention
buffer and calls :meth:`Link.wake`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from relay.handlers.liveness import Liveness
from relay.handlers.pipe import PipeEnd
from relay.handlers.watchdog import Watchdog
from relay.protocol import (
    AgentActivity,
    AgentHello,
    AgentStatus,
    AgentWelcome,
    CloseCode,
    CommandAck,
    CommandInterrupt,
    CommandRequest,
    Direction,
    Error,
    Heartbeat,
    PermissionDecide,
    ProtocolError,
    TerminalInput,
    TerminalOutput,
    TerminalResize,
    decode,
    encode,
    encode_binary_output,
    utf8_cut,
)

from .backoff import backoff_delay
from .config import LinkConfig
from .retention import Retention

log = logging.getLogger(__name__)

FINAL_CLOSE_CODES = frozenset(
    {CloseCode.UNAUTHENTICATED, CloseCode.FORBIDDEN, CloseCode.REPLACED}
)

#: Smallest output frame payload the link shrinks to after a 1009 (message too big).
MIN_CHUNK_BYTES = 4096

ControlMessage = (
    CommandRequest | TerminalInput | TerminalResize | CommandInterrupt | PermissionDecide
)


class Controller(Protocol):
    """What the link asks the PTY side to do, at once and in arrival order.

    Raise to report failure; return a future for the part that completes later (input
    the kernel has not taken yet), or None when the message took full effect.
    """

    def apply(self, msg: ControlMessage) -> asyncio.Future[None] | None: ...


class LinkSocket(Protocol):
    """What the link uses of a connection: aiohttp's client WebSocket, or the agent's
    end of an in-process pipe to a relay in this process (:mod:`relay.handlers.pipe`)."""

    @property
    def closed(self) -> bool: ...

    @property
    def close_code(self) -> int | None: ...

    async def send_str(self, data: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def receive(self, timeout: float | None = None) -> aiohttp.WSMessage: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...


class FirstAnswer(enum.Enum):
    """How the first connection attempt ended."""

    WELCOMED = "welcomed"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A final close: the link stopped for good."""

    code: int
    reason: str

    def describe(self, agent_id: str) -> str:
        detail = f": {self.reason}" if self.reason else ""
        if self.code == CloseCode.UNAUTHENTICATED:
            return f"the relay refused the token (4401 unauthenticated{detail})"
        if self.code == CloseCode.FORBIDDEN:
            return (
                f"the relay refused agent id {agent_id!r} for this token (4403 forbidden{detail})"
            )
        return f"another sidecar took over agent id {agent_id!r} (4409 replaced{detail})"


class _Retry(Exception):
    """This connection is over; try again after a backoff delay."""


class _Conn:
    """Per-connection sending state."""

    def __init__(self, ws: LinkSocket, sent: int, resume_to: int) -> None:
        self.ws = ws
        #: An in-process connection: small output may be sent from the PTY callback.
        self.pipe = ws if isinstance(ws, PipeEnd) else None
        self.sent = sent
        self.status_version = -1
        self.activity_version = -1
        self.drain_ts: float | None = None
        #: The stream end at the welcome: once the resend reached it, a heartbeat asks
        #: the relay to confirm the resume (``resume_probe``).
        self.resume_to = resume_to
        self.resume_probe = False
        #: Heartbeats in flight: ts -> the stream offset sent before it (what its echo
        #: confirms), and how many periodic ones are due.
        self.probes: dict[float, int] = {}
        self.heartbeats_due = 0


class Link:
    """The relay connection; :meth:`run` until :meth:`stop` or a final close."""

    def __init__(
        self,
        config: LinkConfig,
        retention: Retention,
        *,
        hello: Callable[[], AgentHello],
        status: Callable[[], AgentStatus],
        controller: Controller,
        token: Callable[[], str | None],
        before_retry: Callable[[], Awaitable[None]] | None = None,
        in_process: Callable[[], LinkSocket | None] | None = None,
    ) -> None:
        self.config = config
        self.retention = retention
        self._hello = hello
        self._status = status
        self._controller = controller
        self._token = token
        self._before_retry = before_retry
        #: Asked before each connection: the relay in this process, if there is one
        #: (then no WebSocket is opened).
        self._in_process = in_process
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._delivered = asyncio.Event()
        self._done = asyncio.Event()
        self._replies: deque[str] = deque()
        self._status_version = 0
        #: The latest activity (encoded), sent once per change and again on every
        #: connection (contract section 11).
        self._activity: str | None = None
        self._activity_version = 0
        self._numbered = False
        self._complete = False
        self._last_ts = 0.0
        self._max_chunk = config.max_chunk_bytes
        #: The number of the next reconnection attempt (0 after a confirmed resume).
        self.attempt = 0
        #: The relay confirmed every byte before this offset (a welcome's
        #: ``resume_from``, or a heartbeat echo after them).
        self.confirmed = 0
        self.refusal: Refusal | None = None
        self.first_answer: asyncio.Future[FirstAnswer] = (
            asyncio.get_running_loop().create_future()
        )
        self.connected = asyncio.Event()
        #: Bytes the relay will never get (dropped before they could be sent).
        self.gap_bytes = 0
        #: Output coalescing: the stream end at the last wake, whether the last append
        #: was a streaming-size read, and the loop time until which output is held.
        self._seen_end = retention.end
        self._streaming = False
        self._hold_until: float | None = None
        self._current: _Conn | None = None
        #: The connection whose sender waits with nothing to send (see :meth:`wake`).
        self._parked: _Conn | None = None
        #: Called after each output frame is sent and when a connection ends (flow
        #: control: the PTY side resumes reading once the backlog is small again).
        self.on_progress: Callable[[], None] | None = None

    # ------------------------------------------------------------------ PTY side

    def wake(self) -> None:
        """New output is in the retention buffer.

        A large append (the PTY is streaming) does not wake the sender while it holds
        output to coalesce it; a small one (a keystroke echo, the end of a burst) does,
        or, on an in-process connection whose sender has nothing else to do, is sent
        right here.
        """
        end = self.retention.end
        grew = end - self._seen_end
        self._seen_end = end
        self._streaming = grew >= self.config.coalesce_read_bytes
        if (self._hold_until is None or not self._streaming) and not self._send_now():
            self._wake.set()

    def _send_now(self) -> bool:
        """Send what is unsent from the caller's stack (the PTY read callback), if the
        sender waits with nothing else due and the in-process pipe takes it at once: a
        keystroke's echo then reaches the relay, and through it the dashboards, without
        a task switch. False: the sender does it."""
        conn = self._parked
        if (
            conn is None
            or conn.pipe is None
            or self._wake.is_set()
            or self._streaming
            or self._complete
            or not conn.resume_probe
        ):
            return False
        ret = self.retention
        n = ret.end - conn.sent
        if n <= 0 or n >= self._max_chunk or conn.sent < ret.start:
            return False
        if not conn.pipe.send_now(self._output_frame(conn.sent, n)):
            return False
        conn.sent += n
        self._progress()
        return True

    def backlog(self) -> int | None:
        """Bytes retained and not yet sent on the live connection; None when there is
        none (then the retention buffer drops the oldest bytes instead of waiting)."""
        conn = self._current
        return None if conn is None else max(0, self.retention.end - conn.sent)

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress()

    def status_changed(self) -> None:
        self._status_version += 1
        self._wake.set()

    def set_activity(self, activity: AgentActivity) -> None:
        """Report a new activity (only the latest unsent one is kept)."""
        self._activity = encode(activity)
        self._activity_version += 1
        self._wake.set()

    def finish(self) -> None:
        """No more output will come; ``exited`` may go once everything is sent."""
        self._complete = True
        self._wake.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until the relay confirmed every byte and the final status."""
        if self.refusal is not None:
            return False
        waits = {
            asyncio.ensure_future(event.wait())
            for event in (self._stop, self._done, self._delivered)
        }
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        return self._delivered.is_set()

    def unconfirmed(self) -> tuple[int, int]:
        """``(first, end)``: the output the relay has not confirmed (empty when equal)."""
        end = self.retention.end
        return min(self.confirmed, end), end

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ main loop

    async def run(self) -> Refusal | None:
        """Connect, reconnect, until stopped (None) or refused for good."""
        try:
            return await self._run()
        finally:
            self._done.set()

    async def _run(self) -> Refusal | None:
        index = 0
        urls = self.config.urls
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.config.connect_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not self._stop.is_set():
                url = urls[index % len(urls)]
                started = time.monotonic()
                welcomed = False
                try:
                    welcomed = await self._connect_once(session, url)
                except _Retry as exc:
                    log.info("relay connection to %s ended: %s", url, exc)
                except Exception:
                    # A bug must not end the streaming for the rest of the run: log, retry.
                    log.exception("relay connection to %s failed unexpectedly", url)
                if self.refusal is not None:
                    self._answer(FirstAnswer.REFUSED)
                    return self.refusal
                if self._stop.is_set():
                    break
                self._answer(FirstAnswer.UNREACHABLE)
                if welcomed and time.monotonic() - started >= self.config.stable_after:
                    self.attempt = 0
                index += 1  # a relay that failed: the next one in order
                delay = backoff_delay(self.config.backoff, self.attempt, random.random())  # noqa: S311 - jitter, not crypto
                self.attempt += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._stop.wait()
                if self._before_retry is not None and not self._stop.is_set():
                    await self._before_retry()
        self._answer(FirstAnswer.UNREACHABLE)
        return None

    def _answer(self, answer: FirstAnswer) -> None:
        if not self.first_answer.done():
            self.first_answer.set_result(answer)

    async def _connect_once(self, session: aiohttp.ClientSession, url: str) -> bool:
        """One connection, start to end. True if it got as far as ``agent:welcome``."""
        local = self._in_process() if self._in_process is not None else None
        ws: LinkSocket
        if local is not None:
            log.info("attached to the relay in this process (no socket)")
            ws = local
        else:
            try:
                async with asyncio.timeout(self.config.connect_timeout):
                    client = await session.ws_connect(url, autoping=True, max_msg_size=0)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise _Retry(f"cannot connect ({type(exc).__name__}: {exc})"[:300]) from None
            ws = client
        try:
            conn = await self._handshake(ws)
            if conn is None:
                return False
            self.connected.set()
            self._current = conn
            try:
                await self._serve(conn)
            finally:
                self._current = None
                self.connected.clear()
                self._progress()
            return True
        finally:
            if not ws.closed:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await ws.close(code=CloseCode.NORMAL)

    async def _handshake(self, ws: LinkSocket) -> _Conn | None:
        hello = self._hello()
        token = self._token()
        if token is not None:
            hello = _with_token(hello, token)
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                await ws.send_str(encode(hello))
                msg = await ws.receive()
        except (TimeoutError, ConnectionError, aiohttp.ClientError) as exc:
            raise _Retry(f"no welcome ({type(exc).__name__})") from None
        if msg.type != aiohttp.WSMsgType.TEXT:
            self._closed(ws, msg)
            raise _Retry("closed before welcome")
        try:
            welcome = decode(msg.data, Direction.RELAY_TO_AGENT)
        except ProtocolError as exc:
            raise _Retry(f"bad first message from the relay ({exc.code})") from None
        if not isinstance(welcome, AgentWelcome):
            if isinstance(welcome, Error):
                raise _Retry(f"relay error {welcome.code} before welcome")
            raise _Retry(f"expected agent:welcome, got {welcome.TYPE}")
        if welcome.max_message_bytes is not None:
            self._max_chunk = self._chunk_limit(welcome.max_message_bytes)
        sent = self._resume_offset(welcome.resume_from)
        self.confirmed = sent
        return _Conn(ws, sent, self.retention.end)

    def _chunk_limit(self, max_message_bytes: int) -> int:
        """The largest output payload whose frame fits the relay's message limit: binary
        frames carry a 10-byte header and the id; JSON ones may grow six-fold
        (``\u001b`` for a control byte) inside a short envelope."""
        overhead = 10 + len(self.config.agent_id)
        room = max_message_bytes - overhead
        if not self.config.binary:
            room = (max_message_bytes - overhead - 128) // 6
        limit = max(1, min(self.config.max_chunk_bytes, room))
        if limit != self._max_chunk:
            log.info("relay takes messages up to %d bytes: output frames of up to %d bytes",
                     max_message_bytes, limit)
        return limit

    def _resume_offset(self, resume_from: int) -> int:
        ret = self.retention
        if not self._numbered:
            self._numbered = True
            ret.shift(resume_from)
        self._answer(FirstAnswer.WELCOMED)
        if resume_from > ret.end:
            log.warning(
                "relay resumes at %d, beyond this stream's end %d; sending from the end",
                resume_from,
                ret.end,
            )
            return ret.end
        if resume_from < ret.start:
            log.warning(
                "relay resumes at %d but the oldest retained byte is %d: %d bytes lost",
                resume_from,
                ret.start,
                ret.start - resume_from,
            )
            self.gap_bytes += ret.start - resume_from
            return ret.start
        log.info("relay welcomed the agent: resuming at %d (stream end %d)", resume_from, ret.end)
        return resume_from

    def _closed(self, ws: LinkSocket, msg: aiohttp.WSMessage) -> None:
        """Record a final close code, if this was one."""
        code = ws.close_code
        reason = ""
        if msg.type == aiohttp.WSMsgType.CLOSE:
            code = int(msg.data)
            reason = str(msg.extra or "")
        log.info("relay closed the connection: code %s", code)
        if code == CloseCode.MESSAGE_TOO_BIG and self._max_chunk > MIN_CHUNK_BYTES:
            # The relay's --max-message-bytes is smaller than our frames: use smaller ones.
            self._max_chunk = max(MIN_CHUNK_BYTES, self._max_chunk // 4)
            log.warning("relay said message too big: output frames now %d bytes", self._max_chunk)
        if code in FINAL_CLOSE_CODES:
            self.refusal = Refusal(code=int(code), reason=reason[:200])

    async def _serve(self, conn: _Conn) -> None:
        if conn.pipe is None:
            await self._serve_tasks(conn)
            return

        def take(frame: str | bytes) -> bool:
            if not isinstance(frame, str):
                return False
            self._on_text(conn, frame)
            return True

        conn.pipe.take_directly(take)
        try:
            await self._serve_tasks(conn)
        finally:
            conn.pipe.take_directly(None)

    async def _serve_tasks(self, conn: _Conn) -> None:
        tasks = {
            asyncio.ensure_future(self._receiver(conn)),
            asyncio.ensure_future(self._sender(conn)),
            asyncio.ensure_future(self._heartbeats(conn)),
            asyncio.ensure_future(self._stop.wait()),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            exc = task.exception()
            if isinstance(exc, _Retry):
                raise exc
            if exc is not None and not isinstance(exc, ConnectionError | aiohttp.ClientError):
                raise exc

    # ------------------------------------------------------------------ tasks

    async def _receiver(self, conn: _Conn) -> None:
        ws = conn.ws
        dead_after = self.config.dead_after
        # Over a socket, one timer instead of a timeout around every receive (a tenth
        # of a keystroke's CPU here); the in-process pipe's own timeout is cheap. The
        # relay echoes our heartbeats, so a live relay is never silent this long.
        dog = None if conn.pipe is not None else Watchdog(Liveness(
            asyncio.get_running_loop().time(), ping_after=None, pong_within=dead_after,
            dead_after=dead_after))
        try:
            while True:
                try:
                    if dog is None:
                        msg = await ws.receive(timeout=dead_after)
                    else:
                        msg = await dog.receive(ws.receive)
                except TimeoutError:
                    raise _Retry(f"relay silent for {dead_after} s") from None
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    log.debug("ignored a binary frame from the relay (%d bytes)", len(msg.data))
                else:
                    self._closed(ws, msg)
                    raise _Retry(f"closed with code {ws.close_code}")
        finally:
            if dog is not None:
                dog.stop()

    def _on_text(self, conn: _Conn, text: str) -> None:
        try:
            msg = decode(text, Direction.RELAY_TO_AGENT)
        except ProtocolError as exc:
            log.warning("ignored an invalid message from the relay: %s", exc.code)
            return
        match msg:
            case Heartbeat():
                self._echoed(conn, msg.ts)
                if conn.drain_ts is not None and msg.ts == conn.drain_ts:
                    self._delivered.set()
            case (CommandRequest() | TerminalInput() | TerminalResize() | CommandInterrupt()
                  | PermissionDecide()):
                self._apply(conn, msg)
            case Error():
                log.warning("relay error: %s (ref %s)", msg.code, msg.ref)
            case _:
                log.debug("ignored %s from the relay", msg.TYPE)

    def _apply(self, conn: _Conn, msg: ControlMessage) -> None:
        """Apply a control message now (no task switch); ack it once it took effect."""
        try:
            pending = self._controller.apply(msg)
        except Exception as exc:
            self._applied(conn, msg, exc)
            return
        if pending is None:
            self._applied(conn, msg, None)
            return
        if pending.done():  # the kernel took it at once (a keystroke, nearly always)
            self._applied(conn, msg, _error_of(pending))
            return

        def written(fut: asyncio.Future[None]) -> None:
            self._applied(conn, msg, _error_of(fut))

        pending.add_done_callback(written)

    def _applied(self, conn: _Conn, msg: ControlMessage, error: BaseException | None) -> None:
        if error is not None:
            log.info("%s failed: %s", msg.TYPE, type(error).__name__)
        if not isinstance(msg, CommandRequest | CommandInterrupt | PermissionDecide):
            return
        if self._current is not conn:
            log.info("%s %s settled after its connection ended: not acked", msg.TYPE,
                     msg.request_id)
            return
        text = None if error is None else (str(error) or type(error).__name__)
        self._replies.append(encode(CommandAck(request_id=msg.request_id, ok=error is None,
                                               error=text)))
        self._wake.set()

    def _echoed(self, conn: _Conn, ts: float | str) -> None:
        """A heartbeat came back: the relay has everything sent before it."""
        sent = conn.probes.pop(ts, None) if isinstance(ts, float) else None
        if sent is None:
            return
        self.confirmed = max(self.confirmed, sent)
        if sent >= conn.resume_to and self.attempt:
            # The relay took the resend: a relay that restarts again soon gets the
            # sidecar back after the shortest delay, not after a grown one.
            log.info("relay confirmed the resume at %d: backoff reset", sent)
            self.attempt = 0

    async def _send_heartbeat(self, conn: _Conn) -> float:
        ts = self._next_ts()
        conn.probes[ts] = conn.sent
        await conn.ws.send_str(encode(Heartbeat(ts=ts)))
        return ts

    async def _heartbeats(self, conn: _Conn) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            conn.heartbeats_due += 1
            self._wake.set()

    def _next_ts(self) -> float:
        self._last_ts = max(time.time(), self._last_ts + 0.001)
        return self._last_ts

    async def _sender(self, conn: _Conn) -> None:
        ws = conn.ws
        ret = self.retention
        while True:
            max_chunk = self._max_chunk
            self._wake.clear()
            if self._replies:
                await ws.send_str(self._replies.popleft())
                continue
            if conn.heartbeats_due or (not conn.resume_probe and conn.sent >= conn.resume_to):
                conn.heartbeats_due = 0
                conn.resume_probe = True
                await self._send_heartbeat(conn)
                continue
            all_sent = self._complete and conn.sent >= ret.end
            if conn.status_version != self._status_version:
                status = self._status()
                if status.state != "exited" or all_sent:
                    conn.status_version = self._status_version
                    await ws.send_str(encode(status))
                    continue
            if self._activity is not None and conn.activity_version != self._activity_version:
                conn.activity_version = self._activity_version
                await ws.send_str(self._activity)
                continue
            if conn.sent < ret.end:
                if await self._hold(conn, max_chunk):
                    continue
                first, n = ret.span(conn.sent, max_chunk)
                if first > conn.sent:
                    log.warning("%d bytes dropped before they could be sent", first - conn.sent)
                    self.gap_bytes += first - conn.sent
                if n == max_chunk:  # a full frame may end inside a character: cut before it
                    tail = min(3, n)
                    cut = n - tail + utf8_cut(ret.read(first + n - tail, tail)[1])
                    if cut > 0:
                        n = cut
                await self._send_output(ws, first, n)
                conn.sent = first + n
                self._progress()
                continue
            if all_sent and conn.drain_ts is None and conn.status_version == self._status_version:
                conn.drain_ts = await self._send_heartbeat(conn)
                continue
            self._parked = conn
            try:
                await self._wake.wait()
            finally:
                self._parked = None

    async def _hold(self, conn: _Conn, max_chunk: int) -> bool:
        """Coalesce a streaming burst: True if output was held (look again after).

        Output is held only while the PTY delivers full-size reads, for at most
        ``coalesce_delay`` after the sender first saw it, and never when a full frame is
        ready or the command has ended; so a keystroke echo goes out at once and a burst
        goes out in frames of up to ``max_chunk`` bytes.
        """
        delay = self.config.coalesce_delay
        if (
            delay <= 0
            or not self._streaming
            or self._complete
            or self.retention.end - conn.sent >= max_chunk
        ):
            self._hold_until = None
            return False
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._hold_until is None:
            self._hold_until = now + delay
        remaining = self._hold_until - now
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._wake.wait()
            if loop.time() < self._hold_until:
                return True  # woken early (a reply, a status, a small read): look again
        self._hold_until = None
        return False

    async def _send_output(self, ws: LinkSocket, offset: int, n: int) -> None:
        """Send the ``n`` retained bytes at ``offset`` (no await between reading them from
        the retention buffer and queuing the frame)."""
        frame = self._output_frame(offset, n)
        if isinstance(frame, bytes):
            await ws.send_bytes(frame)
        else:
            await ws.send_str(frame)

    def _output_frame(self, offset: int, n: int) -> str | bytes:
        agent_id = self.config.agent_id
        if self.config.binary:
            # The header and the bytes in one copy out of the ring.
            header = encode_binary_output(agent_id, offset, b"")
            return self.retention.read(offset, n, prefix=header)[1]
        data = self.retention.read(offset, n)[1]
        return encode(TerminalOutput(agent_id=agent_id, offset=offset, data=data))


def _error_of(fut: asyncio.Future[None]) -> BaseException | None:
    return asyncio.CancelledError() if fut.cancelled() else fut.exception()


def _with_token(hello: AgentHello, token: str) -> AgentHello:
    return dataclasses.replace(hello, token=token)
