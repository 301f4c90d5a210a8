"""The client commands (ls, tail, send, interrupt, answer, decide) as a user runs them:
real ``agent-sidecar`` subprocesses against a real relay and a real ``agent-sidecar run``.
``attach`` has its own file (it needs a terminal)."""

from __future__ import annotations

import json
import re
import signal
import sys
from collections.abc import Awaitable, Callable

import pytest

from relay.auth import mint_token
from tests.e2e.clients.conftest import AGENT, ECHO_LINES, Client
from tests.e2e.conftest import Cli, free_port
from tests.integration.conftest import rest_output

PY = sys.executable


async def test_ls_lists_the_agent_with_its_state_and_as_json(agent: Cli, client: Client) -> None:
    table = await client("ls")
    assert table.code == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["AGENT", "STATE", "FOR", "ACTIVITY", "PROMPT"]
    assert rows[0].split()[:2] in (["e2e-agent", "running"], ["e2e-agent", "idle"])
    as_json = await client("ls", "--json")
    agents = json.loads(as_json.stdout)
    assert [a["agent_id"] for a in agents] == [AGENT]
    assert agents[0]["command"][1:] == ["-c", ECHO_LINES]


async def test_send_is_typed_and_submitted_and_its_ack_printed(
    agent: Cli, client: Client, output: Callable[[str], Awaitable[str]]
) -> None:
    sent = await client("send", AGENT, "hello there")
    assert (sent.code, sent.stdout) == (0, f"{AGENT}: ok\n")
    await output("got:'hello there'")
    draft = await client("send", "--no-submit", AGENT, "draft")
    assert draft.code == 0
    await client("send", AGENT, " done")
    await output("got:'draft done'")


async def test_an_agent_is_addressed_by_its_name_too(
    relay_url: str, secret: bytes, spawn_cli: Callable[..., Awaitable[Cli]], client: Client,
    output: Callable[[str], Awaitable[str]],
) -> None:
    """``run --name builder``: ``ls`` shows the name and the commands take it."""
    token = mint_token(secret, sub=AGENT, role="agent", ttl=600)
    await spawn_cli(
        "run", "--relay", relay_url, "--token", token, "--name", "builder", "--",
        PY, "-c", ECHO_LINES,
    )
    await output("ready")
    table = await client("ls")
    assert f"{AGENT} (builder)" in table.stdout
    sent = await client("send", "builder", "by name")
    assert (sent.code, sent.stdout) == (0, f"{AGENT}: ok\n")
    await output("got:'by name'")
    unknown = await client("send", "nobody", "x")
    assert unknown.code == 67


async def test_tail_follows_to_the_exit_and_ends_with_the_agents_exit_code(
    agent: Cli, client: Client, spawn_cli: Callable[..., Awaitable[Cli]], port: int,
    user_env: dict[str, str], secret: bytes,
) -> None:
    follower = await spawn_cli("tail", "-f", "--raw", AGENT, stdout=-1, env=user_env)
    await follower.stdout_until(b"ready\r\n")
    assert (await client("send", AGENT, "one")).code == 0
    await follower.stdout_until(b"got:'one'")
    assert (await client("send", AGENT, "quit")).code == 0
    assert await follower.wait() == 3
    raw = bytes(follower.stdout) + await follower.proc.stdout.read()  # type: ignore[union-attr]
    assert "e2e-agent exited with code 3" in await follower.rest_of_stderr()
    # --raw is the exact stream the relay keeps.
    start, stored = await rest_output(f"http://127.0.0.1:{port}", secret, AGENT)
    assert (start, raw) == (0, stored)
    # Without --raw and after the exit: plain text, and the exit code again.
    plain = await client("tail", AGENT)
    assert plain.code == 3
    assert plain.stdout == "ready\none\ngot:'one'\nquit\n"


async def test_tail_since_starts_at_that_byte(agent: Cli, client: Client) -> None:
    done = await client("tail", "--raw", "--since", "2", AGENT)
    assert (done.code, done.stdout) == (0, "ady\r\n")


async def test_interrupt_prints_the_ack_and_the_agent_dies_of_sigint(
    agent: Cli, client: Client
) -> None:
    done = await client("interrupt", AGENT)
    assert (done.code, done.stdout) == (0, f"{AGENT}: ok (SIGINT)\n")
    assert await agent.wait() == 130
    assert (await client("tail", AGENT)).code == 130


async def test_ls_watch_json_streams_the_relays_messages_until_interrupted(
    agent: Cli, client: Client, spawn_cli: Callable[..., Awaitable[Cli]],
    user_env: dict[str, str],
) -> None:
    watcher = await spawn_cli("ls", "--watch", "--json", stdout=-1, env=user_env)
    first = json.loads((await watcher.stdout_until(b"\n")).splitlines()[0])
    assert first["type"] == "agent:status"
    assert first["agent"]["agent_id"] == AGENT
    assert (await client("send", AGENT, "quit")).code == 0
    await watcher.stdout_until(b'"state":"exited"')
    lines = [json.loads(line) for line in bytes(watcher.stdout).splitlines() if line]
    exited = [m for m in lines if m["agent"]["state"] == "exited"]
    assert exited[0]["agent"]["exit_code"] == 3
    watcher.signal(2)
    assert await watcher.wait() == 130


