"""In-memory fakes for the hub's seams (``Peer``, ``Scope``, outbox ``Transport``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from relay.protocol import WireFrame, decode_binary_output


class FakePeer:
    """A ``relay.hub.interface.Peer`` that records frames; replays are expanded at once."""

    def __init__(self) -> None:
        self.frames: list[tuple[WireFrame, str | None]] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self.changed = asyncio.Event()

    async def wait_for(self, type_: str) -> dict[str, Any]:
        """Wait (bounded by the caller's timeout) until a message of ``type_`` is queued."""
        while True:
            found = self.of_type(type_)
            if found:
                return found[0]
            self.changed.clear()
            await self.changed.wait()

    def send_text(self, text: str, *, agent_id: str | None = None) -> None:
        if self.close_code is None:
            self.frames.append((text, agent_id))
            self.changed.set()

    def send_bytes(self, data: bytes, *, agent_id: str | None = None) -> None:
        if self.close_code is None:
            self.frames.append((data, agent_id))

    def send_replay(self, agent_id: str, frames: Iterable[WireFrame]) -> None:
        for frame in frames:
            self.frames.append((frame, agent_id))

    def drop(self, agent_id: str) -> None:
        self.frames = [(f, a) for f, a in self.frames if a != agent_id]

    def close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    @property
    def queued_bytes(self) -> int:
        return 0

    @property
    def closed(self) -> bool:
        return self.close_code is not None

    def messages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for frame, _ in self.frames:
            if isinstance(frame, bytes):
                chunk = decode_binary_output(frame)
                out.append({"type": "terminal:output", "agent_id": chunk.agent_id,
                            "offset": chunk.offset, "data": chunk.data, "binary": True})
            else:
                out.append(json.loads(frame))
        return out

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.messages() if m["type"] == type_]

    def take(self) -> list[dict[str, Any]]:
        msgs = self.messages()
        self.frames.clear()
        return msgs


class AllScope:
    def may_see(self, agent_id: str) -> bool:
        return True


class PrefixScope:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def may_see(self, agent_id: str) -> bool:
        return agent_id.startswith(self.prefix)


class FakeTransport:
    """An outbox ``Transport``: ``send`` blocks while ``gate`` is clear."""

    def __init__(self) -> None:
        self.sent: list[WireFrame] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.closed_with: tuple[int, str] | None = None
        self.sent_event = asyncio.Event()

    async def send(self, frame: WireFrame) -> None:
        await self.gate.wait()
        self.sent.append(frame)
        self.sent_event.set()

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)
