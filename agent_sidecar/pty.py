"""The command under a pseudo-terminal: spawn, read, write, resize, signal, wait.

The PTY master is read with ``loop.add_reader`` and ``os.read(fd, 65536)``: a read is
made only when the kernel says bytes are there, never on a timer. End of output on Linux
is ``OSError(EIO)`` once no process holds the slave side open any more. Writes go
through a non-blocking queue so that a child that does not read its input never blocks
the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import select
import shutil
import signal
import struct
import termios
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ptyprocess import PtyProcess

from .errors import CommandNotExecutable, CommandNotFound

log = logging.getLogger(__name__)

READ_SIZE = 65536
TERM = "xterm-256color"
#: Linux ioctl: open the slave side of a PTY master (Linux 4.13+).
TIOCGPTPEER = 0x5441

#: Input waiting for a command that does not read it is refused beyond this many bytes
#: (a stuck command must not make the sidecar hold every paste sent to it).
MAX_QUEUED_INPUT = 1024 * 1024


class InputRefused(Exception):
    """The command has not read the input already queued for it."""


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How the command ended: ``code`` is 128+N when signal N killed it."""

    code: int
    signal: str | None = None

    @classmethod
    def from_wait_status(cls, status: int) -> ExitStatus:
        code = os.waitstatus_to_exitcode(status)
        if code >= 0:
            return cls(code=code)
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"SIG{-code}"
        return cls(code=128 - code, signal=name)


def child_env(base: Mapping[str, str], drop: Sequence[str]) -> dict[str, str]:
    """The command's environment: ours with ``TERM`` set and the secrets in ``drop`` removed."""
    env = {k: v for k, v in base.items() if k not in drop}
    env["TERM"] = TERM
    return env


def _restore_signals() -> None:
    """In the child, before exec: default dispositions for what Python ignores."""
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def resolve_command(argv: Sequence[str], env: Mapping[str, str]) -> str:
    """The executable ``argv[0]`` names, or raise CommandNotFound/CommandNotExecutable."""
    name = argv[0]
    if os.sep in name:
        if not os.path.exists(name):
            raise CommandNotFound(f"command not found: {name}")
        if os.path.isdir(name) or not os.access(name, os.X_OK):
            raise CommandNotExecutable(f"command is not executable: {name}")
        return name
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found is None:
        if shutil.which(name, mode=os.F_OK, path=env.get("PATH", os.defpath)):
            raise CommandNotExecutable(f"command is not executable: {name}")
        raise CommandNotFound(f"command not found: {name}")
    return found


