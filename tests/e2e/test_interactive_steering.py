"""`run` with a local terminal and a full-screen agent: size ownership, query answers,
terminal restore and hangup/termination, through a real PTY that the test plays.

The agent is ``tests/fakes/agent_tui.py`` (raw mode, alternate screen, mouse, bracketed
paste, keypad and kitty keyboard modes on; SIGINT kills it with all of them left on).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from ptyprocess import PtyProcess

from tests.e2e.conftest import REPO, WAIT
from tests.e2e.test_interactive import Terminal
from tests.fakes import AGENT_TUI
from tests.timing import deadline

FAKE = AGENT_TUI
DASHBOARD = re.compile(rb"Dashboard: (http://[0-9.]+:\d+)/#token=([A-Za-z0-9._-]+)")


def _gone(pid: int) -> bool:
    """The process is gone or only a zombie waiting for init."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.fixture
async def terminal(cli_env: dict[str, str]) -> AsyncIterator[Callable[..., Terminal]]:
    """``terminal(*command, options=(...), cols=, rows=)``: ``run`` on a PTY we play."""
    started: list[Terminal] = []

    def start(*command: str, options: tuple[str, ...] = (), cols: int = 80,
              rows: int = 24) -> Terminal:
        argv = [sys.executable, "-m", "agent_sidecar", "run", "--port", "0", *options,
                "--", *command]
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


async def _waitpid(pid: int) -> int:
    loop = asyncio.get_running_loop()
    async with deadline(WAIT):
        _, status = await loop.run_in_executor(None, os.waitpid, pid, 0)
    return os.waitstatus_to_exitcode(status)


async def test_a_killed_full_screen_program_leaves_the_terminal_restored(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal(sys.executable, FAKE)
    await term.expect(b"READY")
    before = len(term.screen)
    term.proc.kill(signal.SIGINT)  # passed on to the foreground group: the agent dies
    assert await term.exit_code() == 130
    tail = bytes(term.screen[before:])
    for reset in (b"\x1b[?1049l", b"\x1b[?25h", b"\x1b[?1000l", b"\x1b[?1006l",
                  b"\x1b[?2004l", b"\x1b>", b"\x1b[<1u"):
        assert reset in tail, reset


async def test_the_local_terminal_owns_the_size_and_answers_queries(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal(sys.executable, FAKE, "--winch-flush", "--query", cols=160, rows=40)
    await term.expect(b"\x1b[6n")
    term.type(b"\x1b[7;3R")  # the local terminal answers the query
    await term.expect(b"CPR#1:7;3")
    await term.expect(b"READY")
    found = DASHBOARD.search(bytes(term.screen))
    assert found is not None
    url, token = found.group(1).decode(), found.group(2).decode()
    async with aiohttp.ClientSession() as session, session.ws_connect(
        url.replace("http", "ws", 1) + "/ws/dashboard"
    ) as ws:
        await ws.send_str(json.dumps({"type": "dashboard:connect", "protocol": 1,
                                      "token": token}))
        connected = await ws.receive_json(timeout=WAIT)
        (info,) = connected["agents"]
        assert info["local_terminal"] is True
        assert (info["cols"], info["rows"]) == (160, 40)
        agent_id = info["agent_id"]
        await ws.send_str(json.dumps({"type": "terminal:resize", "agent_id": agent_id,
                                      "cols": 158, "rows": 48}))
        await ws.send_str(json.dumps({"type": "terminal:input", "agent_id": agent_id,
                                      "data": "k"}))
        await term.expect(b"KEY:b'k'")
    # Applied in order: had the resize been applied, SIGWINCH would have come first.
    assert b"SIZE:" not in term.screen
    assert os.get_terminal_size(term.fd) == os.terminal_size((160, 40))
    term.type(b"\x04")
    assert await term.exit_code() == 0


async def test_closing_the_terminal_ends_a_program_whose_child_ignores_the_hangup(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal(sys.executable, FAKE, "--stubborn-child", options=("--kill-grace", "0.3"))
    await term.expect(b"STUBBORN-READY")
    found = re.search(rb"CHILD:(\d+)", bytes(term.screen))
    assert found is not None
    stubborn = int(found.group(1))
    term.close()  # the window closes: the kernel hangs up the sidecar's session
    assert await _waitpid(term.proc.pid) == 129  # the command died of the hangup
    term.reaped = True
    assert _gone(stubborn)


async def test_sigterm_escalates_to_sigkill_for_what_ignores_it(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal(sys.executable, FAKE, "--stubborn-child", options=("--kill-grace", "0.3"))
    await term.expect(b"STUBBORN-READY")
    found = re.search(rb"CHILD:(\d+)", bytes(term.screen))
    assert found is not None
    term.proc.kill(signal.SIGTERM)
    assert await term.exit_code() == 143
    assert _gone(int(found.group(1)))
