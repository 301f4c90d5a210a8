"""Protocol v1 vocabulary: constants, error and close codes, and one frozen dataclass per
message shape."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal, TypeAlias

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
    """An agent as dashboards see it.

    ``state_since`` is not in the contract (an addition its section 1 allows): when the
    agent entered its current ``state`` as the relay saw it, epoch seconds; None when
    unknown (a record written by an older relay). Encoded only when set.
    """

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
    state_since: float | None = None


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
