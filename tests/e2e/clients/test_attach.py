"""``agent-sidecar attach`` through a real terminal: the CLI runs on a PTY the test drives
(it plays the user's terminal emulator), against a real relay and a real ``run``."""

from __future__ import annotations

import signal
import sys
import termios
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from ptyprocess import PtyProcess

from agent_sidecar.client import AgentInfo
from relay.auth import mint_token
from tests.e2e.clients.conftest import AGENT, ECHO_LINES, Client
from tests.e2e.conftest import REPO, WAIT, Cli
from tests.e2e.test_interactive import Terminal
from tests.timing import deadline

PY = sys.executable
ENTER_ALT = b"\x1b[?1049h"
LEAVE_ALT = b"\x1b[?1049l"

Attach = Callable[..., Terminal]


@pytest.fixture
async def attach(user_env: dict[str, str]) -> AsyncIterator[Attach]:
    started: list[Terminal] = []

    def start(*args: str, env: dict[str, str] | None = None, rows: int = 24,
              cols: int = 80) -> Terminal:
        argv = [PY, "-m", "agent_sidecar", "attach", *args]
        proc = PtyProcess.spawn(argv, env=env or user_env, cwd=str(REPO),
                                dimensions=(rows, cols))
        term = Terminal(proc)
        started.append(term)
        return term

    yield start
    for term in started:
        if not term.reaped:
            term.proc.kill(9)
            await term.exit_code()
        term.close()


async def expect_after(term: Terminal, sentinel: bytes, start: int) -> None:
    """Wait until ``sentinel`` appears on the screen after byte ``start``."""
    async with deadline(WAIT):
        while sentinel not in term.screen[start:]:
            term._more.clear()
            await term._more.wait()


def assert_cooked(term: Terminal) -> None:
    """The settings tty.setraw turns off are back on."""
    iflag, oflag, _cflag, lflag = termios.tcgetattr(term.fd)[:4]
    assert lflag & termios.ECHO
    assert lflag & termios.ICANON
    assert lflag & termios.ISIG
    assert lflag & termios.IEXTEN
    assert iflag & termios.ICRNL
    assert oflag & termios.OPOST


@pytest.mark.parametrize(
    "detach", [b"\x1d", b"\x1b[93;5u"], ids=["ctrl-]", "ctrl-] as CSI-u (kitty keyboard)"]
)
async def test_keys_reach_the_agent_the_detach_key_does_not_and_the_terminal_is_restored(
    agent: Cli, attach: Attach, client: Client, output: Callable[[str], Awaitable[str]],
    detach: bytes,
) -> None:
    term = attach(AGENT)
    await term.expect(b"detach with ctrl-]")
    await term.expect(ENTER_ALT)
    await term.expect(b"ready")  # the replay
    lflag = termios.tcgetattr(term.fd)[3]
    assert not lflag & termios.ECHO
    assert not lflag & termios.ICANON
    term.type(b"hello\r")
    await term.expect(b"got:'hello'")
    term.type(b"abc" + detach)
    assert await term.exit_code() == 0
    await term.expect(LEAVE_ALT)
    await term.expect(b"detached from e2e-agent; it keeps running")
    assert_cooked(term)
    # The agent runs on, and got "abc" without the detach key.
    assert (await client("send", AGENT, "def")).code == 0
    await output("got:'abcdef'")


async def test_the_agents_exit_ends_attach_with_its_exit_code(
    agent: Cli, attach: Attach
) -> None:
    term = attach(AGENT)
    await term.expect(b"ready")
    term.type(b"quit\r")
    assert await term.exit_code() == 3
    await term.expect(LEAVE_ALT)
    await term.expect(b"e2e-agent exited with code 3")
    assert_cooked(term)


async def test_read_only_sends_nothing_and_q_detaches(
    agent: Cli, attach: Attach, client: Client, output: Callable[[str], Awaitable[str]],
) -> None:
    term = attach("--read-only", AGENT)
    await term.expect(b"read-only")
    await term.expect(b"ready")
    term.type(b"nope\r")
    term.type(b"q")
    assert await term.exit_code() == 0
    assert_cooked(term)
    assert (await client("send", AGENT, "x")).code == 0
    assert "nope" not in await output("got:'x'")


async def test_a_viewer_token_attaches_read_only(
    agent: Cli, attach: Attach, user_env: dict[str, str], secret: bytes
) -> None:
    viewer = mint_token(secret, sub="e2e-viewer", role="viewer", ttl=600)
    term = attach(AGENT, env=dict(user_env, AGENT_SIDECAR_TOKEN=viewer))
    await term.expect(b"role viewer may not type: attaching read-only")
    await term.expect(b"ready")
    term.type(b"\x03")
    assert await term.exit_code() == 0
    assert_cooked(term)


async def test_replayed_queries_are_not_drawn_and_the_agents_alt_screen_stays_inside(
    relay_url: str, secret: bytes, spawn_cli: Callable[..., Awaitable[Cli]],
    attach: Attach, output: Callable[[str], Awaitable[str]],
) -> None:
    # The agent asks for the cursor position and device attributes, then opens and
    # closes the alternate screen (as vim does), then waits.
    code = (
        "import sys; print('\\x1b[6n\\x1b[casked\\x1b[?1049hin-alt\\x1b[?1049lout', "
        "flush=True); sys.stdin.readline()"
    )
    token = mint_token(secret, sub=AGENT, role="agent", ttl=600)
    await spawn_cli("run", "--relay", relay_url, "--token", token, "--agent-id", AGENT,
                    "--", PY, "-c", code)
    assert "\x1b[6n" in await output("out")
    term = attach(AGENT)
    await term.expect(b"out")
    term.type(b"\x1d")
    assert await term.exit_code() == 0
    assert b"\x1b[6n" not in term.screen
    assert b"\x1b[c" not in term.screen
    # Only attach's own alternate screen is entered and left, once each.
    assert term.screen.count(ENTER_ALT) == 1
    assert term.screen.count(LEAVE_ALT) == 1
    assert term.screen.index(b"out") < term.screen.index(LEAVE_ALT)


