"""Fixtures for end-to-end tests of the real ``agent-sidecar`` CLI in subprocesses.

- ``cli_env``: the environment for a CLI subprocess (this checkout on PYTHONPATH, a
  private ``XDG_RUNTIME_DIR``, no inherited ``AGENT_*`` variables).
- ``spawn_cli(*args)``: start ``python -m agent_sidecar ARGS`` with stderr piped;
  :meth:`Cli.line` waits for a stderr line matching a pattern, under a deadline.
- ``start_relay_proc(port)``: ``agent-sidecar relay`` on a port, ready once it printed
  ``listening on``.
- ``dashboard_at(url, agent_id, token=None)``: a :class:`Dashboard` on any relay URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from relay.auth import mint_token
from tests.integration.conftest import WAIT, Dashboard, connect_dashboard_to, free_port
from tests.timing import deadline

REPO = Path(__file__).resolve().parents[2]

__all__ = ["REPO", "WAIT", "Cli", "Dashboard", "free_port"]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_SIDECAR", "AGENT_RELAY"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env["XDG_RUNTIME_DIR"] = str(runtime)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Cli:
    """A CLI subprocess; stderr is read line by line on demand."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stderr_lines: list[str] = []
        self.stdout = bytearray()

    async def line(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        """Read stderr until a line matches ``pattern`` (regex search)."""
        regex = re.compile(pattern)
        for seen in self.stderr_lines:
            if m := regex.search(seen):
                return m
        assert self.proc.stderr is not None
        async with deadline(timeout):
            while True:
                raw = await self.proc.stderr.readline()
                if not raw:
                    raise AssertionError(
                        f"stderr ended without {pattern!r}: {self.stderr_lines[-10:]}"
                    )
                text = raw.decode(errors="replace").rstrip("\r\n")
                self.stderr_lines.append(text)
                if m := regex.search(text):
                    return m

    async def stdout_until(self, sentinel: bytes, timeout: float = WAIT) -> bytes:
        """Read stdout (when piped) until ``sentinel`` has appeared."""
        assert self.proc.stdout is not None
        async with deadline(timeout):
            while sentinel not in self.stdout:
                chunk = await self.proc.stdout.read(65536)
                if not chunk:
                    raise AssertionError(f"stdout ended without {sentinel!r}")
                self.stdout += chunk
        return bytes(self.stdout)

    async def rest_of_stderr(self, timeout: float = WAIT) -> str:
        assert self.proc.stderr is not None
        async with deadline(timeout):
            rest = await self.proc.stderr.read()
        self.stderr_lines.extend(rest.decode(errors="replace").splitlines())
        return "\n".join(self.stderr_lines)

    async def wait(self, timeout: float = WAIT) -> int:
        async with deadline(timeout):
            return await self.proc.wait()

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)


#: What ``run`` prints for its local relay: the dashboard URL, its port and a token.
DASHBOARD_LINE = r"^Dashboard: (http://127\.0\.0\.1:(\d+))/#token=([\w.-]+)$"
#: A command that prints its name, waits for a line, then prints ``NAME-bye``.
WAIT_LINE = "import sys; print('{0}', flush=True); sys.stdin.readline(); print('{0}-bye')"
#: Reconnect at once, so that a takeover is not waited out.
FAST_RECONNECT = ("--reconnect-initial", "0.05", "--reconnect-max", "0.2")


async def host_and_joined(
    spawn: Callable[..., Awaitable[Cli]], port: int, command: tuple[str, ...],
    *options: str,
) -> tuple[Cli, Cli, str, str]:
    """A ``run`` (agent ``host``, a WAIT_LINE command) that hosts the local relay on
    ``port``, and a second ``run`` (agent ``joined``, ``command``, extra ``options``) that
    joined it: ``(host, joined, dashboard url, token)``."""
    host = await spawn(
        "run", "--port", str(port), "--agent-id", "host", *FAST_RECONNECT, "--",
        sys.executable, "-c", WAIT_LINE.format("host"),
    )
    url, token = (m := await host.line(DASHBOARD_LINE)).group(1), m.group(3)
    joined = await spawn(
        "--log-level", "info", "run", "--port", str(port), "--agent-id", "joined",
        *options, *FAST_RECONNECT, "--", *command,
    )
    await joined.line(r"joined the local relay on port")
    return host, joined, url, token

@pytest.fixture
async def spawn_cli(cli_env: dict[str, str]) -> AsyncIterator[Callable[..., Awaitable[Cli]]]:
    procs: list[Cli] = []

    async def spawn(*args: str, stdout: Any = asyncio.subprocess.DEVNULL,
                    env: dict[str, str] | None = None) -> Cli:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agent_sidecar", *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=asyncio.subprocess.PIPE,
            env=env or cli_env,
            cwd=str(REPO),
        )
        cli = Cli(proc)
        procs.append(cli)
        return cli

    yield spawn
    for cli in procs:
        if cli.proc.returncode is None:
            cli.signal(signal.SIGKILL)
            await cli.proc.wait()


@pytest.fixture
def start_relay_proc(
    spawn_cli: Callable[..., Awaitable[Cli]], cli_env: dict[str, str], secret: bytes
) -> Callable[[int], Awaitable[Cli]]:
    async def start(port: int) -> Cli:
        env = dict(cli_env, AGENT_RELAY_JWT_SECRET=secret.decode())
        cli = await spawn_cli("relay", "--host", "127.0.0.1", "--port", str(port), env=env)
        await cli.line(rf"listening on http://127\.0\.0\.1:{port}")
        return cli

    return start


@pytest.fixture
async def dashboard_at(
    secret: bytes,
) -> AsyncIterator[Callable[..., Awaitable[Dashboard]]]:
    async with aiohttp.ClientSession() as session:

        async def connect(url: str, agent_id: str, token: str | None = None) -> Dashboard:
            token = token or mint_token(secret, sub="tester", role="operator", ttl=600)
            return await connect_dashboard_to(session, url, agent_id, token)

        yield connect


@pytest.fixture
def port() -> int:
    return free_port()
