"""The program the benchmark runs under the sidecar's PTY (also importable).

Standalone on purpose (no imports from the project): the sidecar starts it as
``python producer.py MODE ...`` with whatever environment it has.

Modes:

- ``burst BYTES TTY``: print :data:`READY`, wait for one input line/byte ("go"), write
  ``BYTES`` of :func:`payload_block` text with ``os.write`` to fd 1, then exit (``--stay``:
  then wait for stdin to close). ``TTY`` is ``raw`` (``tty.setraw``: no ``\\n`` ->
  ``\\r\\n``) or ``cooked`` (echo off, output processing on).
- ``echo``: non-canonical input with the terminal's own echo on: every keystroke comes
  back from the kernel's line discipline (what a shell prompt does, minus the shell);
  input is read and discarded.
- ``print BYTES TTY``: like ``burst`` without the marker and without waiting for "go"
  (``--stay`` as above: a late joiner's scrollback; without it: the PTY-read limit).
"""

from __future__ import annotations

import os
import sys
import termios
import tty

READY = b"<<READY>>"
BLOCK_BYTES = 64 * 1024


def payload_block() -> bytes:
    """64 KiB of terminal-like output: coloured, numbered log lines (ESC and \\n heavy)."""
    lines: list[bytes] = []
    size = 0
    i = 0
    while size < BLOCK_BYTES:
        colour = 31 + i % 7
        line = (
            f"\x1b[{colour}m{i:06d}\x1b[0m INFO worker-{i % 13}: processed batch "
            f"{i * 7919 % 100000} in {i % 997} ms \x1b[1mok\x1b[0m\n"
        ).encode()
        lines.append(line)
        size += len(line)
        i += 1
    return b"".join(lines)[:BLOCK_BYTES]


def payload(n: int) -> bytes:
    block = payload_block()
    reps, rest = divmod(n, len(block))
    return block * reps + block[:rest]


def expected_output(n: int, mode: str) -> bytes:
    """The bytes a reader of the PTY gets when the child writes ``payload(n)``."""
    data = payload(n)
    return data.replace(b"\n", b"\r\n") if mode == "cooked" else data


def _set_mode(mode: str) -> None:
    fd = 0
    if mode == "raw":
        tty.setraw(fd)
        return
    attrs = termios.tcgetattr(fd)
    if mode == "cooked":
        attrs[3] &= ~termios.ECHO  # lflag: output processing stays on, no echo of "go"
    elif mode == "echo":
        attrs[3] &= ~termios.ICANON
        attrs[3] |= termios.ECHO
        attrs[6][termios.VMIN] = 1
        attrs[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _write_all(data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(1, view)
        view = view[n:]


def _write_payload(n: int) -> None:
    block = payload_block()
    reps, rest = divmod(n, len(block))
    for _ in range(reps):
        _write_all(block)
    if rest:
        _write_all(block[:rest])


def _wait_stdin_closed() -> None:
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass


def main(argv: list[str]) -> int:
    mode = argv[0]
    if mode == "echo":
        _set_mode("echo")
        _write_all(READY)
        _wait_stdin_closed()
        return 0
    n = int(argv[1])
    tty_mode = argv[2]
    stay = "--stay" in argv
    _set_mode(tty_mode)
    if mode == "burst":
        _write_all(READY)
        os.read(0, 1)  # "go" (raw: one byte; cooked: a whole line)
    _write_payload(n)
    if stay:
        _wait_stdin_closed()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
