"""Interactive mode through a real terminal: the CLI runs on a PTY that the test drives.

The test plays the user's terminal emulator: it reads what ``agent-sidecar run`` writes,
types keys, resizes the window, and checks the terminal settings after the exit.
"""

from __future__ import annotations

import asyncio
import os
import sys
import termios
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from ptyprocess import PtyProcess

from tests.e2e.conftest import REPO, WAIT
from tests.timing import deadline

PY = sys.executable


class Terminal:
    """The user's side of a PTY with ``agent-sidecar`` running in it."""

    def __init__(self, proc: Any) -> None:
        self.proc = proc
        self.fd: int = proc.fd
        self.screen = bytearray()
        self._more = asyncio.Event()
        self._eof = False
        self.reaped = False
        os.set_blocking(self.fd, False)
        asyncio.get_running_loop().add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._eof = True
            asyncio.get_running_loop().remove_reader(self.fd)
        self.screen += data
        self._more.set()

    async def expect(self, sentinel: bytes, timeout: float = WAIT) -> None:
        async with deadline(timeout):
            while sentinel not in self.screen:
                if self._eof:
                    raise AssertionError(f"terminal closed without {sentinel!r}: {self.screen!r}")
                self._more.clear()
                await self._more.wait()

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def close(self) -> None:
        """Close our side; mark the process handled so ptyprocess does not reap it."""
        if not self._eof:
            asyncio.get_running_loop().remove_reader(self.fd)
            self._eof = True
        self.proc.fileobj.close()
        self.proc.closed = True

    def lflag(self) -> int:
        return int(termios.tcgetattr(self.fd)[3])

    async def exit_code(self, timeout: float = WAIT) -> int:
        loop = asyncio.get_running_loop()
        async with deadline(timeout):
            while not self._eof:
                self._more.clear()
                await self._more.wait()
            _, status = await loop.run_in_executor(None, os.waitpid, self.proc.pid, 0)
        self.reaped = True
        return os.waitstatus_to_exitcode(status)


@pytest.fixture
async def terminal(
    cli_env: dict[str, str],
) -> AsyncIterator[Callable[..., Terminal]]:
    started: list[Terminal] = []

    def start(*command: str, cols: int = 80, rows: int = 24) -> Terminal:
        argv = [sys.executable, "-m", "agent_sidecar", "run", "--port", "0", "--", *command]
        proc = PtyProcess.spawn(argv, env=cli_env, cwd=str(REPO), dimensions=(rows, cols))
        term = Terminal(proc)
        started.append(term)
        return term

    yield start
    for term in started:
        if not term.reaped:
            term.proc.kill(9)
            os.waitpid(term.proc.pid, 0)
        term.close()


ECHO = "import sys; print('ready', flush=True); line = input(); print('typed:' + line); sys.exit(3)"


async def test_keys_are_forwarded_echoed_and_the_terminal_is_restored(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal(PY, "-c", ECHO)
    await term.expect(b"ready")
    # Raw mode: no local echo and no line editing while the command runs.
    assert not term.lflag() & termios.ECHO
    assert not term.lflag() & termios.ICANON
    term.type(b"hello\r")
    await term.expect(b"hello")  # echoed by the command's own terminal
    await term.expect(b"typed:hello")
    assert await term.exit_code() == 3
    assert term.lflag() & termios.ECHO
    assert term.lflag() & termios.ICANON


async def test_ctrl_c_interrupts_the_command_and_the_terminal_is_restored(
    terminal: Callable[..., Terminal],
) -> None:
    code = "import time; print('sleeping', flush=True); time.sleep(60)"
    term = terminal(PY, "-c", code)
    await term.expect(b"sleeping")
    term.type(b"\x03")
    assert await term.exit_code() == 130  # python dies of SIGINT: 128 + 2
    assert term.lflag() & termios.ECHO


async def test_window_size_is_set_at_start_and_follows_the_terminal(
    terminal: Callable[..., Terminal],
) -> None:
    code = (
        "import os, signal, sys\n"
        "def report(*_):\n"
        "    c, r = os.get_terminal_size(0); print(f'size:{c}x{r}', flush=True)\n"
        "signal.signal(signal.SIGWINCH, report)\n"
        "report()\n"
        "sys.stdin.readline()\n"
    )
    term = terminal(PY, "-c", code, cols=101, rows=33)
    await term.expect(b"size:101x33")
    term.proc.setwinsize(40, 120)  # the kernel sends SIGWINCH to the sidecar
    await term.expect(b"size:120x40")
    term.type(b"\r")
    assert await term.exit_code() == 0


async def test_sigterm_to_the_sidecar_restores_the_terminal(
    terminal: Callable[..., Terminal],
) -> None:
    code = "import time; print('waiting', flush=True); time.sleep(60)"
    term = terminal(PY, "-c", code)
    await term.expect(b"waiting")
    assert not term.lflag() & termios.ECHO
    term.proc.kill(15)
    assert await term.exit_code() == 143  # forwarded: the command died of SIGTERM
    assert term.lflag() & termios.ECHO
