"""A raw WebSocket client over asyncio streams, for tests that need what a library client
hides: writing while the relay closes, and seeing whether its close frame arrives or the
TCP connection is reset under it.

``RawWs.open(port, path)`` does the upgrade; ``send(opcode, payload)`` writes one masked
frame; ``flood()`` writes megabytes of an unfinished frame and waits until they are written (so data
of the client is unread at the relay when it closes, and a relay that resets the
connection makes the write fail, as it fails a library client); ``close_code()`` reads frames until the close
frame and returns its code, raising ``ConnectionResetError`` if the connection was reset
before it arrived.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct

from relay.protocol import websocket_header

OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9


def masked_frame(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    header = bytearray(websocket_header(len(payload), text=True, masked=True))
    header[0] = 0x80 | opcode
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if len(payload) < 4096 else (
        _mask_fast(payload, key))
    return bytes(header) + key + body


def _mask_fast(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    reps = key * (n // 4 + 1)
    return (int.from_bytes(payload, "big") ^ int.from_bytes(reps[:n], "big")).to_bytes(n, "big")


class RawWs:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, path: str, headers: dict[str, str] | None = None) -> RawWs:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
            "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
        ]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head[:200]
        return cls(reader, writer)

    def send(self, opcode: int, payload: bytes) -> None:
        self.writer.write(masked_frame(opcode, payload))

    async def flood(self, size: int = 4 << 20) -> None:
        """Start a binary frame announced as 64 MiB, write ``size`` bytes of it, and wait
        until they are written (a reset raises), as a client sending a large message
        does. The frame never completes, so the relay parses no message from it."""
        header = bytearray(websocket_header(64 << 20, text=False, masked=True))
        self.writer.write(bytes(header) + os.urandom(4) + bytes(size))
        await self.writer.drain()

    async def _frame(self) -> tuple[int, bytes]:
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return b0 & 0x0F, await self.reader.readexactly(n)

    async def text(self) -> bytes:
        """The payload of the next text frame (control frames skipped)."""
        while True:
            opcode, payload = await self._frame()
            if opcode == OP_TEXT:
                return payload
            assert opcode != OP_CLOSE, payload

    async def close_code(self) -> int:
        """Read frames until the close frame: its code. An EOF or a reset before it
        raises (``IncompleteReadError`` or ``ConnectionResetError``)."""
        while True:
            opcode, payload = await self._frame()
            if opcode == OP_CLOSE:
                (code,) = struct.unpack("!H", payload[:2])
                return int(code)

    def abort(self) -> None:
        transport = self.writer.transport
        transport.abort()
