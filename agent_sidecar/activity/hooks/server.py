"""The run's callback socket: hook commands report events here, one connection each.

A unix socket (0600) in the run's private directory (0700), and a per-run secret that
only the run's environment carries. A connection sends one JSON line ``{secret, agent,
event, payload}`` and gets one line ``{stdout}`` back, once the handler is done (at
once for most events; a held permission request waits for its answer). If the hook
process goes away meanwhile, the handler is cancelled.

Bad input changes nothing: a wrong secret, a line that is not JSON or not the expected
shape, or a line over ``max_line`` bytes is refused (the connection closed), and each
kind of refusal is logged once. A flood is bounded: at most ``max_connections`` at a
time, and ``rate`` events per second (bursts of ``burst``); the excess is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger(__name__)

AGENTS = frozenset({"claude", "codex", "gemini"})
Handler = Callable[[str, str, dict[str, object]], Awaitable[str]]


class HookServer:
    def __init__(
        self,
        directory: Path,
        secret: str,
        handler: Handler,
        *,
        max_line: int = 1024 * 1024,
        max_connections: int = 16,
        rate: float = 20.0,
        burst: int = 50,
    ) -> None:
        self.path = directory / "hooks.sock"
        self._secret = secret.encode()
        self._handler = handler
        self._max_line = max_line
        self._max_connections = max_connections
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._refill_at = time.monotonic()
        self._open = 0
        self._server: asyncio.AbstractServer | None = None
        self._logged: set[str] = set()
        self.refused = 0
        self.accepted = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=self._max_line + 1
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for writer in list(self._writers):
            writer.close()  # the handlers see the hook go away and end
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _refuse(self, why: str) -> None:
        self.refused += 1
        if why not in self._logged:
            self._logged.add(why)
            log.warning("hook callback refused: %s (further ones not logged)", why)

    def _take_token(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._refill_at) * self._rate)
        self._refill_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._open += 1
        self._writers.add(writer)
        try:
            if self._open > self._max_connections or not self._take_token():
                self._refuse("too many hook events")
                return
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), 10.0)
            except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError,
                    ValueError):
                self._refuse("an incomplete or oversized message")
                return
            parsed = self._parse(line)
            if parsed is None:
                return
            agent, event, payload = parsed
            self.accepted += 1
            stdout = await self._run(reader, agent, event, payload)
            if stdout is None:
                return
            writer.write(json.dumps({"stdout": stdout}).encode() + b"\n")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._open -= 1
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    def _parse(self, line: bytes) -> tuple[str, str, dict[str, object]] | None:
        try:
            msg = json.loads(line)
        except ValueError:
            self._refuse("not JSON")
            return None
        if not isinstance(msg, dict):
            self._refuse("not a JSON object")
            return None
        secret = msg.get("secret")
        if not isinstance(secret, str) or not hmac.compare_digest(secret.encode(), self._secret):
            self._refuse("a wrong secret")
            return None
        agent, event, payload = msg.get("agent"), msg.get("event"), msg.get("payload")
        if agent not in AGENTS or not isinstance(event, str) or not 0 < len(event) <= 64 \
                or not isinstance(payload, dict):
            self._refuse("a malformed event")
            return None
        return str(agent), event, payload

    async def _run(self, reader: asyncio.StreamReader, agent: str, event: str,
                   payload: dict[str, object]) -> str | None:
        """The handler's answer; None when the hook process went away first."""
        work = asyncio.ensure_future(self._handler(agent, event, payload))
        gone = asyncio.ensure_future(reader.read(1))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            return None
        exc = work.exception()
        if exc is not None:
            log.error("hook handler failed on %s %s", agent, event, exc_info=exc)
            return ""
        return work.result()
