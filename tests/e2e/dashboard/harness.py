"""Helpers for the dashboard's browser tests.

The tests are synchronous (Playwright's sync API); the relay and the protocol-speaking
fake agents run on an asyncio loop in a background thread (:class:`LoopThread`), over
real sockets. Nothing here sleeps to wait: waiting is on futures, conditions, or
Playwright's auto-waiting ``expect``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import aiohttp

from relay import protocol
from relay.auth import mint_token
from relay.config import RelayConfig
from relay.protocol import Role
from relay.server import RunningRelay, start_relay
from tests.timing import scaled
from tests.wsclient import ClosedError, WsPeer

if TYPE_CHECKING:
    from playwright.sync_api import Page

T = TypeVar("T")

SECRET = b"dashboard-e2e-secret-long-enough-for-hs256-0123456789"
REPO = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"


def token(role: Role, sub: str = "tester", agents: list[str] | None = None, ttl: float = 600) -> str:
    return mint_token(SECRET, sub=sub, role=role, agents=agents, ttl=ttl)


class LoopThread:
    """An asyncio loop in a daemon thread; ``run(coro)`` waits for its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(scaled(timeout))

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class Relay:
    """A real relay (``start_relay``) on a LoopThread; ``restart()`` keeps the port."""

    def __init__(self, loop: LoopThread, **overrides: Any) -> None:
        self.loop = loop
        self.config = RelayConfig(
            port=0, jwt_secret=SECRET, hello_timeout=2.0, shutdown_timeout=2.0, **overrides
        )
        self.running: RunningRelay | None = None
        self.start()

    def start(self) -> None:
        self.running = self.loop.run(start_relay(self.config))
        self.config = replace(self.config, port=self.running.port)

    def stop(self) -> None:
        if self.running is not None:
            self.loop.run(self.running.close())
            self.running = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def url(self) -> str:
        assert self.running is not None
        return self.running.url

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def dashboard_url(self, role: Role = "operator", **claims: Any) -> str:
        return f"{self.url}/#token={token(role, **claims)}"


