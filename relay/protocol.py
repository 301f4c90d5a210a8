"""Wire protocol v1, sans I/O: typed messages, ``decode`` and ``encode``.

Map of the message kinds (the full contract is ``docs/protocol.md``)::

    sidecar -> relay      agent:hello, terminal:output, agent:status, command:ack, heartbeat
    relay -> sidecar      agent:welcome, command:request, terminal:input, terminal:resize,
                          command:interrupt, heartbeat, error
    dashboard -> relay    dashboard:connect, subscribe, unsubscribe, command:request,
                          terminal:input, terminal:resize, command:interrupt, heartbeat
    relay -> dashboard    dashboard:connected, agent:status, agent:removed, terminal:output,
                          terminal:gap, subscribed, unsubscribed, command:ack, heartbeat, error

The same ``type`` can have two shapes depending on who sends it (``agent:status`` from a
sidecar carries its state; to a dashboard it carries an ``AgentInfo``), so decoding is
always done for one :class:`Direction`.

Decoding is two steps so that the relay can apply its rate limit between them, in the
order the contract prescribes: :func:`parse` checks JSON, object shape and type and
returns a :class:`Frame`; :meth:`Frame.message` validates the fields. :func:`decode` does
both. Every failure raises :class:`ProtocolError` carrying a contract error code.

This module imports nothing from asyncio, aiohttp, click or ptyprocess.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal, TypeAlias

PROTOCOL_VERSION: Final = 1
MAX_AGENT_ID_LENGTH: Final = 128
BINARY_OUTPUT_TAG: Final = 0x01
#: Offsets travel as 8-byte unsigned integers in binary frames; JSON ones stay below 2**63.
MAX_OFFSET: Final = 2**63 - 1
AGENT_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class ErrorCode(enum.StrEnum):
    """The ``code`` of an ``error`` message (contract section 4)."""

    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    FORBIDDEN = "forbidden"
    UNKNOWN_AGENT = "unknown_agent"
    AGENT_OFFLINE = "agent_offline"
    RATE_LIMITED = "rate_limited"


class CloseCode(enum.IntEnum):
    """WebSocket close codes (contract section 3)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    INTERNAL_ERROR = 1011
    MESSAGE_TOO_BIG = 1009
    PROTOCOL_ERROR = 4400
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    HELLO_TIMEOUT = 4408
    REPLACED = 4409
    TOO_MANY_CONNECTIONS = 4429
    SLOW_CONSUMER = 4503


class Direction(enum.Enum):
    """Who sends the frame to whom; selects the set of valid types and their shapes."""

    AGENT_TO_RELAY = "agent->relay"
    RELAY_TO_AGENT = "relay->agent"
    DASHBOARD_TO_RELAY = "dashboard->relay"
    RELAY_TO_DASHBOARD = "relay->dashboard"


