"""JSON text frames: :func:`parse` (JSON, object shape, known type), :func:`decode`, and
:func:`encode`."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from relay.protocol.messages import (
    Activity,
    AgentActivity,
    AgentHello,
    AgentInfo,
    AgentPresence,
    AgentRemoved,
    AgentStatus,
    AgentStatusEvent,
    AgentWelcome,
    CommandAck,
    CommandInterrupt,
    CommandRequest,
    DashboardConnect,
    DashboardConnected,
    Direction,
    Error,
    ErrorCode,
    Heartbeat,
    Message,
    PermissionDecide,
    ProtocolError,
    Subscribe,
    Subscribed,
    TerminalGap,
    TerminalInput,
    TerminalOutput,
    TerminalResize,
    Unsubscribe,
    Unsubscribed,
)
from relay.protocol.validate import (
    BUILDERS,
    Fields,
    build_activity,
    json_kind,
    request_ref,
)

# --------------------------------------------------------------------------- decode


@dataclass(frozen=True, slots=True)
class ParsedFrame:
    """A parsed JSON object with a known ``type``; fields not yet validated."""

    type: str
    obj: Mapping[str, Any]
    direction: Direction

    @property
    def ref(self) -> str | None:
        return request_ref(self.obj)

    def message(self) -> Message:
        """Validate the fields; raise :class:`ProtocolError` (``invalid_message``)."""
        return BUILDERS[self.direction][self.type](Fields(self.type, self.obj))


def parse(text: str | bytes, direction: Direction) -> ParsedFrame:
    """Check JSON, object shape and known type, in the contract's order."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.INVALID_JSON, "the frame is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, f"a message must be a JSON object, not {json_kind(obj)}"
        )
    type_ = obj.get("type")
    if not isinstance(type_, str):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE,
            "field 'type' is required and must be a string",
            request_ref(obj),
        )
    if type_ not in BUILDERS[direction]:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"unknown message type {type_[:64]!r}", request_ref(obj)
        )
    return ParsedFrame(type=type_, obj=obj, direction=direction)


class Prepared(str):
    """A text frame that also holds the message it encodes, valid in ``direction``.

    What the relay sends an agent in its own process (the embedded ``run``) never leaves
    the process: :func:`decode` hands the receiver the message itself instead of parsing
    and validating the text again. To everything else it is the text (a socket sends it
    as such). Only code builds one, from a message it validated or made; nothing read
    from a socket is one.
    """

    message: Message
    direction: Direction


def prepared(text: str, message: Message, direction: Direction) -> Prepared:
    frame = Prepared(text)
    frame.message = message
    frame.direction = direction
    return frame


def decode(text: str | bytes, direction: Direction) -> Message:
    """Parse and validate one JSON text frame."""
    if type(text) is Prepared and text.direction is direction:
        return text.message
    return parse(text, direction).message()


# --------------------------------------------------------------------------- encode