class PtyChild:
    """One command running under a PTY, owned by one event loop."""

    def __init__(self, proc: PtyProcess, cols: int, rows: int) -> None:
        self._proc = proc
        self.pid: int = proc.pid
        self.fd: int = proc.fd
        self.cols = cols
        self.rows = rows
        self._loop = asyncio.get_running_loop()
        self._writes: deque[tuple[memoryview, asyncio.Future[None]]] = deque()
        #: Bytes queued in ``_writes`` and not yet taken by the kernel.
        self.queued_input = 0
        self._writer_armed = False
        self._reading = False
        self._readable: Callable[[], None] | None = None
        self._closed = False
        #: Process groups that signals to "the command" go to (its own, foreground ones).
        self._groups: set[int] = {proc.pid}
        os.set_blocking(self.fd, False)

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cols: int,
        rows: int,
        cwd: str | None = None,
    ) -> PtyChild:
        resolve_command(argv, env)
        try:
            proc = PtyProcess.spawn(
                list(argv),
                cwd=cwd,
                env=dict(env),
                dimensions=(rows, cols),
                preexec_fn=_restore_signals,
            )
        except FileNotFoundError as exc:
            raise CommandNotFound(f"command not found: {argv[0]}") from exc
        except PermissionError as exc:
            raise CommandNotExecutable(f"command is not executable: {argv[0]}") from exc
        child = cls(proc, cols, rows)
        log.info("child spawned: pid %d, %dx%d", child.pid, cols, rows)
        return child

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ output

    def start_reading(
        self,
        on_data: Callable[[bytes], None],
        on_eof: Callable[[], None],
        *,
        read_ahead: int = READ_SIZE,
    ) -> None:
        """Call ``on_data`` with each read and ``on_eof`` once at end of output.

        One wakeup reads on until the PTY is empty, ``read_ahead`` bytes are read or
        ``on_data`` paused reading. ``on_data`` runs between the reads on purpose: the
        kernel hands a PTY reader at most 4 KiB at a time and refills that from the
        writer's side in a worker of its own, so a read made at once after another
        mostly finds nothing and the process goes to sleep, while one made after
        handling the last read finds the refill done (docs/performance.md, fifth pass).
        """

        def readable() -> None:
            size = 0
            while size < read_ahead:
                try:
                    data = os.read(self.fd, READ_SIZE)
                except BlockingIOError:
                    return
                except OSError as exc:
                    if exc.errno != errno.EIO:
                        log.warning("pty read failed: %s", exc)
                    data = b""
                if not data:
                    self.stop_reading()
                    on_eof()
                    return
                on_data(data)
                if not self._reading:  # paused (flow control) or stopped by on_data
                    return
                size += len(data)

        self._readable = readable
        self._loop.add_reader(self.fd, readable)
        self._reading = True

    def stop_reading(self) -> None:
        self._readable = None
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self.fd)

    def pause_reading(self) -> None:
        """Stop reading for now (flow control): the child blocks once the PTY is full."""
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self.fd)

    def resume_reading(self) -> None:
        """Read again after :meth:`pause_reading` (no-op after end of output)."""
        if not self._reading and self._readable is not None and not self._closed:
            self._reading = True
            self._loop.add_reader(self.fd, self._readable)

    def read_available(self) -> bytes:
        """Whatever can be read right now without waiting (used when giving up on EOF)."""
        parts: list[bytes] = []
        while True:
            try:
                data = os.read(self.fd, READ_SIZE)
            except OSError:
                break
            if not data:
                break
            parts.append(data)
        return b"".join(parts)

    # ------------------------------------------------------------------ input

    def send(self, data: bytes) -> asyncio.Future[None]:
        """Queue ``data`` for the PTY now (order kept); the future is done once written."""
        fut: asyncio.Future[None] = self._loop.create_future()
        if self._closed:
            fut.set_exception(OSError(errno.EBADF, "the terminal is closed"))
            return fut
        if not data:
            fut.set_result(None)
            return fut
        if self.queued_input and self.queued_input + len(data) > MAX_QUEUED_INPUT:
            fut.set_exception(InputRefused(
                f"the command has not read the {self.queued_input} bytes of input already "
                f"queued; {len(data)} more refused"
            ))
            return fut
        self._writes.append((memoryview(data), fut))
        self.queued_input += len(data)
        self._flush_writes()
        return fut

    async def write(self, data: bytes) -> None:
        """Write all of ``data`` to the PTY; returns once the kernel has taken it."""
        await self.send(data)

    def _flush_writes(self) -> None:
        while self._writes:
            view, fut = self._writes[0]
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                break
            except OSError as exc:
                self._fail_writes(exc)
                return
            self.queued_input -= n
            if n < len(view):
                self._writes[0] = (view[n:], fut)
                continue
            self._writes.popleft()
            if not fut.done():
                fut.set_result(None)
        if self._writes and not self._writer_armed:
            self._loop.add_writer(self.fd, self._flush_writes)
            self._writer_armed = True
        elif not self._writes and self._writer_armed:
            self._loop.remove_writer(self.fd)
            self._writer_armed = False

    def _fail_writes(self, exc: BaseException) -> None:
        self.queued_input = 0
        while self._writes:
            _, fut = self._writes.popleft()
            if not fut.done():
                fut.set_exception(exc)
        if self._writer_armed:
            self._loop.remove_writer(self.fd)
            self._writer_armed = False

    def canonical(self) -> bool:
        """True while the command reads lines (cooked mode): the kernel edits the line
        and hands it over at the carriage return."""
        try:
            return bool(termios.tcgetattr(self.fd)[3] & termios.ICANON)
        except (termios.error, OSError):
            return False

    def unread_input(self) -> int | None:
        """Bytes written to the PTY that the command has not read yet (None: unknown).

        Asked on the slave side, opened for the moment only: holding it open would keep
        the PTY from reporting end of output when the command exits.
        """
        if self._closed:
            return None
        try:
            peer = fcntl.ioctl(self.fd, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            # Polling the slave first makes the kernel move bytes still in transit
            # (the PTY's flip buffer) into its input queue, so the count is current.
            poller = select.poll()
            poller.register(peer, select.POLLIN)
            poller.poll(0)
            raw = fcntl.ioctl(peer, termios.FIONREAD, b"\0\0\0\0")
        except OSError:
            return None
        finally:
            os.close(peer)
        return int(struct.unpack("i", raw)[0]) + self.queued_input

    # ------------------------------------------------------------------ control

    def resize(self, cols: int, rows: int) -> None:
        """Set the window size; the kernel sends SIGWINCH to the foreground group."""
        self._proc.setwinsize(rows, cols)
        self.cols, self.rows = cols, rows

    def foreground_group(self) -> int:
        """The PTY's foreground process group (the child's own if it cannot be read)."""
        try:
            pgrp = os.tcgetpgrp(self.fd)
        except OSError:
            return self.pid
        return pgrp if pgrp > 0 else self.pid

    def signal_foreground(self, sig: int) -> None:
        """Deliver ``sig`` to the foreground process group, as a terminal's ^C would.

        Works for raw-mode programs (where a ``\\x03`` byte is just a byte) and for the
        current job of an interactive shell.
        """
        os.killpg(self.foreground_group(), sig)

    def signal_groups(self, sig: int, *, include_child: bool = True) -> None:
        """Deliver ``sig`` to the command's process group and the PTY's foreground group
        (every group seen so far, also after the command itself exited), and to the
        command itself when ``include_child`` (it may have left its group)."""
        if not self._closed:
            with contextlib.suppress(OSError):
                pgrp = os.tcgetpgrp(self.fd)
                if pgrp > 0:
                    self._groups.add(pgrp)
        if include_child and self._own_group() not in self._groups:
            # Only when it left the groups below: a second copy of the signal could
            # reach it after its handler ran, and end it with the default action.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, sig)
        for pgrp in self._groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgrp, sig)

    def _own_group(self) -> int | None:
        try:
            return os.getpgid(self.pid)
        except (ProcessLookupError, PermissionError):
            return None

    def groups_alive(self) -> bool:
        """True while a process of a group :meth:`signal_groups` targets is left."""
        for pgrp in self._groups:
            try:
                os.killpg(pgrp, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                return True
            return True
        return False

    async def groups_gone(self, timeout: float, interval: float = 0.05) -> bool:
        """Wait up to ``timeout`` for those groups to be empty (the kernel has no event
        for it: checked every ``interval``); True when they are."""
        deadline = self._loop.time() + timeout
        while self.groups_alive():
            if self._loop.time() >= deadline:
                return False
            await asyncio.sleep(interval)
        return True

    def signal_child(self, sig: int) -> None:
        """Deliver ``sig`` to the direct child (and its foreground group, if different)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)
        pgrp = self.foreground_group()
        if pgrp != self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgrp, sig)

    async def wait(self) -> ExitStatus:
        """Wait for the direct child to exit (without polling) and reap it."""
        pidfd: int | None
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            pidfd = None
        if pidfd is None:
            _, status = await self._loop.run_in_executor(None, os.waitpid, self.pid, 0)
        else:
            try:
                ready: asyncio.Future[None] = self._loop.create_future()
                def exited() -> None:
                    if not ready.done():
                        ready.set_result(None)

                self._loop.add_reader(pidfd, exited)
                try:
                    await ready
                finally:
                    self._loop.remove_reader(pidfd)
            finally:
                os.close(pidfd)
            _, status = os.waitpid(self.pid, 0)
        result = ExitStatus.from_wait_status(status)
        log.info("child exited: pid %d, code %d, signal %s", self.pid, result.code, result.signal)
        return result

    def close(self) -> None:
        """Close the master side (remaining holders of the slave get a hangup)."""
        if self._closed:
            return
        self._closed = True
        self.stop_reading()
        self._fail_writes(OSError(errno.EBADF, "the terminal is closed"))
        # Close through ptyprocess's file object but keep it from reaping or killing
        # the child (we reap it ourselves in wait()).
        with contextlib.suppress(OSError):
            self._proc.fileobj.close()
        self._proc.closed = True
        self._proc.fd = -1

