"""The local terminal in interactive mode: raw mode, window size, restore.

Interactive mode (stdin and stdout both a terminal) behaves like ``script``: the local
terminal goes to raw mode so that every key (including ^C, ^Z, ^D) reaches the command,
whose output is mirrored back. The saved settings are restored on every exit path:
:meth:`LocalTerminal.raw` is a context manager and the caller enters it around
everything, so an exception, a forwarded signal or a normal exit all pass through it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import termios
import tty
from collections.abc import Iterator
from typing import Any, TextIO

log = logging.getLogger(__name__)

DEFAULT_COLS = 80
DEFAULT_ROWS = 24


def is_interactive(stdin_fd: int = 0, stdout_fd: int = 1) -> bool:
    """True when both stdin and stdout are terminals."""
    return os.isatty(stdin_fd) and os.isatty(stdout_fd)


def terminal_size(fd: int) -> tuple[int, int] | None:
    """``(cols, rows)`` of the terminal on ``fd``, or None when it is not one."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    if size.columns < 1 or size.lines < 1:
        return None
    return min(size.columns, 1000), min(size.lines, 1000)


class LocalTerminal:
    """The user's terminal: stdin to read keys from, stdout to mirror output to."""

    def __init__(self, stdin_fd: int = 0, stdout_fd: int = 1, stderr: TextIO | None = None):
        self.stdin_fd = stdin_fd
        self.stdout_fd = stdout_fd
        self._stderr = stderr if stderr is not None else sys.stderr
        self._saved: list[Any] | None = None

    @property
    def is_raw(self) -> bool:
        return self._saved is not None

    def size(self) -> tuple[int, int]:
        return (
            terminal_size(self.stdout_fd)
            or terminal_size(self.stdin_fd)
            or (DEFAULT_COLS, DEFAULT_ROWS)
        )

    @contextlib.contextmanager
    def raw(self) -> Iterator[None]:
        """Raw mode for the duration of the block; the old settings come back after."""
        self._saved = termios.tcgetattr(self.stdin_fd)
        try:
            tty.setraw(self.stdin_fd, termios.TCSADRAIN)
            log.debug("terminal in raw mode")
            yield
        finally:
            self.restore()

    def reapply(self) -> None:
        """Raw mode again (after SIGCONT: the shell put its own settings back meanwhile)."""
        if self._saved is not None:
            with contextlib.suppress(termios.error, OSError):
                tty.setraw(self.stdin_fd, termios.TCSADRAIN)

    def restore(self) -> None:
        saved, self._saved = self._saved, None
        if saved is None:
            return
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(self.stdin_fd, termios.TCSADRAIN, saved)
        log.debug("terminal restored")

    def notice(self, text: str) -> None:
        """One line for the user on stderr, readable in raw mode too."""
        line = f"\r\n{text}\r\n" if self.is_raw else f"{text}\n"
        with contextlib.suppress(OSError, ValueError):
            self._stderr.write(line)
            self._stderr.flush()