async def test_an_unknown_agent_fails_with_67_and_leaves_the_terminal_as_it_was(
    relay_url: str, attach: Attach
) -> None:
    term = attach("no-such-agent")
    assert await term.exit_code() == 67
    await term.expect(b"no agent 'no-such-agent'")
    assert ENTER_ALT not in term.screen
    assert_cooked(term)


async def test_without_a_terminal_attach_exits_2(agent: Cli, client: Client) -> None:
    done = await client("attach", AGENT)
    assert done.code == 2
    assert "attach needs a terminal" in done.stderr


InfoUntil = Callable[[Callable[[AgentInfo], bool]], Awaitable[AgentInfo]]


async def test_an_agent_without_a_terminal_takes_the_size_of_the_attached_operator(
    agent: Cli, attach: Attach, agent_info: InfoUntil
) -> None:
    before = await agent_info(lambda i: i.local_terminal is False)
    assert (before.cols, before.rows) == (80, 24)  # run's default without a terminal
    term = attach(AGENT, rows=30, cols=100)
    await agent_info(lambda i: (i.cols, i.rows) == (100, 30))
    term.proc.setwinsize(35, 110)  # the user resizes their window
    await agent_info(lambda i: (i.cols, i.rows) == (110, 35))
    term.type(b"\x1d")
    assert await term.exit_code() == 0


async def test_read_only_never_resizes(
    agent: Cli, attach: Attach, agent_info: InfoUntil, client: Client,
    output: Callable[[str], Awaitable[str]],
) -> None:
    term = attach("--read-only", AGENT, rows=30, cols=100)
    await term.expect(b"ready")
    term.proc.setwinsize(35, 110)
    # A request through the relay after attach has drawn and was resized: had attach sent
    # a resize, the relay would have handled it before this (it handles in order; the
    # agent's ack comes after the resize was applied).
    assert (await client("send", AGENT, "probe")).code == 0
    await output("got:'probe'")
    info = await agent_info(lambda i: True)
    assert (info.cols, info.rows) == (80, 24)
    term.type(b"q")
    assert await term.exit_code() == 0


async def test_an_agent_with_its_own_terminal_is_never_resized_by_attach(
    relay_url: str, secret: bytes, cli_env: dict[str, str], attach: Attach,
    agent_info: InfoUntil, client: Client, output: Callable[[str], Awaitable[str]],
) -> None:
    token = mint_token(secret, sub=AGENT, role="agent", ttl=600)
    argv = [PY, "-m", "agent_sidecar", "run", "--relay", relay_url, "--token", token,
            "--agent-id", AGENT, "--", PY, "-c", ECHO_LINES]
    local = Terminal(PtyProcess.spawn(argv, env=cli_env, cwd=str(REPO), dimensions=(20, 70)))
    try:
        await local.expect(b"ready")
        await agent_info(lambda i: i.local_terminal is True and (i.cols, i.rows) == (70, 20))
        term = attach(AGENT, rows=30, cols=100)
        await term.expect(b"ready")
        term.type(b"hello\r")  # typing works; the size stays the local terminal's
        await local.expect(b"got:'hello'")
        assert (await client("send", AGENT, "probe")).code == 0
        await output("got:'probe'")
        info = await agent_info(lambda i: True)
        assert (info.cols, info.rows) == (70, 20)
        term.type(b"\x1d")
        assert await term.exit_code() == 0
    finally:
        local.proc.kill(9)
        await local.exit_code()
        local.close()


async def test_attach_reconnects_after_a_relay_restart_and_keeps_typing(
    port: int, secret: bytes, relay_proc: Cli, spawn_cli: Callable[..., Awaitable[Cli]],
    start_relay_proc: Callable[[int], Awaitable[Cli]], attach: Attach,
    output: Callable[[str], Awaitable[str]],
) -> None:
    token = mint_token(secret, sub=AGENT, role="agent", ttl=600)
    await spawn_cli("run", "--relay", f"ws://127.0.0.1:{port}", "--token", token,
                    "--agent-id", AGENT, "--reconnect-max", "0.5", "--",
                    PY, "-c", ECHO_LINES)
    await output("ready")
    term = attach(AGENT)
    await term.expect(b"ready")
    term.type(b"one\r")
    await term.expect(b"got:'one'")
    relay_proc.signal(signal.SIGKILL)
    await relay_proc.wait()
    await term.expect(b"agent-sidecar reconnecting")  # the window title says so
    lost = term.screen.index(b"agent-sidecar reconnecting")
    await start_relay_proc(port)
    await expect_after(term, b"(agent-sidecar attach; detach", lost)  # and back
    seen = len(term.screen)
    term.type(b"two\r")
    await term.expect(b"got:'two'")
    assert term.screen.count(b"got:'one'") == 1  # caught up without repeating
    assert b"got:'one'" not in term.screen[seen:]
    term.type(b"\x1d")
    assert await term.exit_code() == 0
    assert_cooked(term)