EXIT_CASES = [
    # (what, argv, expected exit code, a fragment of the message)
    ("unknown agent", ["tail", "no-such-agent"], 67, "no agent 'no-such-agent'"),
    # The echo program waits on a line, not on a choice: whether the sidecar reports it
    # as waiting or not, there is no option to answer.
    ("no option to answer", ["answer", AGENT, "1"], 1, "is not waiting|offers no options"),
    ("bad flag", ["interrupt", "--signal", "USR1", AGENT], 2, "USR1"),
]


@pytest.mark.parametrize(("what", "argv", "code", "message"), EXIT_CASES,
                         ids=[c[0] for c in EXIT_CASES])
async def test_refusals_have_their_exit_codes(
    agent: Cli, client: Client, what: str, argv: list[str], code: int, message: str
) -> None:
    done = await client(*argv)
    assert done.code == code, done.stderr
    assert re.search(message, done.stderr), done.stderr


ACCESS_CASES = [
    # (what, role and scope of the token or a literal token, argv, exit code, message)
    ("bad token", "not-a-jwt", ["ls"], 77, "refused the token"),
    ("viewer sends", ("viewer", None), ["send", AGENT, "x"], 78, "viewer"),
    ("outside the scope", ("operator", ["other-*"]), ["tail", AGENT], 78,
     "outside this token's scope"),
    ("nothing listens", "t", ["ls", "--relay", "ws://127.0.0.1:{free}"], 69,
     "cannot reach the relay"),
    ("no token", None, ["ls"], 2, "needs a token"),
]


@pytest.mark.parametrize(("what", "token", "argv", "code", "message"), ACCESS_CASES,
                         ids=[c[0] for c in ACCESS_CASES])
async def test_token_role_scope_and_reachability_have_their_exit_codes(
    agent: Cli, client: Client, relay_url: str, secret: bytes,
    what: str, token: object, argv: list[str], code: int, message: str,
) -> None:
    args = [a.format(free=free_port()) for a in argv]
    if "--relay" not in args:
        args[1:1] = ["--relay", relay_url]
    if isinstance(token, tuple):
        role, agents = token
        token = mint_token(secret, sub="e2e", role=role, agents=agents, ttl=600)
    if isinstance(token, str):
        args[1:1] = ["--token", token]
    done = await client(*args, use_env=False)
    assert done.code == code, done.stderr
    assert message in done.stderr
    assert "not-a-jwt" not in done.stderr


async def test_an_exited_agent_is_offline_for_send(agent: Cli, client: Client) -> None:
    assert (await client("send", AGENT, "quit")).code == 0
    assert await agent.wait() == 3
    done = await client("send", AGENT, "too late")
    assert done.code == 75, done.stderr
    assert "not connected" in done.stderr or "offline" in done.stderr


async def test_no_local_relay_is_unreachable(client: Client, port: int) -> None:
    done = await client("ls", "--port", str(port + 1 if port < 65535 else 1), use_env=False)
    assert done.code == 69
    assert "no local relay" in done.stderr


async def test_tail_follow_survives_a_relay_restart_without_losing_or_repeating_a_byte(
    port: int, secret: bytes, spawn_cli: Callable[..., Awaitable[Cli]], relay_proc: Cli,
    start_relay_proc: Callable[[int], Awaitable[Cli]], user_env: dict[str, str],
    client: Client, output: Callable[[str], Awaitable[str]],
) -> None:
    token = mint_token(secret, sub=AGENT, role="agent", ttl=600)
    await spawn_cli("run", "--relay", f"ws://127.0.0.1:{port}", "--token", token,
                    # The sidecar comes back after the follower (about 1-2 s against
                    # 0.2 s), so the follower also waits for the agent to be known again.
                    "--agent-id", AGENT, "--reconnect-initial", "2", "--reconnect-max", "2",
                    "--",
                    PY, "-c", ECHO_LINES)
    await output("ready")
    follower = await spawn_cli("tail", "-f", "--raw", AGENT, stdout=-1, env=user_env)
    await follower.stdout_until(b"ready\r\n")
    assert (await client("send", AGENT, "before")).code == 0
    await follower.stdout_until(b"got:'before'")
    relay_proc.signal(signal.SIGKILL)
    await relay_proc.wait()
    await start_relay_proc(port)  # same port, same secret; its scrollback starts empty
    await follower.line("reconnecting")
    await follower.line("reconnected; following e2e-agent again")
    assert (await client("send", AGENT, "after")).code == 0
    await follower.stdout_until(b"got:'after'")
    assert (await client("send", AGENT, "quit")).code == 0
    assert await follower.wait() == 3
    raw = bytes(follower.stdout) + await follower.proc.stdout.read()  # type: ignore[union-attr]
    assert raw == (b"ready\r\nbefore\r\ngot:'before'\r\nafter\r\ngot:'after'\r\nquit\r\n")


async def test_several_relays_are_tried_in_order(
    agent: Cli, client: Client, relay_url: str, secret: bytes
) -> None:
    token = mint_token(secret, sub="e2e", role="viewer", ttl=600)
    dead = f"ws://127.0.0.1:{free_port()}"
    done = await client("ls", "--relay", dead, "--relay", relay_url, "--token", token,
                        use_env=False)
    assert done.code == 0, done.stderr
    assert AGENT in done.stdout
