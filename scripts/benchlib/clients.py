"""Dashboard clients for the benchmark.

:class:`Dashboard` is an aiohttp WebSocket client that follows one agent's output by
offset: it checks that every frame starts where the previous one ended (no gap, no
duplicate), keeps a CRC-32 of the payload for the exact-bytes check, and resolves
waiters when the stream reaches an offset. :class:`StalledDashboard` is a raw socket
that connects and subscribes, then never reads again (a dashboard whose browser tab
froze).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
import time
import zlib
from typing import Any

import aiohttp

from .procs import Relay, token

BINARY_TAG = 0x01


class Dashboard:
    """One ``/ws/dashboard`` connection following one agent's output stream."""

    def __init__(self, session: aiohttp.ClientSession, url: str, *, binary: bool = True,
                 sub: str = "bench-viewer", token: str | None = None) -> None:
        self._session = session
        #: The relay's ``ws://host:port``.
        self._url = url
        self.binary = binary
        self.sub = sub
        #: A dashboard token; by default an operator token for ``sub`` (minted here).
        self._token = token
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        #: Next offset expected; None before the first output frame.
        self.end: int | None = None
        self.received = 0
        self.frames = 0
        self.order_errors = 0
        #: CRC-32 of the payload from ``check_from`` on (~1 ms per MB of CPU).
        self.crc = 0
        self.check_from = 0
        self.close_code: int | None = None
        self.errors: list[dict[str, Any]] = []
        self.statuses: dict[str, str] = {}
        self.subscribed: dict[str, Any] | None = None
        self._agent_seen: dict[str, asyncio.Event] = {}
        self._waiters: list[tuple[int, asyncio.Future[float]]] = []
        self._exited: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> dict[str, Any]:
        self.ws = await self._session.ws_connect(
            self._url + "/ws/dashboard", max_msg_size=0, autoping=True
        )
        await self.ws.send_str(json.dumps({
            "type": "dashboard:connect", "protocol": 1,
            "token": self._token or token("operator", self.sub), "binary": self.binary,
        }))
        msg = await self.ws.receive(timeout=30)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"dashboard:connect answered with {msg.type!r}")
        connected: dict[str, Any] = json.loads(msg.data)
        if connected.get("type") != "dashboard:connected":
            raise RuntimeError(f"dashboard:connect answered with {connected.get('type')}")
        for info in connected["agents"]:
            self._on_status(info)
        self._task = asyncio.create_task(self._reader())
        return connected

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self.ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    # ------------------------------------------------------------------ requests

    async def send(self, obj: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(obj))

    async def subscribe(self, agent_id: str, since: int | None = 0) -> None:
        msg: dict[str, Any] = {"type": "subscribe", "agent_id": agent_id}
        if since is not None:
            msg["since"] = since
        await self.send(msg)

    async def type_keys(self, agent_id: str, data: str) -> None:
        await self.send({"type": "terminal:input", "agent_id": agent_id, "data": data})

    # ------------------------------------------------------------------ waiting

    async def wait_agent(self, agent_id: str, timeout: float = 30) -> None:
        event = self._agent_seen.setdefault(agent_id, asyncio.Event())
        async with asyncio.timeout(timeout):
            await event.wait()

    async def wait_exited(self, agent_id: str, timeout: float) -> None:
        event = self._exited.setdefault(agent_id, asyncio.Event())
        async with asyncio.timeout(timeout):
            await event.wait()

    def reached(self, offset: int) -> asyncio.Future[float]:
        """A future resolved with ``perf_counter()`` when the stream reaches ``offset``."""
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if self.end is not None and self.end >= offset:
            fut.set_result(time.perf_counter())
        else:
            self._waiters.append((offset, fut))
        return fut

    # ------------------------------------------------------------------ reading

    async def _reader(self) -> None:
        ws = self.ws
        assert ws is not None
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.BINARY:
                data: bytes = msg.data
                n = data[1]
                offset = int.from_bytes(data[2 + n:10 + n], "big")
                self._output(offset, memoryview(data)[10 + n:])
            elif msg.type is aiohttp.WSMsgType.TEXT:
                self._text(json.loads(msg.data))
            else:
                self.close_code = ws.close_code
                for _, fut in self._waiters:
                    if not fut.done():
                        fut.set_exception(ConnectionError(f"closed with {ws.close_code}"))
                self._waiters.clear()
                return

    def _output(self, offset: int, data: memoryview | bytes) -> None:
        now = time.perf_counter()
        if self.end is not None and offset != self.end:
            self.order_errors += 1
        size = len(data)
        end = offset + size
        if end > self.check_from:
            skip = max(0, self.check_from - offset)
            self.crc = zlib.crc32(data[skip:], self.crc)
        self.end = end
        self.received += size
        self.frames += 1
        if self._waiters:
            keep = []
            for target, fut in self._waiters:
                if end >= target:
                    if not fut.done():
                        fut.set_result(now)
                else:
                    keep.append((target, fut))
            self._waiters = keep

    def _text(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "terminal:output":
            raw = msg["data"]
            data = base64.b64decode(raw) if msg.get("enc") == "base64" else raw.encode()
            self._output(int(msg["offset"]), data)
        elif kind == "agent:status":
            self._on_status(msg["agent"])
        elif kind == "subscribed":
            self.subscribed = msg
        elif kind in ("error", "terminal:gap"):
            self.errors.append(msg)

    def _on_status(self, info: dict[str, Any]) -> None:
        agent_id = str(info["agent_id"])
        self.statuses[agent_id] = str(info["state"])
        self._agent_seen.setdefault(agent_id, asyncio.Event()).set()
        if info["state"] == "exited":
            self._exited.setdefault(agent_id, asyncio.Event()).set()


class StalledDashboard:
    """A dashboard that subscribes and then never reads (a small receive buffer)."""

    def __init__(self, relay: Relay) -> None:
        self._relay = relay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    def connect(self) -> None:
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", self._relay.port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET /ws/dashboard HTTP/1.1\r\nHost: 127.0.0.1:{self._relay.port}\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            part = self.sock.recv(1)
            if not part:
                raise ConnectionError("relay closed during the upgrade")
            head += part
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"upgrade refused: {head[:80]!r}")
        self.send({"type": "dashboard:connect", "protocol": 1,
                   "token": token("viewer", "bench-stalled"), "binary": True})

    def send(self, obj: dict[str, Any]) -> None:
        payload = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def drain_close_code(self, timeout: float) -> int | None:
        """Read everything now; the close code the relay sent, if any."""
        self.sock.settimeout(timeout)
        buf = bytearray()
        deadline = time.monotonic() + timeout
        pos = 0
        while time.monotonic() < deadline:
            try:
                part = self.sock.recv(1 << 20)
            except (TimeoutError, OSError):
                break
            if not part:
                break
            buf += part
            while True:
                if len(buf) - pos < 2:
                    break
                opcode = buf[pos] & 0x0F
                n = buf[pos + 1] & 0x7F
                head = 2
                if n == 126:
                    if len(buf) - pos < 4:
                        break
                    n = struct.unpack_from("!H", buf, pos + 2)[0]
                    head = 4
                elif n == 127:
                    if len(buf) - pos < 10:
                        break
                    n = struct.unpack_from("!Q", buf, pos + 2)[0]
                    head = 10
                if len(buf) - pos < head + n:
                    break
                if opcode == 0x8:
                    code: int = struct.unpack_from("!H", buf, pos + head)[0] if n >= 2 else 1005
                    return code
                pos += head + n
            if pos > 1 << 22:
                del buf[:pos]
                pos = 0
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
