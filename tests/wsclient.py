"""A raw WebSocket test client for the relay: send dicts, wait for message types.

Every wait is bounded (``timeout`` seconds, default 5) and fails the test with what was
received instead of hanging; nothing here sleeps.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMsgType

from relay.protocol import decode_binary_output
from tests.timing import deadline

JsonDict = dict[str, Any]


class ClosedError(AssertionError):
    """The relay closed the socket while a message was expected."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"the socket was closed with {code}")
        self.code = code


class WsPeer:
    """One client connection (``ws``) with helpers; ``.ws`` stays available."""

    def __init__(self, ws: ClientWebSocketResponse, timeout: float | None = 5.0) -> None:
        self.ws = ws
        self.timeout = timeout

    # ------------------------------------------------------------------ sending

    async def send(self, type_: str, **fields: Any) -> None:
        """Send ``{"type": type_, **fields}`` as one text frame."""
        await self.ws.send_str(json.dumps({"type": type_, **fields}))

    async def send_text(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send_bytes(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def output(self, agent_id: str, offset: int, data: bytes) -> None:
        """Send a JSON ``terminal:output`` (base64 when not UTF-8)."""
        try:
            await self.send("terminal:output", agent_id=agent_id, offset=offset,
                            data=data.decode("utf-8"))
        except UnicodeDecodeError:
            await self.send("terminal:output", agent_id=agent_id, offset=offset,
                            data=base64.b64encode(data).decode(), enc="base64")

    # ------------------------------------------------------------------ receiving

    async def frame(self) -> tuple[WSMsgType, Any]:
        """The next data frame as ``(type, data)``; raises :class:`ClosedError` on close."""
        async with deadline(self.timeout):
            msg = await self.ws.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            raise ClosedError(self.ws.close_code)
        return msg.type, msg.data

    async def recv(self) -> JsonDict:
        """The next message; binary output frames become ``terminal:output`` dicts with
        ``"binary": True`` and ``data`` as bytes."""
        kind, data = await self.frame()
        if kind is WSMsgType.BINARY:
            chunk = decode_binary_output(data)
            return {"type": "terminal:output", "agent_id": chunk.agent_id,
                    "offset": chunk.offset, "data": chunk.data, "binary": True}
        obj: JsonDict = json.loads(data)
        return obj

    async def wait_for(
        self, type_: str, where: Callable[[JsonDict], bool] | None = None
    ) -> JsonDict:
        """Skip messages until one of ``type_`` (and matching ``where``) arrives."""
        seen: list[str] = []
        try:
            while True:
                msg = await self.recv()
                if msg["type"] == type_ and (where is None or where(msg)):
                    return msg
                seen.append(msg["type"])
        except TimeoutError:
            raise AssertionError(f"no {type_} within {self.timeout} s; got {seen}") from None

    async def expect(self, type_: str) -> JsonDict:
        """The very next message, which must be of ``type_``."""
        msg = await self.recv()
        assert msg["type"] == type_, msg
        return msg

    async def error(self) -> JsonDict:
        """Skip to the next ``error`` message."""
        return await self.wait_for("error")

    async def closed(self) -> int | None:
        """Read until the relay closes; the close code."""
        async with deadline(self.timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                WSMsgType.ERROR):
                    return self.ws.close_code

    async def read_output(self, agent_id: str, start: int, end: int) -> bytes:
        """Collect ``agent_id``'s output from ``start`` to ``end``, asserting that every
        chunk starts exactly where the previous one ended (no gap, no duplicate)."""
        out = bytearray()
        pos = start
        while pos < end:
            msg = await self.wait_for("terminal:output", lambda m: m["agent_id"] == agent_id)
            assert msg["offset"] == pos, f"chunk at {msg['offset']}, expected {pos}"
            data = output_bytes(msg)
            out += data
            pos += len(data)
        assert pos == end, f"stream went past {end} to {pos}"
        return bytes(out)

    async def close(self) -> None:
        await self.ws.close()


def output_bytes(msg: JsonDict) -> bytes:
    """The raw bytes of a ``terminal:output`` message in any of its forms."""
    data = msg["data"]
    if isinstance(data, bytes):
        return data
    if msg.get("enc") == "base64":
        return base64.b64decode(data)
    return str(data).encode("utf-8")