class FakeAgent:
    """A protocol-speaking agent over a real WebSocket. It records what the relay sends
    it (input, commands, resizes, interrupts) and acks commands like a sidecar."""

    def __init__(self, loop: LoopThread, relay: Relay, agent_id: str, **hello: Any) -> None:
        self.loop = loop
        self.relay = relay
        self.agent_id = agent_id
        self.hello: dict[str, Any] = {
            "protocol": 1, "agent_id": agent_id, "name": agent_id, "host": "e2e-host",
            "command": ["fake-agent"], "pid": 4242, "cols": 80, "rows": 24,
            "started_at": time.time() - 3 * 3600 - 17 * 60, "labels": {},
        }
        self.hello.update(hello)
        self.offset = 0
        self.received: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._session: aiohttp.ClientSession | None = None
        self._peer: WsPeer | None = None
        self._reader: asyncio.Task[None] | None = None
        self.loop.run(self._connect())

    async def _connect(self) -> None:
        self._session = aiohttp.ClientSession()
        self._peer = WsPeer(await self._session.ws_connect(f"{self.relay.ws_url}/ws/agent"))
        await self._peer.send("agent:hello", token=token("agent", sub=self.agent_id),
                              **self.hello)
        await self._peer.expect("agent:welcome")
        # From here on the reader waits as long as the test runs.
        self._peer.timeout = None
        await self._send_status("running")
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _send_status(self, state: str, exit_code: int | None = None) -> None:
        assert self._peer is not None
        msg: dict[str, Any] = {"state": state, "pid": 4242,
                               "cols": self.hello["cols"], "rows": self.hello["rows"]}
        if exit_code is not None:
            msg["exit_code"] = exit_code
        await self._peer.send("agent:status", **msg)

    async def _read(self) -> None:
        assert self._peer is not None
        while True:
            try:
                data = await self._peer.recv()
            except ClosedError:
                return
            if data.get("type") in ("command:request", "command:interrupt", "permission:decide"):
                await self._peer.send("command:ack", request_id=data["request_id"], ok=True)
            if data.get("type") == "terminal:resize":
                self.hello["cols"], self.hello["rows"] = data["cols"], data["rows"]
                await self._send_status("running")
            with self._cond:
                self.received.append(data)
                self._cond.notify_all()

    def send(self, type_: str, **fields: Any) -> None:
        """Send any agent message (``{"type": type_, **fields}``)."""
        assert self._peer is not None
        self.loop.run(self._peer.send(type_, **fields))

    def output(self, data: bytes | str) -> None:
        """Send one output chunk (binary form) at the current offset."""
        raw = data.encode() if isinstance(data, str) else data

        async def send() -> None:
            assert self._peer is not None
            await self._peer.send_bytes(
                protocol.encode_binary_output(self.agent_id, self.offset, raw))

        self.loop.run(send())
        self.offset += len(raw)

    def output_many(self, chunks: list[bytes]) -> None:
        """Send several chunks back to back, as fast as the socket takes them."""

        async def send() -> None:
            assert self._peer is not None
            for raw in chunks:
                await self._peer.send_bytes(
                    protocol.encode_binary_output(self.agent_id, self.offset, raw))
                self.offset += len(raw)

        self.loop.run(send(), timeout=60)

    def status(self, state: str, exit_code: int | None = None) -> None:
        self.loop.run(self._send_status(state, exit_code))

    def activity(self, state: str, **fields: Any) -> dict[str, Any]:
        """Report an activity (protocol 1.1, ``agent:activity``); returns what was sent."""
        activity: dict[str, Any] = {
            "state": state, "since": time.time(), "reason": None, "prompt": None,
            "options": None, "decision_id": None, "detail": None,
            "agent_kind": "claude", "source": "hook",
        }
        activity.update(fields)
        self.send("agent:activity", activity=activity)
        return activity

    def close(self) -> None:
        async def close() -> None:
            if self._peer is not None:
                await self._peer.close()
            if self._reader is not None:
                await asyncio.gather(self._reader, return_exceptions=True)
            if self._session is not None:
                await self._session.close()

        self.loop.run(close())

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10) -> None:
        """Block until ``predicate(received)`` holds (woken by each message, no polling)."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.received), scaled(timeout)):
                raise AssertionError(f"agent {self.agent_id} never got it; received {self.received}")

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        with self._cond:
            return [m for m in self.received if m.get("type") == type_]

    def typed(self) -> str:
        """Everything that arrived as terminal:input, concatenated."""
        return "".join(m["data"] for m in self.of_type("terminal:input"))


class Sidecar:
    """The real ``agent-sidecar run`` CLI in a subprocess, with a real PTY child."""

    def __init__(self, relay: Relay, agent_id: str, command: list[str], *extra: str) -> None:
        env = {**os.environ, "AGENT_SIDECAR_TOKEN": token("agent", sub=agent_id)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent_sidecar", "run", "--relay", relay.ws_url,
             "--agent-id", agent_id, *extra, "--", *command],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        assert self.proc.stderr is not None
        err = self.proc.stderr.read().decode(errors="replace")
        self.proc.stderr.close()
        return err


@contextlib.contextmanager
def fake_agents(loop: LoopThread, relay: Relay) -> Iterator[Callable[..., FakeAgent]]:
    """``with fake_agents(loop, relay) as make: agent = make("a1", name=...)``."""
    made: list[FakeAgent] = []

    def make(agent_id: str, **hello: Any) -> FakeAgent:
        agent = FakeAgent(loop, relay, agent_id, **hello)
        made.append(agent)
        return agent

    try:
        yield make
    finally:
        for agent in made:
            with contextlib.suppress(Exception):
                agent.close()


#: A PTY child for the real-sidecar tests: echoes lines, reports SIGINT.
ECHO_CHILD = [
    sys.executable, "-u", "-c",
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, lambda *a: print('caught SIGINT', flush=True))\n"
    "print('child ready', flush=True)\n"
    "for line in sys.stdin:\n"
    "    print('got ' + line.strip()[::-1], flush=True)\n",
]


def pane_selector(agent_id: str) -> str:
    return f'.pane[data-agent-id="{agent_id}"]'


def buffer_text(page: Any, agent_id: str) -> str:
    """The whole xterm buffer (scrollback + screen) of an open terminal."""
    return str(page.locator(pane_selector(agent_id)).evaluate("el => el.bufferText()"))


def wait_for_buffer(page: Any, agent_id: str, text: str, timeout: float = 15_000) -> None:
    """Wait (Playwright polls on animation frames) until the terminal shows ``text``.
    On timeout the assertion shows what the terminal, its notice and the relay had."""
    try:
        page.wait_for_function(
            "([sel, text]) => { const el = document.querySelector(sel);"
            " return !!el && el.bufferText().includes(text); }",
            arg=[pane_selector(agent_id), text],
            timeout=scaled(timeout),
        )
    except Exception as exc:
        pane = page.locator(pane_selector(agent_id))
        shown = buffer_text(page, agent_id) if pane.count() else "(no pane)"
        notice = pane.locator(".pane-notice").text_content() if pane.count() else ""
        conn = page.locator("#conn-text").text_content()
        raise AssertionError(
            f"terminal {agent_id} never showed {text!r}; connection: {conn!r}; "
            f"notice: {notice!r}; buffer:\n{shown}\n--- relay: {relay_view(page, agent_id)}"
        ) from exc


def relay_view(page: Any, agent_id: str) -> str:
    """The relay's AgentInfo and output tail for ``agent_id`` (REST, for diagnostics)."""
    import urllib.request

    base = page.url.split("#")[0].rstrip("/")
    headers = {"Authorization": f"Bearer {token('viewer')}"}
    try:
        with urllib.request.urlopen(urllib.request.Request(
                f"{base}/api/agents/{agent_id}", headers=headers), timeout=5) as r:
            info = r.read().decode()
        with urllib.request.urlopen(urllib.request.Request(
                f"{base}/api/agents/{agent_id}/output", headers=headers), timeout=5) as r:
            tail = r.read()[-400:]
        return f"{info} tail={tail!r}"
    except Exception as exc:  # diagnostics only
        return f"(unavailable: {exc})"


#: The fixtures' types, for the tests' signatures.
MakeAgent: TypeAlias = Callable[..., FakeAgent]
NewPage: TypeAlias = "Callable[..., Page]"
StartSidecar: TypeAlias = Callable[..., Sidecar]
CustomRelay: TypeAlias = Callable[..., tuple[Relay, MakeAgent]]
