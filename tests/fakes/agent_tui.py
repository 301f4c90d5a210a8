"""A stand-in for Claude Code / Codex / Gemini CLI: the behaviour that steering must
cope with, without a network or an API key.

Like the real agents it runs in raw mode on the alternate screen with bracketed paste,
application keypad and the kitty keyboard protocol switched on, and reads its input the
way Ink and crossterm do:

- text and a carriage return that arrive in **one read** are a paste: the CR becomes a
  newline in the input, nothing is submitted;
- with ``--fast-return MS``, an Enter read within MS milliseconds of text is a newline
  too (Gemini CLI: 30, Codex's paste-burst window: 120);
- a bracketed paste (``ESC[200~ ... ESC[201~``) is inserted as text; with
  ``--paste-guard MS`` an Enter within MS milliseconds of a paste is a newline (Gemini
  CLI does that for 40 ms, but resets it late when busy);
- a lone CR submits the input line: ``SUBMIT:<line>`` (newlines shown as ``\\n``);
  the agent is then "working" until Esc stops the turn (``STOPPED``);
- SIGINT is not caught: the program dies of it with every mode still on, as the real
  agents do when a signal reaches them;
- ``--query`` asks the terminal for the cursor position (CSI 6n) at start and reports
  every reply it reads (``CPR#n``); the key ``?`` asks again;
- ``--winch-flush`` drops typeahead when the window size changes (as ``less`` does
  while it redraws), prints ``SIZE:<cols>x<rows>``, and reports no mouse;
- ``--stubborn-child`` runs a child process that ignores SIGHUP and SIGTERM (Gemini
  CLI's relaunched child did) and waits for it; it prints ``CHILD:<pid>``.

Every key it reads is also reported: ``KEY:<repr>``. Markers are printed on their own
line so that a test can wait for them.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import signal
import subprocess
import sys
import termios
import time
import tty

PASTE = re.compile(rb"\x1b\[200~(.*?)\x1b\[201~", re.S)
CPR = re.compile(rb"\x1b\[(\d+);(\d+)R")


def say(text: str) -> None:
    os.write(1, f"\r\n{text}\r\n".encode())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fast-return", type=float, default=0.0)
    parser.add_argument("--paste-guard", type=float, default=0.0)
    parser.add_argument("--query", action="store_true")
    parser.add_argument("--winch-flush", action="store_true")
    parser.add_argument("--stubborn-child", action="store_true")
    parser.add_argument("--no-paste-mode", action="store_true")
    # The sidecar adds the real agents' hook options (--settings, -c notify=...): ignored.
    args, _ = parser.parse_known_args()

    if args.stubborn_child:
        child = subprocess.Popen([sys.executable, "-c", STUBBORN])
        say(f"CHILD:{child.pid}")
        return child.wait()

    tty.setraw(0, termios.TCSANOW)
    modes = b"\x1b[?1049h\x1b[?25l\x1b=\x1b[>1u"
    if not args.winch_flush:  # a pager (less) reports no mouse; the agents do
        modes += b"\x1b[?1000h\x1b[?1006h"
    if not args.no_paste_mode:
        modes += b"\x1b[?2004h"
    os.write(1, modes)
    if args.winch_flush:
        def winch(*_: object) -> None:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})
            time.sleep(0.05)  # "redrawing"
            termios.tcflush(0, termios.TCIFLUSH)
            cols, rows = os.get_terminal_size(0)
            say(f"SIZE:{cols}x{rows}")
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGWINCH})

        signal.signal(signal.SIGWINCH, winch)
    replies = 0
    if args.query:
        os.write(1, b"\x1b[6n")
    say("READY")
    line = b""
    last_text = 0.0
    last_paste = 0.0
    working = False
    while True:
        try:
            ready, _, _ = select.select([0], [], [])
        except InterruptedError:
            continue
        if not ready:
            continue
        try:
            data = os.read(0, 4096)
        except InterruptedError:
            continue
        if not data:
            return 0
        now = time.monotonic()
        for match in CPR.finditer(data):
            replies += 1
            say(f"CPR#{replies}:{match.group(1).decode()};{match.group(2).decode()}")
        data = CPR.sub(b"", data)
        if not data:
            continue
        say(f"KEY:{data!r}")
        pasted = PASTE.findall(data)
        if pasted:
            line += b"".join(pasted)
            last_text = last_paste = now
            continue
        if data == b"\x1b":
            if working:
                working = False
                say("STOPPED")
            continue
        if data == b"?":
            os.write(1, b"\x1b[6n")
            continue
        if data == b"\x04":
            os.write(1, b"\x1b[?2004l\x1b[<u\x1b>\x1b[?1006l\x1b[?1000l\x1b[?25h\x1b[?1049l")
            return 0
        if data == b"\r":
            if (args.fast_return and now - last_text <= args.fast_return / 1000) or (
                args.paste_guard and now - last_paste <= args.paste_guard / 1000
            ):
                line += b"\n"
                continue
            shown = line.decode(errors="replace").replace("\n", "\\n")
            say(f"SUBMIT:{shown}")
            line = b""
            working = True
            continue
        # Text, or text with CRs in the same read: a paste (the CRs become newlines).
        line += data.replace(b"\r", b"\n")
        last_text = now


STUBBORN = (
    "import os, signal, sys, time\n"
    "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "os.write(1, b'\\r\\nSTUBBORN-READY\\r\\n')\n"
    "while True:\n"
    "    time.sleep(3600)\n"
)

if __name__ == "__main__":
    sys.exit(main())
