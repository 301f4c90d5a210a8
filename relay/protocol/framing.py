"""Output bytes on the wire: the binary output frame, UTF-8-safe chunking, and the
header of a WebSocket frame for the direct-write paths of the relay and the sidecar."""

from __future__ import annotations

from relay.protocol.messages import (
    BINARY_OUTPUT_TAG,
    MAX_OFFSET,
    ErrorCode,
    ProtocolError,
    TerminalOutput,
    is_agent_id,
)

#: One encoded frame on its way to a peer: JSON text or a binary output frame. Encoded
#: once and sent as the same object to every subscriber.
WireFrame = str | bytes

# --------------------------------------------------------------------------- websocket


def websocket_header(length: int, *, text: bool, masked: bool) -> bytes:
    """The header of one final, uncompressed WebSocket data frame carrying ``length``
    payload bytes (RFC 6455 section 5.2); a masked frame's 4-byte key follows it."""
    opcode = 0x81 if text else 0x82  # FIN + text / binary
    mask = 0x80 if masked else 0
    if length < 126:
        return bytes((opcode, mask | length))
    if length < 65536:
        return bytes((opcode, mask | 126)) + length.to_bytes(2, "big")
    return bytes((opcode, mask | 127)) + length.to_bytes(8, "big")


# --------------------------------------------------------------------------- binary output


def encode_binary_output(agent_id: str, offset: int, data: bytes) -> bytes:
    """The binary form of a ``terminal:output`` chunk (contract section 5)."""
    aid = agent_id.encode("ascii")
    return b"".join((bytes((BINARY_OUTPUT_TAG, len(aid))), aid, offset.to_bytes(8, "big"), data))


def decode_binary_output(frame: bytes) -> TerminalOutput:
    """Read a binary output frame; raise :class:`ProtocolError` (``invalid_message``)."""
    if len(frame) < 2 or frame[0] != BINARY_OUTPUT_TAG:
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, "binary frame: byte 0 must be 0x01 (terminal output)"
        )
    n = frame[1]
    if len(frame) < 2 + n + 8:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "binary frame: truncated header")
    try:
        agent_id = frame[2 : 2 + n].decode("ascii")
    except UnicodeDecodeError:
        agent_id = ""
    if not is_agent_id(agent_id):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "binary frame: invalid agent id")
    offset = int.from_bytes(frame[2 + n : 10 + n], "big")
    if offset > MAX_OFFSET:
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, f"binary frame: offset {offset} is beyond 2^63-1"
        )
    return TerminalOutput(agent_id=agent_id, offset=offset, data=bytes(frame[10 + n :]))


def binary_header_length(agent_id: str) -> int:
    """Bytes before the payload in a binary output frame for ``agent_id``."""
    return 10 + len(agent_id)


# --------------------------------------------------------------------------- UTF-8 chunking


def utf8_cut(data: bytes | bytearray | memoryview) -> int:
    """Index at which ``data`` ends in an incomplete UTF-8 sequence, else ``len(data)``.

    Only a *valid prefix* of a multi-byte character at the very end is held back (at most
    3 bytes); invalid bytes are not held, since waiting cannot make them valid.
    """
    n = len(data)
    for back in range(1, min(3, n) + 1):
        b = data[n - back]
        if b < 0x80:
            return n
        if b >= 0xC0:  # a lead byte: how long should its sequence be?
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4 if b < 0xF8 else 0
            if need > back and 0xC2 <= b <= 0xF4:
                return n - back
            return n
    return n


class Utf8Chunker:
    """Cut a byte stream into chunks that end on UTF-8 character boundaries.

    ``feed`` returns the bytes that can go now and keeps a trailing incomplete character
    (at most 3 bytes) for the next call; ``flush`` returns whatever is held, complete or
    not (call it at end of stream or when the producer has gone quiet).
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = b""

    @property
    def held(self) -> int:
        return len(self._held)

    def feed(self, data: bytes) -> bytes:
        if self._held:
            data = self._held + data
        cut = utf8_cut(data)
        self._held = data[cut:]
        return data[:cut] if cut < len(data) else data

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return held