class ProtocolError(Exception):
    """A frame that does not follow the contract.

    ``code`` is the contract's error code, ``ref`` the frame's ``request_id`` when it had
    a usable one (so the sender can match the error to its request).
    """

    def __init__(self, code: ErrorCode, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


AgentState: TypeAlias = Literal["running", "idle", "exited"]
AgentInfoState: TypeAlias = Literal["running", "idle", "exited", "disconnected"]
Role: TypeAlias = Literal["agent", "viewer", "operator", "admin"]
SignalName: TypeAlias = Literal["SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGQUIT"]
Timestamp: TypeAlias = int | float | str

AGENT_STATES: Final[tuple[str, ...]] = ("running", "idle", "exited")
AGENT_INFO_STATES: Final[tuple[str, ...]] = ("running", "idle", "exited", "disconnected")
ROLES: Final[tuple[str, ...]] = ("agent", "viewer", "operator", "admin")
SIGNALS: Final[tuple[str, ...]] = ("SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGQUIT")


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """An agent as dashboards see it."""

    agent_id: str
    name: str
    host: str
    command: tuple[str, ...]
    labels: Mapping[str, str]
    pid: int | None
    cols: int
    rows: int
    started_at: float
    state: AgentInfoState
    exit_code: int | None
    last_seen: float
    offset: int


@dataclass(frozen=True, slots=True)
class AgentHello:
    agent_id: str
    name: str
    host: str
    command: tuple[str, ...]
    pid: int | None
    cols: int
    rows: int
    started_at: float
    labels: Mapping[str, str] = field(default_factory=dict)
    protocol: int = PROTOCOL_VERSION
    token: str | None = field(default=None, repr=False)
    TYPE: ClassVar[str] = "agent:hello"


@dataclass(frozen=True, slots=True)
class AgentWelcome:
    agent_id: str
    resume_from: int
    TYPE: ClassVar[str] = "agent:welcome"


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """Sidecar -> relay: the command's state."""

    state: AgentState
    pid: int | None
    cols: int
    rows: int
    exit_code: int | None = None
    signal: str | None = None
    TYPE: ClassVar[str] = "agent:status"


@dataclass(frozen=True, slots=True)
class AgentStatusEvent:
    """Relay -> dashboard: an agent connected, changed state, disconnected or exited."""

    agent: AgentInfo
    TYPE: ClassVar[str] = "agent:status"


@dataclass(frozen=True, slots=True)
class AgentRemoved:
    agent_id: str
    TYPE: ClassVar[str] = "agent:removed"


@dataclass(frozen=True, slots=True)
class TerminalOutput:
    """A chunk of an agent's output stream; ``offset`` is the byte offset of ``data[0]``."""

    agent_id: str
    offset: int
    data: bytes
    TYPE: ClassVar[str] = "terminal:output"

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


@dataclass(frozen=True, slots=True)
class TerminalGap:
    agent_id: str
    from_: int
    to: int
    TYPE: ClassVar[str] = "terminal:gap"


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """``agent_id`` is set from dashboards and absent towards the sidecar."""

    request_id: str
    input: str
    submit: bool = True
    agent_id: str | None = None
    TYPE: ClassVar[str] = "command:request"


@dataclass(frozen=True, slots=True)
class TerminalInput:
    data: str
    agent_id: str | None = None
    TYPE: ClassVar[str] = "terminal:input"


@dataclass(frozen=True, slots=True)
class TerminalResize:
    cols: int
    rows: int
    agent_id: str | None = None
    TYPE: ClassVar[str] = "terminal:resize"


@dataclass(frozen=True, slots=True)
class CommandInterrupt:
    request_id: str
    signal: SignalName = "SIGINT"
    agent_id: str | None = None
    TYPE: ClassVar[str] = "command:interrupt"


@dataclass(frozen=True, slots=True)
class CommandAck:
    """From the sidecar without ``agent_id``; to the requesting dashboard with it."""

    request_id: str
    ok: bool
    error: str | None = None
    agent_id: str | None = None
    TYPE: ClassVar[str] = "command:ack"


@dataclass(frozen=True, slots=True)
class Heartbeat:
    ts: Timestamp
    TYPE: ClassVar[str] = "heartbeat"


@dataclass(frozen=True, slots=True)
class Error:
    code: ErrorCode
    message: str
    ref: str | None = None
    retry_after: float | None = None
    TYPE: ClassVar[str] = "error"


@dataclass(frozen=True, slots=True)
class DashboardConnect:
    protocol: int = PROTOCOL_VERSION
    token: str | None = field(default=None, repr=False)
    client: str | None = None
    binary: bool = False
    TYPE: ClassVar[str] = "dashboard:connect"


@dataclass(frozen=True, slots=True)
class DashboardConnected:
    session_id: str
    sub: str
    role: Role
    agents: tuple[AgentInfo, ...]
    protocol: int = PROTOCOL_VERSION
    TYPE: ClassVar[str] = "dashboard:connected"


@dataclass(frozen=True, slots=True)
class Subscribe:
    agent_id: str
    since: int | None = None
    TYPE: ClassVar[str] = "subscribe"


@dataclass(frozen=True, slots=True)
class Subscribed:
    agent_id: str
    from_: int
    offset: int
    TYPE: ClassVar[str] = "subscribed"


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    agent_id: str
    TYPE: ClassVar[str] = "unsubscribe"


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    agent_id: str
    TYPE: ClassVar[str] = "unsubscribed"


Message: TypeAlias = (
    AgentHello
    | AgentWelcome
    | AgentStatus
    | AgentStatusEvent
    | AgentRemoved
    | TerminalOutput
    | TerminalGap
    | CommandRequest
    | TerminalInput
    | TerminalResize
    | CommandInterrupt
    | CommandAck
    | Heartbeat
    | Error
    | DashboardConnect
    | DashboardConnected
    | Subscribe
    | Subscribed
    | Unsubscribe
    | Unsubscribed
)

#: Dashboard messages that spend a rate-limit token (contract section 4).
INPUT_BEARING_TYPES: Final = frozenset(
    {"command:request", "terminal:input", "terminal:resize", "command:interrupt"}
)


# --------------------------------------------------------------------------- field readers


class _Fields:
    """Typed access to a JSON object's fields; every failure names the field."""

    __slots__ = ("obj", "type")

    def __init__(self, type_: str, obj: Mapping[str, Any]) -> None:
        self.type = type_
        self.obj = obj

    def _fail(self, name: str, what: str) -> ProtocolError:
        return ProtocolError(
            ErrorCode.INVALID_MESSAGE, f"{self.type}: field '{name}' {what}", _ref(self.obj)
        )

    def _get(self, name: str, required: bool) -> Any:
        if name not in self.obj or self.obj[name] is None:
            if required:
                raise self._fail(name, "is required")
            return None
        return self.obj[name]

    def str_(self, name: str, *, required: bool = True, max_len: int | None = None) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(name, f"must be a string, not {_json_kind(value)}")
        if max_len is not None and not 1 <= len(value) <= max_len:
            raise self._fail(name, f"must have 1 to {max_len} characters")
        return value

    def int_(
        self, name: str, *, required: bool = True, lo: int | None = None, hi: int | None = None
    ) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(name, f"must be an integer, not {_json_kind(value)}")
        if lo is not None and value < lo:
            raise self._fail(name, f"must be at least {lo}, got {value}")
        if hi is not None and value > hi:
            raise self._fail(name, f"must be at most {hi}, got {value}")
        return value

    def num(self, name: str, *, required: bool = True) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(name, f"must be a number, not {_json_kind(value)}")
        if not math.isfinite(value):
            raise self._fail(name, "must be a finite number")
        return float(value)

    def bool_(self, name: str, default: bool | None) -> bool:
        """``default=None`` makes the field required."""
        value = self._get(name, default is None)
        if value is None:
            assert default is not None
            return default
        if not isinstance(value, bool):
            raise self._fail(name, f"must be true or false, not {_json_kind(value)}")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> Any:
        value = self._get(name, default is None)
        if value is None:
            return default
        if value not in choices:
            raise self._fail(name, f"must be one of {', '.join(choices)}; got {value!r}"[:200])
        return value

    def agent_id(self, name: str = "agent_id") -> str:
        value: str = self.str_(name)
        if not AGENT_ID_RE.match(value):
            raise self._fail(
                name, "must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$ (1-128 characters)"
            )
        return value

    def argv(self, name: str) -> tuple[str, ...]:
        value = self._get(name, False)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(name, "must be a list of strings")
        return tuple(value)

    def labels(self, name: str) -> dict[str, str]:
        value = self._get(name, False)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self._fail(name, "must be an object of strings")
        return dict(value)

    def timestamp(self, name: str) -> Timestamp:
        value = self._get(name, True)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self._fail(name, f"must be a number or a string, not {_json_kind(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self._fail(name, "must be a finite number")
        return value

    def protocol(self) -> int:
        value: int = self.int_("protocol")
        return value

    def output_data(self) -> bytes:
        data: str = self.str_("data")
        enc = self._get("enc", False)
        if enc is None:
            try:
                return data.encode("utf-8")
            except UnicodeEncodeError:
                raise self._fail("data", "is not valid Unicode text (lone surrogate)") from None
        if enc != "base64":
            raise self._fail("enc", f"must be 'base64' when present, got {enc!r}"[:200])
        try:
            return base64.b64decode(data.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise self._fail("data", "is not valid base64") from None


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _ref(obj: Mapping[str, Any]) -> str | None:
    ref = obj.get("request_id")
    return ref if isinstance(ref, str) and len(ref) <= 128 else None


# --------------------------------------------------------------------------- validators
# One validator per message shape. ``_build_*`` reads a JSON object into a message.


def _build_agent_info(f: _Fields) -> AgentInfo:
    return AgentInfo(
        agent_id=f.agent_id(),
        name=f.str_("name"),
        host=f.str_("host"),
        command=f.argv("command"),
        labels=f.labels("labels"),
        pid=f.int_("pid", required=False),
        cols=f.int_("cols", lo=1, hi=1000),
        rows=f.int_("rows", lo=1, hi=1000),
        started_at=f.num("started_at"),
        state=f.choice("state", AGENT_INFO_STATES),
        exit_code=f.int_("exit_code", required=False),
        last_seen=f.num("last_seen"),
        offset=f.int_("offset", lo=0, hi=MAX_OFFSET),
    )


def _agent_info_from(obj: Any, type_: str) -> AgentInfo:
    if not isinstance(obj, dict):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, f"{type_}: an agent must be an object, not {_json_kind(obj)}"
        )
    return _build_agent_info(_Fields(type_, obj))


def _build_hello(f: _Fields) -> AgentHello:
    agent_id = f.agent_id()
    return AgentHello(
        protocol=f.protocol(),
        token=f.str_("token", required=False),
        agent_id=agent_id,
        name=f.str_("name", required=False) or agent_id,
        host=f.str_("host", required=False) or "",
        command=f.argv("command"),
        pid=f.int_("pid", required=False),
        cols=f.int_("cols", required=False, lo=1, hi=1000) or 80,
        rows=f.int_("rows", required=False, lo=1, hi=1000) or 24,
        started_at=f.num("started_at", required=False) or 0.0,
        labels=f.labels("labels"),
    )


def _build_agent_status(f: _Fields) -> AgentStatus:
    return AgentStatus(
        state=f.choice("state", AGENT_STATES),
        pid=f.int_("pid", required=False),
        cols=f.int_("cols", lo=1, hi=1000),
        rows=f.int_("rows", lo=1, hi=1000),
        exit_code=f.int_("exit_code", required=False),
        signal=f.str_("signal", required=False),
    )


def _build_output(f: _Fields) -> TerminalOutput:
    return TerminalOutput(
        agent_id=f.agent_id(), offset=f.int_("offset", lo=0, hi=MAX_OFFSET), data=f.output_data()
    )


def _build_ack(f: _Fields, with_agent: bool) -> CommandAck:
    return CommandAck(
        agent_id=f.agent_id() if with_agent else None,
        request_id=f.str_("request_id", max_len=128),
        ok=f.bool_("ok", default=None),
        error=f.str_("error", required=False),
    )


def _build_command(f: _Fields, with_agent: bool) -> CommandRequest:
    return CommandRequest(
        agent_id=f.agent_id() if with_agent else None,
        request_id=f.str_("request_id", max_len=128),
        input=f.str_("input"),
        submit=f.bool_("submit", default=True),
    )


def _build_input(f: _Fields, with_agent: bool) -> TerminalInput:
    return TerminalInput(agent_id=f.agent_id() if with_agent else None, data=f.str_("data"))


def _build_resize(f: _Fields, with_agent: bool) -> TerminalResize:
    return TerminalResize(
        agent_id=f.agent_id() if with_agent else None,
        cols=f.int_("cols", lo=1, hi=1000),
        rows=f.int_("rows", lo=1, hi=1000),
    )


def _build_interrupt(f: _Fields, with_agent: bool) -> CommandInterrupt:
    return CommandInterrupt(
        agent_id=f.agent_id() if with_agent else None,
        request_id=f.str_("request_id", max_len=128),
        signal=f.choice("signal", SIGNALS, default="SIGINT"),
    )


def _build_heartbeat(f: _Fields) -> Heartbeat:
    return Heartbeat(ts=f.timestamp("ts"))


def _build_error(f: _Fields) -> Error:
    code = f.choice("code", tuple(c.value for c in ErrorCode))
    retry = f.num("retry_after", required=False)
    return Error(
        code=ErrorCode(code),
        message=f.str_("message"),
        ref=f.str_("ref", required=False),
        retry_after=retry,
    )


def _build_connect(f: _Fields) -> DashboardConnect:
    return DashboardConnect(
        protocol=f.protocol(),
        token=f.str_("token", required=False),
        client=f.str_("client", required=False),
        binary=f.bool_("binary", default=False),
    )


def _build_connected(f: _Fields) -> DashboardConnected:
    agents = f.obj.get("agents")
    if not isinstance(agents, list):
        raise f._fail("agents", "must be a list")
    return DashboardConnected(
        session_id=f.str_("session_id"),
        sub=f.str_("sub"),
        role=f.choice("role", ROLES),
        protocol=f.protocol(),
        agents=tuple(_agent_info_from(a, f.type) for a in agents),
    )


def _build_subscribe(f: _Fields) -> Subscribe:
    return Subscribe(
        agent_id=f.agent_id(), since=f.int_("since", required=False, lo=0, hi=MAX_OFFSET)
    )


_Builder: TypeAlias = Callable[[_Fields], Message]

_BUILDERS: Final[dict[Direction, dict[str, _Builder]]] = {
    Direction.AGENT_TO_RELAY: {
        "agent:hello": _build_hello,
        "terminal:output": _build_output,
        "agent:status": _build_agent_status,
        "command:ack": lambda f: _build_ack(f, with_agent=False),
        "heartbeat": _build_heartbeat,
    },
    Direction.RELAY_TO_AGENT: {
        "agent:welcome": lambda f: AgentWelcome(
            agent_id=f.agent_id(), resume_from=f.int_("resume_from", lo=0, hi=MAX_OFFSET)
        ),
        "command:request": lambda f: _build_command(f, with_agent=False),
        "terminal:input": lambda f: _build_input(f, with_agent=False),
        "terminal:resize": lambda f: _build_resize(f, with_agent=False),
        "command:interrupt": lambda f: _build_interrupt(f, with_agent=False),
        "heartbeat": _build_heartbeat,
        "error": _build_error,
    },
    Direction.DASHBOARD_TO_RELAY: {
        "dashboard:connect": _build_connect,
        "subscribe": _build_subscribe,
        "unsubscribe": lambda f: Unsubscribe(agent_id=f.agent_id()),
        "command:request": lambda f: _build_command(f, with_agent=True),
        "terminal:input": lambda f: _build_input(f, with_agent=True),
        "terminal:resize": lambda f: _build_resize(f, with_agent=True),
        "command:interrupt": lambda f: _build_interrupt(f, with_agent=True),
        "heartbeat": _build_heartbeat,
    },
    Direction.RELAY_TO_DASHBOARD: {
        "dashboard:connected": _build_connected,
        "agent:status": lambda f: AgentStatusEvent(
            agent=_agent_info_from(f.obj.get("agent"), f.type)
        ),
        "agent:removed": lambda f: AgentRemoved(agent_id=f.agent_id()),
        "terminal:output": _build_output,
        "terminal:gap": lambda f: TerminalGap(
            agent_id=f.agent_id(),
            from_=f.int_("from", lo=0, hi=MAX_OFFSET),
            to=f.int_("to", lo=0, hi=MAX_OFFSET),
        ),
        "subscribed": lambda f: Subscribed(
            agent_id=f.agent_id(),
            from_=f.int_("from", lo=0, hi=MAX_OFFSET),
            offset=f.int_("offset", lo=0, hi=MAX_OFFSET),
        ),
        "unsubscribed": lambda f: Unsubscribed(agent_id=f.agent_id()),
        "command:ack": lambda f: _build_ack(f, with_agent=True),
        "heartbeat": _build_heartbeat,
        "error": _build_error,
    },
}


# --------------------------------------------------------------------------- decode


@dataclass(frozen=True, slots=True)
class Frame:
    """A parsed JSON object with a known ``type``; fields not yet validated."""

    type: str
    obj: Mapping[str, Any]
    direction: Direction

    @property
    def ref(self) -> str | None:
        return _ref(self.obj)

    def message(self) -> Message:
        """Validate the fields; raise :class:`ProtocolError` (``invalid_message``)."""
        return _BUILDERS[self.direction][self.type](_Fields(self.type, self.obj))


def parse(text: str | bytes, direction: Direction) -> Frame:
    """Check JSON, object shape and known type, in the contract's order."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.INVALID_JSON, "the frame is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, f"a message must be a JSON object, not {_json_kind(obj)}"
        )
    type_ = obj.get("type")
    if not isinstance(type_, str):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, "field 'type' is required and must be a string", _ref(obj)
        )
    if type_ not in _BUILDERS[direction]:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"unknown message type {type_[:64]!r}", _ref(obj)
        )
    return Frame(type=type_, obj=obj, direction=direction)


def decode(text: str | bytes, direction: Direction) -> Message:
    """Parse and validate one JSON text frame."""
    return parse(text, direction).message()


# --------------------------------------------------------------------------- encode


def output_fields(data: bytes) -> dict[str, str]:
    """``data`` (and ``enc`` when needed) for a chunk: UTF-8 text, else base64."""
    try:
        return {"data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"data": base64.b64encode(data).decode("ascii"), "enc": "base64"}


def agent_info_dict(info: AgentInfo) -> dict[str, Any]:
    return {
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
    }


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
            }
            _drop_none(d, "token")
        case AgentWelcome():
            d = {"agent_id": msg.agent_id, "resume_from": msg.resume_from}
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
        case DashboardConnected():
            d = {
                "session_id": msg.session_id,
                "sub": msg.sub,
                "role": msg.role,
                "protocol": msg.protocol,
                "agents": [agent_info_dict(a) for a in msg.agents],
            }
        case Subscribe():
            d = _drop_none({"agent_id": msg.agent_id, "since": msg.since}, "since")
        case Subscribed():
            d = {"agent_id": msg.agent_id, "from": msg.from_, "offset": msg.offset}
    return {"type": msg.TYPE, **d}


def encode(msg: Message) -> str:
    """One JSON text frame for a message."""
    return json.dumps(to_dict(msg), ensure_ascii=False, separators=(",", ":"))


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
    if not AGENT_ID_RE.match(agent_id):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "binary frame: invalid agent id")
    offset = int.from_bytes(frame[2 + n : 10 + n], "big")
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
