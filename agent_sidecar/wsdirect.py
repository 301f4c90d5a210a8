"""Small client frames written straight to the socket, without a task switch.

A keystroke echo is a few bytes. Sending it through ``ClientWebSocketResponse.send_bytes``
means waking the link's sender task first; writing the frame from the PTY read callback
itself saves that hop. Client frames must be masked (RFC 6455 section 5.3) with a fresh,
unpredictable key, so this module builds the frame: header, 4-byte key from
``os.urandom``, payload XORed with the key.

aiohttp writes every uncompressed frame with synchronous ``transport.write`` calls, so a
frame written here never lands inside one of aiohttp's (pings, pongs, close). The
transport is reached through aiohttp's writer; if a future aiohttp hides it,
:attr:`DirectWriter.available` is False and every frame takes the normal path.
"""

from __future__ import annotations

import asyncio
import os

import aiohttp

from relay.protocol import websocket_header

#: Frames are written directly only while the socket's send buffer holds less than this.
BUFFER_LIMIT = 64 * 1024


def masked_frame(payload: bytes, *, text: bool, key: bytes) -> bytes:
    """One complete, masked client frame carrying ``payload``."""
    n = len(payload)
    header = websocket_header(n, text=text, masked=True)
    if n == 0:
        return header + key
    stream = (key * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        n, "little"
    )
    return header + key + body


class DirectWriter:
    """Writes one frame synchronously when the socket takes it without waiting."""

    __slots__ = ("_transport", "_ws")

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        writer = getattr(ws, "_writer", None)
        transport = getattr(writer, "transport", None)
        self._transport: asyncio.Transport | None = (
            transport if isinstance(transport, asyncio.Transport) else None
        )

    @property
    def available(self) -> bool:
        """Whether this aiohttp lets us reach the socket at all."""
        return self._transport is not None

    def send_now(self, frame: str | bytes) -> bool:
        """Write ``frame`` now and return True; False (nothing written) when the socket
        is closing or already has a backlog: then send it the normal way."""
        transport = self._transport
        if (
            transport is None
            or self._ws.closed
            or transport.is_closing()
            or transport.get_write_buffer_size() > BUFFER_LIMIT
        ):
            return False
        if isinstance(frame, str):
            data = masked_frame(frame.encode("utf-8"), text=True, key=os.urandom(4))
        else:
            data = masked_frame(frame, text=False, key=os.urandom(4))
        transport.write(data)
        return True
