"""``ls``, ``answer`` and ``decide`` for an agent that waits for a person.

The relay is a real ``agent-sidecar relay`` process and the commands are real
subprocesses. The sidecar is scripted over a real ``/ws/agent`` connection (the real
``run`` does not report activity yet): it reports a held permission request with two
options, and records and acknowledges what reaches it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from agent_sidecar.client import Client as LibClient
from agent_sidecar.client import Endpoint
from relay.auth import mint_token
from relay.protocol import (
    Activity,
    ActivityOption,
    AgentActivity,
    AgentHello,
    AgentStatus,
    AgentWelcome,
    CommandAck,
    CommandRequest,
    Direction,
    Message,
    PermissionDecide,
    decode,
    encode,
)
from tests.e2e.clients.conftest import Client
from tests.e2e.conftest import WAIT
from tests.timing import deadline

AGENT = "waiting-agent"
PROMPT = "Allow Bash(rm -rf build)?\nThis removes the build directory."
OPTIONS = (ActivityOption("Yes", "1"), ActivityOption("No, and tell Claude what to do", "3"))


@dataclass
class ScriptedSidecar:
    """Acks every request (``ok`` as set) and keeps what it received."""

    ws: aiohttp.ClientWebSocketResponse
    ok: bool = True
    received: list[Message] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def serve(self) -> None:
        async for frame in self.ws:
            msg = decode(frame.data, Direction.RELAY_TO_AGENT)
            if isinstance(msg, CommandRequest | PermissionDecide):
                self.received.append(msg)
                self.arrived.set()
                error = None if self.ok else "the agent already moved on"
                await self.ws.send_str(
                    encode(CommandAck(request_id=msg.request_id, ok=self.ok, error=error))
                )


@pytest.fixture
async def sidecar(relay_url: str, secret: bytes) -> AsyncIterator[ScriptedSidecar]:
    token = mint_token(secret, sub=AGENT, role="agent", ttl=600)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{relay_url}/ws/agent")
        hello = AgentHello(agent_id=AGENT, name=AGENT, host="h", command=("claude",), pid=7,
                           cols=80, rows=24, started_at=time.time(), token=token)
        await ws.send_str(encode(hello))
        welcome = decode((await ws.receive(timeout=WAIT)).data, Direction.RELAY_TO_AGENT)
        assert isinstance(welcome, AgentWelcome)
        await ws.send_str(encode(AgentStatus(state="running", pid=7, cols=80, rows=24)))
        activity = Activity(state="waiting", since=time.time() - 75, agent_kind="claude",
                            source="hook", reason="permission", prompt=PROMPT,
                            options=OPTIONS, decision_id="d-1")
        await ws.send_str(encode(AgentActivity(activity=activity)))
        scripted = ScriptedSidecar(ws)
        task = asyncio.create_task(scripted.serve())
        await relay_shows_waiting(relay_url, secret)
        yield scripted
        task.cancel()
        await ws.close()


async def relay_shows_waiting(relay_url: str, secret: bytes) -> None:
    """Until the relay's agent list shows the agent waiting (watched through the client
    library in this process: events, no polling)."""
    token = mint_token(secret, sub="e2e-watch", role="viewer", ttl=600)
    async with await LibClient.connect(Endpoint(relay_url, token), timeout=WAIT) as lib:
        async with deadline(WAIT):
            events = lib.events()
            while (info := lib.agents.get(AGENT)) is None or info.activity is None:
                await anext(events)


async def test_ls_shows_the_waiting_prompt_with_numbered_options(
    sidecar: ScriptedSidecar, client: Client
) -> None:
    table = (await client("ls")).stdout
    row = next(line for line in table.splitlines() if line.startswith(AGENT))
    assert "waiting (permission) 1m" in row
    assert ("Allow Bash(rm -rf build)? This removes the build directory. [1] Yes "
            "[2] No, and tell Claude what to do") in row


@pytest.mark.parametrize(("choice", "keys", "label"), [
    ("2", "3", "[2] No, and tell Claude what to do"),
    ("yes", "1", "[1] Yes"),
    ("no", "3", "[2] No, and tell Claude what to do"),
])
async def test_answer_sends_the_options_keys_without_enter(
    sidecar: ScriptedSidecar, client: Client, choice: str, keys: str, label: str
) -> None:
    done = await client("answer", AGENT, choice)
    assert (done.code, done.stdout) == (0, f"{AGENT}: ok ({label})\n"), done.stderr
    [request] = sidecar.received
    assert isinstance(request, CommandRequest)
    assert (request.input, request.submit) == (keys, False)


async def test_answer_with_no_matching_option_lists_them_and_sends_nothing(
    sidecar: ScriptedSidecar, client: Client
) -> None:
    done = await client("answer", AGENT, "maybe")
    assert done.code == 2
    assert "[1] Yes, [2] No, and tell Claude what to do" in done.stderr
    assert sidecar.received == []


async def test_decide_sends_the_pending_decision_and_prints_the_ack(
    sidecar: ScriptedSidecar, client: Client
) -> None:
    done = await client("decide", AGENT, "deny", "--message", "use a branch")
    assert (done.code, done.stdout) == (0, f"{AGENT}: ok (deny)\n"), done.stderr
    [decision] = sidecar.received
    assert isinstance(decision, PermissionDecide)
    assert (decision.decision_id, decision.decision, decision.message) == (
        "d-1", "deny", "use a branch")


async def test_an_ack_that_is_not_ok_exits_1(sidecar: ScriptedSidecar, client: Client) -> None:
    sidecar.ok = False
    done = await client("decide", AGENT, "allow")
    assert done.code == 1
    assert done.stdout == f"{AGENT}: not ok (allow): the agent already moved on\n"
