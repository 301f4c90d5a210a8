"""One audit record (contract section 12), sans I/O: what was done, by whom, and how it ended.

A record is built from a control message the relay handled and its outcome, and written
as one JSON object per line. The text of commands and of decisions is kept; keystroke
input (``terminal:input``) only by its size in bytes. No field ever holds a token.

Fields (``null`` ones are left out of the line)::

    time        epoch seconds (float) when the relay handled the message
    relay       the id of the relay that handled it (several relays share one stream)
    sub, role   the dashboard's identity
    session_id  the dashboard connection (dashboard:connected.session_id)
    agent_id    the agent it was meant for
    action      command:request | terminal:input | terminal:resize | command:interrupt |
                permission:decide
    request_id  the dashboard's own id (command:request, command:interrupt,
                permission:decide)
    outcome     sent (handed to the agent's connection; its command:ack goes to the
                dashboard) or the error code it was answered with: forbidden,
                unknown_agent, agent_offline, stale_decision
    input, submit            command:request: the text and whether Enter followed
    bytes                    terminal:input: the size of the keystrokes in UTF-8 bytes
    cols, rows               terminal:resize
    signal                   command:interrupt
    decision, decision_id, message   permission:decide
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from relay.protocol import (
    CommandInterrupt,
    CommandRequest,
    PermissionDecide,
    TerminalInput,
    TerminalResize,
)

ACTIONS: Final = (
    "command:request",
    "terminal:input",
    "terminal:resize",
    "command:interrupt",
    "permission:decide",
)
SENT: Final = "sent"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    time: float
    sub: str
    role: str
    agent_id: str
    action: str
    outcome: str
    relay: str | None = None
    session_id: str | None = None
    request_id: str | None = None
    input: str | None = None
    submit: bool | None = None
    bytes: int | None = None
    cols: int | None = None
    rows: int | None = None
    signal: str | None = None
    decision: str | None = None
    decision_id: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditRecord:
        """The record of a stored line; unknown keys are ignored, missing ones are null."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("time", "sub", "role", "agent_id", "action", "outcome"):
            values.setdefault(name, 0.0 if name == "time" else "")
        return cls(**values)


def control_fields(message: object) -> dict[str, Any]:
    """What a record keeps of a control message besides who, when and the outcome."""
    match message:
        case CommandRequest():
            return {"request_id": message.request_id, "input": message.input,
                    "submit": message.submit}
        case TerminalInput():
            return {"bytes": len(message.data.encode("utf-8", "surrogatepass"))}
        case TerminalResize():
            return {"cols": message.cols, "rows": message.rows}
        case CommandInterrupt():
            return {"request_id": message.request_id, "signal": message.signal}
        case PermissionDecide():
            return {"request_id": message.request_id, "decision": message.decision,
                    "decision_id": message.decision_id, "message": message.message}
    raise TypeError(f"not a control message: {type(message).__name__}")


def build(
    *,
    time: float,
    sub: str,
    role: str,
    session_id: str | None,
    relay: str | None,
    message: object,
    outcome: str,
) -> AuditRecord:
    action = str(getattr(message, "TYPE", type(message).__name__))
    agent_id = getattr(message, "agent_id", None) or ""
    return AuditRecord(
        time=time, sub=sub, role=role, session_id=session_id, relay=relay,
        agent_id=agent_id, action=action, outcome=outcome, **control_fields(message),
    )
