"""``agent-sidecar attach``: an agent's terminal inside the user's, until detach or exit.

The user's terminal goes to raw mode and to the alternate screen; the agent's recent
output (``replay_bytes`` of it, with the terminal queries in it removed) is drawn, then
its live output; the agent's own alternate-screen switches become screen clears, so
that they cannot end attach's alternate screen early (see
:mod:`agent_sidecar.client.queries`). Keys go to the agent
as ``terminal:input``, except the detach key, which is never sent: it ends the session
and leaves the agent running. Whatever ends the session (detach, the agent's exit, a
lost connection, SIGTERM/SIGHUP, an exception) passes through one ``finally`` that
resets the modes the agent may have switched on in the user's terminal (mouse, bracketed
paste, keyboard protocol, hidden cursor...), leaves the alternate screen and restores the
saved termios settings.

Size and queries (the dashboard's rules, docs/protocol.md "Steering"): the agent's PTY
is resized to the user's terminal only when the attached user may type (operator or
admin, not ``--read-only``) and the agent reports that it has no local terminal of its
own (``AgentInfo.local_terminal`` is false); a local terminal's size wins, and an agent
that does not say is never resized. Only a terminal that sets the size answers the
agent's live terminal queries; otherwise they are removed from the live output too.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import enum
import os
import random
import re
import select
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from relay.protocol import AgentInfo

from .backoff import BackoffPolicy, backoff_delay
from .client import (
    AgentOffline,
    Client,
    ClientError,
    ConnectionLost,
    Exited,
    Forbidden,
    OutputStream,
    RelayUnreachable,
    TerminalOutput,
    UnknownAgent,
)
from .client.queries import EscapeFilter, QueryFilter, alt_screen_as_clear
from .terminal import LocalTerminal

#: Sent on entering: save the title, alternate screen, clear (then the session's title).
ENTER = b"\x1b[22;0t\x1b[?1049h\x1b[H\x1b[2J"
#: Sent on leaving: reset what a program may have switched on in the terminal (mouse
#: modes, focus events, bracketed paste, application cursor keys and keypad, kitty
#: keyboard flags, modifyOtherKeys, hidden cursor, cursor shape, colours, scroll region,
#: origin mode), leave the alternate screen, restore the title.
LEAVE = (
    b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[?1004l"
    b"\x1b[?2004l\x1b[?1l\x1b>\x1b[<99u\x1b[>4;0m\x1b[?25h\x1b[0 q\x1b[0m\x1b[r\x1b[?6l"
    b"\x1b[?1049l\x1b[23;0t"
)
DEFAULT_REPLAY_BYTES = 256 * 1024
#: Reconnection delays after a lost connection: from 0.2 s, doubling up to 5 s.
RECONNECT_BACKOFF = BackoffPolicy(initial=0.2, maximum=5.0)
T = TypeVar("T")
DEFAULT_DETACH_KEY = "ctrl-]"
#: What ends a read-only session besides the detach key: Ctrl-C, or q typed (in a read
#: that is not an escape sequence: a terminal's replies to queries start with ESC).
READ_ONLY_CTRL_C = b"\x03"
READ_ONLY_Q = b"q"


class Ending(enum.Enum):
    DETACHED = "detached"
    EXITED = "exited"


@dataclass(frozen=True, slots=True)
class AttachResult:
    ending: Ending
    #: The agent's exit code when it exited.
    exit_code: int | None = None
    #: Keystrokes the relay refused (agent offline, rate limited...), by count.
    refused_inputs: int = 0


@dataclass(frozen=True, slots=True)
class DetachKey:
    """A control key (``ctrl-]``, ``ctrl-a``...) and the byte sequences that mean it: the
    plain control byte, and its CSI-u (kitty keyboard) and modifyOtherKeys encodings, which
    the terminal uses instead when the agent switched those on."""

    name: str
    byte: bytes
    encodings: tuple[bytes, ...]

    @classmethod
    def parse(cls, text: str) -> DetachKey:
        m = re.fullmatch(r"(?:ctrl-|c-|\^)(.)", text.strip(), re.IGNORECASE)
        char = m.group(1).lower() if m else ""
        if not char or not ("a" <= char <= "z" or char in "[\\]^_@"):
            raise ValueError(
                f"invalid detach key {text!r}: use ctrl-X with X a letter or one of [ \\ ] ^ _ @"
            )
        code = ord(char.upper()) & 0x1F
        cp = ord(char)
        encodings = (
            bytes((code,)),
            b"\x1b[%d;5u" % cp,
            b"\x1b[27;5;%d~" % cp,
        )
        return cls(name=f"ctrl-{char}", byte=bytes((code,)), encodings=encodings)

    def split(self, data: bytes) -> tuple[bytes, bool]:
        """``(bytes before the detach key, whether it was pressed)``."""
        hits = [i for i in (data.find(e) for e in self.encodings) if i >= 0]
        if not hits:
            return data, False
        return data[: min(hits)], True


@dataclass(frozen=True, slots=True)
class AttachOptions:
    read_only: bool = False
    detach_key: DetachKey = field(default_factory=lambda: DetachKey.parse(DEFAULT_DETACH_KEY))
    replay_bytes: int = DEFAULT_REPLAY_BYTES


def may_resize(info: AgentInfo, *, can_type: bool) -> bool:
    """The size rule: only a typing user, only an agent without a local terminal."""
    return can_type and info.local_terminal is False


class AttachSession:
    """One attach: :meth:`run` until detach, the agent's exit, or an error."""

    def __init__(
        self,
        client: Client,
        agent_id: str,
        terminal: LocalTerminal,
        options: AttachOptions,
        reconnect: Callable[[], Awaitable[Client]] | None = None,
    ) -> None:
        self.client = client
        #: Makes a new connection after a lost one (None: a lost connection ends attach).
        self._reconnect = reconnect
        self._own_clients: list[Client] = []
        self._screen = EscapeFilter(alt_screen_as_clear)
        self.agent_id = agent_id
        self.terminal = terminal
        self.options = options
        self.can_type = not options.read_only and client.can_control
        self._refused = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._done: asyncio.Future[Ending] = asyncio.get_running_loop().create_future()
        self._keys: asyncio.Queue[str] = asyncio.Queue()

    async def run(self) -> AttachResult:
        info = await self.client.agent(self.agent_id)
        if info.state == "exited":
            raise AgentOffline(
                f"agent {self.agent_id!r} exited with code {info.exit_code}; its output: "
                f"agent-sidecar tail {self.agent_id}"
            )
        since = max(0, info.offset - self.options.replay_bytes)
        stream = await self.client.subscribe(self.agent_id, since=since, follow=True)
        resize = may_resize(info, can_type=self.can_type)
        self.client.on_error = self._on_error
        with self._full_screen(), self._signals(resize):
            if resize:
                await self._send_size()
            sender = asyncio.create_task(self._send_keys())
            self._watch_input()
            try:
                while True:
                    # Live queries are answered by the terminal whose size the PTY has:
                    # this one only when it sets the size; otherwise they are removed like
                    # the replayed ones (and the bytes caught up after a reconnection).
                    replay_end = stream.end_at_subscribe if resize else None
                    outcome = await self._until_detach(self._output(stream, replay_end))
                    if outcome is None:
                        return AttachResult(self._done.result(), None, self._refused)
                    try:
                        code = outcome.result()  # raises the error that ended the stream
                        return AttachResult(Ending.EXITED, code, self._refused)
                    except ConnectionLost:
                        if self._reconnect is None:
                            raise
                    resumed = await self._until_detach(self._resubscribe(stream.next_offset))
                    if resumed is None:
                        return AttachResult(self._done.result(), None, self._refused)
                    stream = resumed.result()
                    if resize:
                        await self._send_size()
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, ClientError):
                    await sender
                with contextlib.suppress(ClientError):
                    await self.client.unsubscribe(self.agent_id)
                for client in self._own_clients:
                    await client.close()

    async def _until_detach(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T] | None:
        """Run ``work`` until it ends (its finished task) or the user detaches (None)."""
        task = asyncio.create_task(work)
        waiting: set[asyncio.Future[Any]] = {task, self._done}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if self._done.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ClientError):
                await task
            return None
        return task

    async def _resubscribe(self, offset: int | None) -> OutputStream:
        """A new connection and subscription from ``offset``, retried with backoff while
        the relay or the agent is not back (the title says so meanwhile)."""
        assert self._reconnect is not None
        self._write(self._title("reconnecting"))
        attempt = 0
        while True:
            await asyncio.sleep(backoff_delay(RECONNECT_BACKOFF, attempt, random.random()))  # noqa: S311
            attempt += 1
            client: Client | None = None
            try:
                client = await self._reconnect()
                stream = await client.subscribe(self.agent_id, since=offset, follow=True)
            except (ConnectionLost, RelayUnreachable, UnknownAgent):
                if client is not None:
                    await client.close()
                continue
            self._own_clients.append(client)
            self.client = client
            client.on_error = self._on_error
            self._write(self._title())
            return stream

    # ------------------------------------------------------------------ output

    async def _output(self, stream: OutputStream, replay_end: int | None) -> int | None:
        """Draw the stream; queries removed up to ``replay_end`` (None: everywhere)."""
        queries: QueryFilter | None = QueryFilter()
        screen = self._screen
        async for event in stream:
            if isinstance(event, TerminalOutput):
                data = event.data
                if queries is not None:
                    if replay_end is None or event.end <= replay_end:
                        data = queries.feed(data)
                    else:
                        split = max(0, replay_end - event.offset)
                        data = queries.feed(data[:split]) + queries.flush() + data[split:]
                        queries = None
                self._write(screen.feed(data))
            elif isinstance(event, Exited):
                return event.exit_code
        return None

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.terminal.stdout_fd, view)
            except BlockingIOError:  # stdout shares a non-blocking file description
                select.select([], [self.terminal.stdout_fd], [])
                continue
            view = view[n:]

    # ------------------------------------------------------------------ input

    def _watch_input(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.terminal.stdin_fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.terminal.stdin_fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._finish(Ending.DETACHED)  # the terminal went away
            return
        keys, detach = self.options.detach_key.split(data)
        if not self.can_type:
            typed_q = not data.startswith(b"\x1b") and READ_ONLY_Q in data
            if detach or READ_ONLY_CTRL_C in data or typed_q:
                self._finish(Ending.DETACHED)
            return
        if keys:
            text = self._decoder.decode(keys)
            if text:
                self._keys.put_nowait(text)
        if detach:
            self._finish(Ending.DETACHED)

    async def _send_keys(self) -> None:
        """One sender, so keys keep their order; what piled up meanwhile goes as one
        message (a paste or fast typing spends one rate-limit token, not one per read)."""
        while True:
            text = await self._keys.get()
            while not self._keys.empty():
                text += self._keys.get_nowait()
            try:
                await self.client.input(self.agent_id, text)
            except ClientError:
                self._refused += 1

    def _on_error(self, error: ClientError) -> None:
        if isinstance(error, Forbidden):
            self.can_type = False  # the relay says this token may not type: stop trying
        self._refused += 1

    # ------------------------------------------------------------------ size

    async def _send_size(self) -> None:
        cols, rows = self.terminal.size()
        with contextlib.suppress(ClientError):
            await self.client.resize(self.agent_id, cols, rows)

    # ------------------------------------------------------------------ terminal

    def _title(self, state: str = "attach") -> bytes:
        """The window title while attached: which agent, and how to leave."""
        name = "".join(c for c in self.agent_id if c.isprintable())
        key = self.options.detach_key.name
        return f"\x1b]2;{name} (agent-sidecar {state}; detach: {key})\x07".encode()

    def _finish(self, ending: Ending) -> None:
        if not self._done.done():
            self._done.set_result(ending)

    @contextlib.contextmanager
    def _full_screen(self) -> Iterator[None]:
        with self.terminal.raw():
            try:
                self._write(ENTER + self._title())
                yield
            finally:
                with contextlib.suppress(OSError):
                    asyncio.get_running_loop().remove_reader(self.terminal.stdin_fd)
                with contextlib.suppress(OSError):
                    self._write(LEAVE)

    @contextlib.contextmanager
    def _signals(self, resize: bool) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        handled = [signal.SIGTERM, signal.SIGHUP]
        for sig in handled:
            loop.add_signal_handler(sig, self._finish, Ending.DETACHED)
        if resize:
            loop.add_signal_handler(
                signal.SIGWINCH, lambda: loop.create_task(self._send_size())
            )
            handled.append(signal.SIGWINCH)
        try:
            yield
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
