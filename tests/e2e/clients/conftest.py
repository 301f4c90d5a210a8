"""Fixtures for the client commands' end-to-end tests: a real relay process, a real
``agent-sidecar run --relay`` of a line-echoing program, and the user's environment.

- ``relay_proc``/``relay_url``: ``agent-sidecar relay`` on a free port.
- ``agent``: ``run --relay`` of :data:`ECHO_LINES` as :data:`AGENT`, once it printed
  ``ready``.
- ``user_env``: the relay and an operator token in AGENT_SIDECAR_RELAY/TOKEN.
- ``client(*argv, use_env=True)``: run a client command to its end -> :class:`Done`.
- ``output(sentinel)``: the agent's raw stream once it contains ``sentinel``, read
  in-process through the client library (waits on events, never polls).
- ``agent_info(predicate)``: the agent's AgentInfo once ``predicate`` holds for it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from agent_sidecar.client import AgentInfo, Endpoint, TerminalOutput
from agent_sidecar.client import Client as LibClient
from relay.auth import mint_token
from tests.e2e.conftest import WAIT, Cli
from tests.timing import deadline

PY = sys.executable

#: Prints each line it reads with repr() (so a stray control byte shows), exits 3 on "quit".
ECHO_LINES = (
    "import sys\n"
    "print('ready', flush=True)\n"
    "for line in sys.stdin:\n"
    "    line = line.rstrip('\\n')\n"
    "    if line == 'quit':\n"
    "        sys.exit(3)\n"
    "    print('got:' + repr(line), flush=True)\n"
)
AGENT = "e2e-agent"


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str


Client = Callable[..., Awaitable[Done]]


@pytest.fixture
async def relay_proc(port: int, start_relay_proc: Callable[[int], Awaitable[Cli]]) -> Cli:
    return await start_relay_proc(port)


@pytest.fixture
def relay_url(relay_proc: Cli, port: int) -> str:
    return f"ws://127.0.0.1:{port}"


@pytest.fixture
async def agent(
    relay_url: str, secret: bytes, spawn_cli: Callable[..., Awaitable[Cli]],
    output: Callable[[str], Awaitable[str]],
) -> Cli:
    """``agent-sidecar run --relay`` of ECHO_LINES, once it printed ``ready``."""
    token = mint_token(secret, sub=AGENT, role="agent", ttl=600)
    run = await spawn_cli(
        "run", "--relay", relay_url, "--token", token, "--agent-id", AGENT, "--",
        PY, "-c", ECHO_LINES,
    )
    await output("ready")
    return run


@pytest.fixture
def user_env(relay_url: str, secret: bytes, cli_env: dict[str, str]) -> dict[str, str]:
    """The relay and an operator token in the environment twins of --relay and --token."""
    token = mint_token(secret, sub="e2e-user", role="operator", ttl=600)
    return dict(cli_env, AGENT_SIDECAR_RELAY=relay_url, AGENT_SIDECAR_TOKEN=token)


@pytest.fixture
def client(
    user_env: dict[str, str], cli_env: dict[str, str],
    spawn_cli: Callable[..., Awaitable[Cli]],
) -> Client:
    """Run a client command to its end, with ``user_env`` unless ``use_env=False``."""

    async def call(*args: str, use_env: bool = True) -> Done:
        cli = await spawn_cli(*args, stdout=-1, env=user_env if use_env else cli_env)
        assert cli.proc.stdout is not None
        async with deadline(WAIT):
            out = await cli.proc.stdout.read()
        err = await cli.rest_of_stderr()
        return Done(await cli.wait(), out.decode(), err)

    return call


@pytest.fixture
async def output(
    relay_url: str, secret: bytes
) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """``await output(sentinel)``: the agent's raw stream (as text) once it contains
    ``sentinel``, read in-process through the client library (no polling)."""
    token = mint_token(secret, sub="e2e-watch", role="viewer", ttl=600)
    lib = await LibClient.connect(Endpoint(relay_url, token), timeout=WAIT)

    async def until(sentinel: str) -> str:
        seen = bytearray()
        async with deadline(WAIT):
            if AGENT not in lib.agents:
                async for _event in lib.events():
                    if AGENT in lib.agents:
                        break
            stream = await lib.subscribe(AGENT, since=0, follow=True)
            async for event in stream:
                if isinstance(event, TerminalOutput):
                    seen += event.data
                    if sentinel.encode() in seen:
                        break
        await lib.unsubscribe(AGENT)
        return seen.decode()

    yield until
    await lib.close()




@pytest.fixture
async def agent_info(
    relay_url: str, secret: bytes
) -> AsyncIterator[Callable[[Callable[[AgentInfo], bool]], Awaitable[AgentInfo]]]:
    token = mint_token(secret, sub="e2e-info", role="viewer", ttl=600)
    lib = await LibClient.connect(Endpoint(relay_url, token), timeout=WAIT)
    events = lib.events()

    async def until(predicate: Callable[[AgentInfo], bool]) -> AgentInfo:
        async with deadline(WAIT):
            while (info := lib.agents.get(AGENT)) is None or not predicate(info):
                await anext(events)
        return info

    yield until
    await lib.close()
