"""A relay's agents on disk, for a successor on the same port: records and scrollback tails.

When the ``agent-sidecar run`` that hosts the embedded relay exits, another local ``run``
takes its port over with the same secret (``agent_sidecar/embedded.py``). Without this,
the successor starts empty: agents that had already exited vanish from the dashboards,
panes that show them wait for an agent that will never come back, and every agent's time
in state starts again. The host therefore writes a bounded snapshot of its
:class:`relay.hub.local.LocalHub` as it exits, and the successor loads it.

Format (JSON, version 1)::

    {"version": 1, "written_at": EPOCH, "secret_sha256": HEX,
     "agents": [{"status": <agent:status event>, "start": N, "data": BASE64}]}

``status`` is the agent's record as dashboards receive it (decoded with the protocol's
own decoder, so it is checked like any message); ``data`` is the newest part of its
scrollback, ``start`` the offset of its first byte. ``secret_sha256`` ties the snapshot to
the relay's secret: only a successor with the same secret loads it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from relay.protocol import (
    AgentInfo,
    AgentStatusEvent,
    Direction,
    ProtocolError,
    decode,
    encode,
)

VERSION: Final = 1
#: Newest scrollback bytes kept per agent, and for all agents together.
AGENT_BYTES: Final = 2 * 1024 * 1024
TOTAL_BYTES: Final = 32 * 1024 * 1024


class SnapshotError(ValueError):
    """The snapshot is unreadable, of another version, or for another secret."""


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """One agent: its record and the newest part of its scrollback."""

    info: AgentInfo
    #: Offset of ``data[0]`` in the agent's stream; ``start + len(data)`` is its end.
    start: int
    data: bytes

    @property
    def end(self) -> int:
        return self.start + len(self.data)


def secret_digest(secret: bytes) -> str:
    return hashlib.sha256(b"agent-sidecar snapshot\x00" + secret).hexdigest()


def bounded(
    records: Iterable[AgentRecord], agent_bytes: int = AGENT_BYTES, total_bytes: int = TOTAL_BYTES
) -> list[AgentRecord]:
    """Each record's scrollback cut to its newest ``agent_bytes``; then, while the total
    is over ``total_bytes``, the oldest agents' (by ``last_seen``) cut further. Records
    always stay, only output is dropped."""
    cut = [_tail(r, agent_bytes) for r in records]
    excess = sum(len(r.data) for r in cut) - total_bytes
    if excess <= 0:
        return cut
    by_age = sorted(range(len(cut)), key=lambda i: cut[i].info.last_seen)
    for i in by_age:
        if excess <= 0:
            break
        drop = min(excess, len(cut[i].data))
        cut[i] = _tail(cut[i], len(cut[i].data) - drop)
        excess -= drop
    return cut


def _tail(record: AgentRecord, keep: int) -> AgentRecord:
    if len(record.data) <= keep:
        return record
    skip = len(record.data) - keep
    return AgentRecord(record.info, record.start + skip, record.data[skip:])


def dumps(records: Iterable[AgentRecord], *, secret: bytes, written_at: float) -> bytes:
    agents = [
        {
            "status": json.loads(encode(AgentStatusEvent(agent=r.info))),
            "start": r.start,
            "data": base64.b64encode(r.data).decode("ascii"),
        }
        for r in records
    ]
    doc = {
        "version": VERSION,
        "written_at": written_at,
        "secret_sha256": secret_digest(secret),
        "agents": agents,
    }
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def loads(raw: bytes, *, secret: bytes) -> list[AgentRecord]:
    """Parse a snapshot written for ``secret``; raises :class:`SnapshotError`."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise SnapshotError("the snapshot is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        raise SnapshotError(f"not a version {VERSION} snapshot")
    if doc.get("secret_sha256") != secret_digest(secret):
        raise SnapshotError("the snapshot belongs to a relay with another secret")
    agents = doc.get("agents")
    if not isinstance(agents, list):
        raise SnapshotError("field 'agents' must be a list")
    return [_record(entry) for entry in agents]


def _record(entry: object) -> AgentRecord:
    if not isinstance(entry, dict):
        raise SnapshotError("each agent must be an object")
    start = entry.get("start")
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise SnapshotError("field 'start' must be a non-negative integer")
    try:
        data = base64.b64decode(str(entry.get("data", "")), validate=True)
        event = decode(json.dumps(entry.get("status")), Direction.RELAY_TO_DASHBOARD)
    except ProtocolError as exc:
        raise SnapshotError(f"an agent's record is invalid: {exc}") from None
    except (binascii.Error, ValueError) as exc:
        raise SnapshotError(f"an agent's data is invalid: {exc}") from None
    if not isinstance(event, AgentStatusEvent):
        raise SnapshotError("field 'status' must be an agent:status event")
    return AgentRecord(event.agent, start, data)
