"""Steering a TUI agent through a real PTY: submit, stop, resize holds, order, acks.

The program is ``tests/fakes/agent_tui.py``: raw mode, alternate screen, bracketed
paste, Ink-like paste detection (text + CR in one read is a paste), Esc to stop a turn.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from agent_sidecar.config import RunConfig
from relay.server import RunningRelay
from tests.fakes import AGENT_TUI, agent_tui_named
from tests.integration.conftest import Dashboard, Sidecar, py

FAKE = AGENT_TUI
AGENT = "itest-agent"

Start = Callable[..., Awaitable[tuple[Dashboard, Sidecar]]]


def tui(*flags: str) -> tuple[str, ...]:
    return (sys.executable, FAKE, *flags)


@pytest.fixture
def start(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> Start:
    async def start(command: tuple[str, ...], **overrides: object) -> tuple[Dashboard, Sidecar]:
        dash = await dashboard(live_relay)
        sidecar = start_sidecar(make_run_config(live_relay.url, command, **overrides))
        await dash.until_output(b"READY")
        return dash, sidecar

    return start


async def finish(dash: Dashboard, sidecar: Sidecar) -> None:
    await dash.send("terminal:input", agent_id=AGENT, data="\x04")
    assert await sidecar.result() == 0


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param((), id="bracketed-paste"),
        pytest.param(("--no-paste-mode",), id="plain-ink-paste-detection"),
        pytest.param(("--fast-return", "30"), id="gemini-fast-return"),
        pytest.param(("--fast-return", "120", "--no-paste-mode"), id="codex-paste-burst"),
    ],
)
async def test_the_command_box_submits_to_an_ink_like_agent(
    start: Start, flags: tuple[str, ...], tmp_path: Path
) -> None:
    # Started as "codex" so that the sidecar applies Codex's submit timing.
    dash, sidecar = await start((agent_tui_named(tmp_path, "codex"), *flags))
    ack = await dash.request("command:request", "c1", input="explain the build", submit=True)
    assert ack.ok, ack.error
    # Acked only after the Enter was written: the submit is already in the stream or
    # about to be; it is never a newline inside the input.
    await dash.until_output(b"SUBMIT:explain the build\r\n")
    assert b"explain the build\\n" not in dash.stream
    await finish(dash, sidecar)


@pytest.mark.parametrize(
    ("text", "shown"),
    [("one line", b"SUBMIT:one line\r\n"), ("two\nlines", b"SUBMIT:two\\nlines\r\n")],
    ids=["typed-as-keys", "multi-line-paste"],
)
async def test_gemini_gets_one_line_as_keys_and_waits_out_its_paste_guard(
    start: Start, tmp_path: Path, text: str, shown: bytes
) -> None:
    flags = ("--fast-return", "30", "--paste-guard", "400")
    dash, sidecar = await start((agent_tui_named(tmp_path, "gemini"), *flags))
    ack = await dash.request("command:request", "c1", input=text, submit=True)
    assert ack.ok, ack.error
    await dash.until_output(shown)
    assert (b"KEY:b'\\x1b[200~" in dash.stream) == ("\n" in text)  # pasted or typed
    await finish(dash, sidecar)


async def test_text_and_enter_arrive_in_separate_reads_with_bracketed_paste(start: Start) -> None:
    dash, sidecar = await start(tui())
    ack = await dash.request("command:request", "c1", input="hi", submit=True)
    assert ack.ok
    await dash.until_output(b"SUBMIT:hi")
    assert b"KEY:b'\\x1b[200~hi\\x1b[201~'" in dash.stream
    assert b"KEY:b'\\r'" in dash.stream
    await finish(dash, sidecar)


async def test_keys_typed_after_a_command_line_come_after_its_enter(start: Start) -> None:
    dash, sidecar = await start(tui("--no-paste-mode"))
    await dash.send("command:request", agent_id=AGENT, request_id="c1", input="first",
                    submit=True)
    await dash.send("terminal:input", agent_id=AGENT, data="x")
    await dash.until_output(b"KEY:b'x'")
    assert dash.acks["c1"].ok
    stream = bytes(dash.stream)
    assert stream.index(b"SUBMIT:first") < stream.index(b"KEY:b'x'")
    await finish(dash, sidecar)


async def test_an_ack_says_so_when_the_command_did_not_read_the_line(
    start: Start, make_run_config: Callable[..., RunConfig]
) -> None:
    stuck = (
        "import os, signal, tty\n"
        "tty.setraw(0)\n"
        "os.write(1, b'READY')\n"
        "signal.signal(signal.SIGINT, lambda *a: os._exit(0))\n"
        "signal.pause()\n"
    )
    dash, sidecar = await start(py(stuck), submit_timeout=0.3)
    ack = await dash.request("command:request", "c1", input="hello", submit=True)
    assert not ack.ok
    assert ack.error is not None
    assert "did not read" in ack.error
    assert "Enter was not sent" in ack.error
    assert (await dash.request("command:interrupt", "i1", signal="SIGINT")).ok
    assert await sidecar.result() == 0


async def test_a_cooked_mode_command_gets_the_line_in_one_write(start: Start) -> None:
    line = "import sys; print('READY', flush=True); print('got:' + sys.stdin.readline().strip())"
    dash, sidecar = await start(py(line))
    assert (await dash.request("command:request", "c1", input="hello", submit=True)).ok
    await dash.until_output(b"got:hello")
    assert await sidecar.result() == 0


async def test_the_stop_key_stops_a_turn_and_the_agent_keeps_running(start: Start) -> None:
    dash, sidecar = await start(tui())
    assert (await dash.request("command:request", "c1", input="work", submit=True)).ok
    await dash.until_output(b"SUBMIT:work")
    stop = await dash.request("command:request", "s1", input="\x1b", submit=False)
    assert stop.ok
    await dash.until_output(b"STOPPED")
    assert sidecar.runner.exit is None
    await finish(dash, sidecar)


async def test_a_key_right_after_a_resize_is_not_lost(start: Start) -> None:
    """The program drops typeahead while it redraws for SIGWINCH (as less does): keys
    that follow a resize wait for that redraw."""
    dash, sidecar = await start(tui("--winch-flush"), cols=80, rows=24)
    for n, (cols, rows) in enumerate([(100, 30), (90, 28), (120, 40)]):
        await dash.send("terminal:resize", agent_id=AGENT, cols=cols, rows=rows)
        await dash.send("terminal:input", agent_id=AGENT, data=str(n))
        await dash.until_output(f"KEY:b'{n}'".encode())
        assert f"SIZE:{cols}x{rows}".encode() in dash.stream
    await finish(dash, sidecar)


async def test_a_key_after_two_quick_resizes_waits_for_the_second_redraw(start: Start) -> None:
    """The first redraw's output must not release the key while the program is about to
    redraw (and drop typeahead) again for the second resize."""
    dash, sidecar = await start(tui("--winch-flush"), cols=80, rows=24)
    await dash.send("terminal:resize", agent_id=AGENT, cols=100, rows=30)
    await dash.send("terminal:resize", agent_id=AGENT, cols=110, rows=32)
    await dash.send("terminal:input", agent_id=AGENT, data="k")
    await dash.until_output(b"KEY:b'k'")
    await finish(dash, sidecar)


async def test_a_command_that_ends_on_the_enter_still_acks_the_line(start: Start) -> None:
    """The ack says the line and its Enter were written; the command leaving right after
    reading them does not turn that into an error."""
    ends = "import os, tty\ntty.setraw(0)\nos.write(1, b'READY')\nos.read(0, 1)\n"
    dash, sidecar = await start(py(ends))
    ack = await dash.request("command:request", "c1", input="", submit=True)
    assert ack.ok, ack.error
    assert await sidecar.result() == 0