def output_fields(data: bytes) -> dict[str, str]:
    """``data`` (and ``enc`` when needed) for a chunk: UTF-8 text, else base64."""
    try:
        return {"data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"data": base64.b64encode(data).decode("ascii"), "enc": "base64"}


def activity_dict(activity: Activity) -> dict[str, Any]:
    """Every field of an activity, null where unset (the contract lists them all)."""
    return {
        "state": activity.state,
        "since": activity.since,
        "reason": activity.reason,
        "prompt": activity.prompt,
        "options": None
        if activity.options is None
        else [{"label": o.label, "keys": o.keys} for o in activity.options],
        "decision_id": activity.decision_id,
        "detail": activity.detail,
        "agent_kind": activity.agent_kind,
        "source": activity.source,
    }


def encode_activity(activity: Activity) -> str:
    """An activity as JSON text (how stores keep it)."""
    return _dumps(activity_dict(activity))


def decode_activity(text: str | bytes) -> Activity:
    """The inverse of :func:`encode_activity`; raises :class:`ProtocolError`."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.INVALID_JSON, "the activity is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "an activity must be a JSON object")
    return build_activity(Fields("activity", obj))


def agent_info_dict(info: AgentInfo) -> dict[str, Any]:
    d: dict[str, Any] = {
        "agent_id": info.agent_id,
        "name": info.name,
        "host": info.host,
        "command": list(info.command),
        "labels": dict(info.labels),
        "pid": info.pid,
        "cols": info.cols,
        "rows": info.rows,
        "started_at": info.started_at,
        "state": info.state,
        "exit_code": info.exit_code,
        "last_seen": info.last_seen,
        "offset": info.offset,
        "signal": info.signal,
        "activity": None if info.activity is None else activity_dict(info.activity),
    }
    if info.state_since is not None:  # an addition beyond the contract; absent: unknown
        d["state_since"] = info.state_since
    if info.local_terminal is not None:  # likewise
        d["local_terminal"] = info.local_terminal
    return d


def _drop_none(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    for k in keys:
        if d.get(k) is None:
            d.pop(k, None)
    return d


def to_dict(msg: Message) -> dict[str, Any]:
    """The JSON object for a message (``type`` first)."""
    d: dict[str, Any]
    match msg:
        case AgentHello():
            d = {
                "protocol": msg.protocol,
                "token": msg.token,
                "agent_id": msg.agent_id,
                "name": msg.name,
                "host": msg.host,
                "command": list(msg.command),
                "pid": msg.pid,
                "cols": msg.cols,
                "rows": msg.rows,
                "started_at": msg.started_at,
                "labels": dict(msg.labels),
                "local_terminal": msg.local_terminal,
            }
            _drop_none(d, "token", "local_terminal")
        case AgentWelcome():
            d = {"agent_id": msg.agent_id, "resume_from": msg.resume_from}
            if msg.max_message_bytes is not None:
                d["max_message_bytes"] = msg.max_message_bytes
        case AgentStatus():
            d = {"state": msg.state, "pid": msg.pid, "cols": msg.cols, "rows": msg.rows}
            if msg.exit_code is not None:
                d["exit_code"] = msg.exit_code
            if msg.signal is not None:
                d["signal"] = msg.signal
        case AgentStatusEvent():
            d = {"agent": agent_info_dict(msg.agent)}
        case AgentRemoved() | Unsubscribe() | Unsubscribed():
            d = {"agent_id": msg.agent_id}
        case TerminalOutput():
            d = {"agent_id": msg.agent_id, "offset": msg.offset, **output_fields(msg.data)}
        case TerminalGap():
            d = {"agent_id": msg.agent_id, "from": msg.from_, "to": msg.to}
        case CommandRequest():
            d = {
                "agent_id": msg.agent_id,
                "request_id": msg.request_id,
                "input": msg.input,
                "submit": msg.submit,
            }
            _drop_none(d, "agent_id")
        case TerminalInput():
            d = _drop_none({"agent_id": msg.agent_id, "data": msg.data}, "agent_id")
        case TerminalResize():
            d = _drop_none(
                {"agent_id": msg.agent_id, "cols": msg.cols, "rows": msg.rows}, "agent_id"
            )
        case CommandInterrupt():
            d = _drop_none(
                {"agent_id": msg.agent_id, "request_id": msg.request_id, "signal": msg.signal},
                "agent_id",
            )
        case CommandAck():
            d = {"agent_id": msg.agent_id, "request_id": msg.request_id, "ok": msg.ok}
            if msg.error is not None:
                d["error"] = msg.error
            _drop_none(d, "agent_id")
        case Heartbeat():
            d = {"ts": msg.ts}
        case Error():
            d = {"code": msg.code.value, "message": msg.message, "ref": msg.ref}
            if msg.retry_after is not None:
                d["retry_after"] = msg.retry_after
        case DashboardConnect():
            d = {"protocol": msg.protocol, "token": msg.token, "client": msg.client}
            _drop_none(d, "token", "client")
            if msg.binary:
                d["binary"] = True
            if msg.presence:
                d["presence"] = True
        case DashboardConnected():
            d = {
                "session_id": msg.session_id,
                "sub": msg.sub,
                "role": msg.role,
                "protocol": msg.protocol,
            }
            if msg.input_limit is not None:
                d["input_limit"] = {"rate": msg.input_limit.rate, "burst": msg.input_limit.burst}
            d["agents"] = [agent_info_dict(a) for a in msg.agents]  # last (see below)
        case Subscribe():
            d = {"agent_id": msg.agent_id, "since": msg.since, "request_id": msg.request_id}
            _drop_none(d, "since", "request_id")
        case Subscribed():
            d = {"agent_id": msg.agent_id, "from": msg.from_, "offset": msg.offset}
        case AgentActivity():
            d = {"activity": activity_dict(msg.activity)}
        case PermissionDecide():
            d = {
                "agent_id": msg.agent_id,
                "request_id": msg.request_id,
                "decision_id": msg.decision_id,
                "decision": msg.decision,
                "message": msg.message,
            }
            if msg.agent_id is None:  # towards the sidecar: every field, message maybe null
                del d["agent_id"]
            else:  # from a dashboard: message is optional
                _drop_none(d, "message")
        case AgentPresence():
            d = {
                "agent_id": msg.agent_id,
                "watchers": [
                    {
                        "sub": w.sub,
                        "role": w.role,
                        "connections": w.connections,
                        "typing": w.typing,
                        "last_input": w.last_input,
                        "last_input_at": w.last_input_at,
                    }
                    for w in msg.watchers
                ],
                "more": msg.more,
            }
    return {"type": msg.TYPE, **d}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def encode(msg: Message) -> str:
    """One JSON text frame for a message."""
    return _dumps(to_dict(msg))


_INPUT_HEAD = '{"type":"terminal:input","data":'


def encode_terminal_input(data: str) -> str:
    """``encode(TerminalInput(data=data))`` (towards the agent, no ``agent_id``) without
    building the message and its dict: the relay sends one per keystroke."""
    return f"{_INPUT_HEAD}{_dumps(data)}}}"


def encode_agent_info(info: AgentInfo) -> str:
    """``info`` as the JSON text it has inside an encoded ``dashboard:connected``."""
    return _dumps(agent_info_dict(info))


_AGENTS_TAIL = '"agents":[]}'


def encode_dashboard_connected(msg: DashboardConnected, agents: Iterable[str]) -> str:
    """``encode(msg)`` with ``agents`` (texts from :func:`encode_agent_info`, in order)
    as the agent list; ``msg.agents`` must be empty. For callers that keep each agent's
    text until it changes instead of encoding every agent for every dashboard."""
    if msg.agents:
        raise ValueError("give the agents as encoded texts, not in the message")
    head = encode(msg)
    if not head.endswith(_AGENTS_TAIL):  # to_dict puts "agents" last
        raise AssertionError(f"dashboard:connected no longer ends with {_AGENTS_TAIL}")
    return f"{head[:-2]}{','.join(agents)}]}}"
