"""Protocol v1 vocabulary: constants, error and close codes, and one frozen dataclass per
message shape."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal, TypeAlias

PROTOCOL_VERSION: Final = 1
MAX_AGENT_ID_LENGTH: Final = 128
BINARY_OUTPUT_TAG: Final = 0x01
#: Offsets travel as 8-byte unsigned integers in binary frames; JSON ones stay below 2**63.
MAX_OFFSET: Final = 2**63 - 1
#: Ends in ``\Z``, not ``$``: ``$`` also matches before a trailing newline, which let a
#: look-alike id such as ``"ab-1\n"`` through. Use :func:`is_agent_id`.
AGENT_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")


def is_agent_id(value: str) -> bool:
    """Whether ``value`` is a whole, valid agent id (contract section 6)."""
    return AGENT_ID_RE.fullmatch(value) is not None


class ErrorCode(enum.StrEnum):
    """The ``code`` of an ``error`` message (contract section 4)."""

    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    FORBIDDEN = "forbidden"
    UNKNOWN_AGENT = "unknown_agent"
    AGENT_OFFLINE = "agent_offline"
    RATE_LIMITED = "rate_limited"
    STALE_DECISION = "stale_decision"  # (1.1) section 11


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

# --------------------------------------------------------------------------- activity (1.1)

ActivityState: TypeAlias = Literal["working", "waiting", "idle", "unknown"]
ActivityReason: TypeAlias = Literal[
    "permission", "question", "confirm", "password", "menu", "login", "other"
]
#: Equal to ``agent_sidecar.agents.AgentKind`` (a test keeps them equal; relay never
#: imports agent_sidecar).
AgentKind: TypeAlias = Literal["claude", "codex", "gemini", "aider", "shell", "other"]
ActivitySource: TypeAlias = Literal["hook", "escape", "screen", "process", "output"]
Decision: TypeAlias = Literal["allow", "deny"]

ACTIVITY_STATES: Final[tuple[str, ...]] = ("working", "waiting", "idle", "unknown")
ACTIVITY_REASONS: Final[tuple[str, ...]] = (
    "permission",
    "question",
    "confirm",
    "password",
    "menu",
    "login",
    "other",
)
AGENT_KINDS: Final[tuple[str, ...]] = ("claude", "codex", "gemini", "aider", "shell", "other")
ACTIVITY_SOURCES: Final[tuple[str, ...]] = ("hook", "escape", "screen", "process", "output")
DECISIONS: Final[tuple[str, ...]] = ("allow", "deny")

#: Bounds on activity texts. The prompt's is the contract's; the others are this
#: implementation's (docs/protocol.md).
MAX_PROMPT_CHARS: Final = 2000
MAX_DETAIL_CHARS: Final = 1000
MAX_OPTIONS: Final = 32
MAX_OPTION_LABEL_CHARS: Final = 200
MAX_OPTION_KEYS_CHARS: Final = 64
MAX_DECISION_ID_CHARS: Final = 128
MAX_DECISION_MESSAGE_CHARS: Final = 2000
#: Presence lists at most this many watchers; ``more`` counts the rest.
MAX_PRESENCE_WATCHERS: Final = 16
#: A watcher counts as typing this long after its last input-bearing message.
TYPING_SECONDS: Final = 5.0


@dataclass(frozen=True, slots=True)
class ActivityOption:
    """One choice an agent offers: what it says and the keystrokes that choose it."""

    label: str
    keys: str

    def __post_init__(self) -> None:
        if not 1 <= len(self.label) <= MAX_OPTION_LABEL_CHARS:
            raise _invalid("options", f"label must have 1 to {MAX_OPTION_LABEL_CHARS} characters")
        if not 1 <= len(self.keys) <= MAX_OPTION_KEYS_CHARS:
            raise _invalid("options", f"keys must have 1 to {MAX_OPTION_KEYS_CHARS} characters")


@dataclass(frozen=True, slots=True)
class Activity:
    """What the agent is doing, and whether it needs a person (contract section 11).

    Construction checks the rules, so a sidecar cannot build an activity the relay would
    refuse: ``reason`` is set exactly when waiting; ``prompt`` and ``options`` only when
    waiting; ``decision_id`` only when waiting for a permission; texts within their bounds.
    """

    state: ActivityState
    since: float
    agent_kind: AgentKind
    source: ActivitySource
    reason: ActivityReason | None = None
    prompt: str | None = None
    options: tuple[ActivityOption, ...] | None = None
    decision_id: str | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        _check_choice("state", self.state, ACTIVITY_STATES)
        _check_choice("agent_kind", self.agent_kind, AGENT_KINDS)
        _check_choice("source", self.source, ACTIVITY_SOURCES)
        if not math.isfinite(self.since):
            raise _invalid("since", "must be a finite number")
        waiting = self.state == "waiting"
        if waiting:
            if self.reason is None:
                raise _invalid("reason", "is required when state is waiting")
            _check_choice("reason", self.reason, ACTIVITY_REASONS)
        else:
            for name in ("reason", "prompt", "options", "decision_id"):
                if getattr(self, name) is not None:
                    raise _invalid(name, f"must be null unless state is waiting, not {self.state}")
        if self.decision_id is not None:
            if self.reason != "permission":
                raise _invalid("decision_id", "must be null unless reason is permission")
            if not 1 <= len(self.decision_id) <= MAX_DECISION_ID_CHARS:
                raise _invalid("decision_id", f"must have 1 to {MAX_DECISION_ID_CHARS} characters")
        if self.prompt is not None and len(self.prompt) > MAX_PROMPT_CHARS:
            raise _invalid("prompt", f"must have at most {MAX_PROMPT_CHARS} characters")
        if self.detail is not None and len(self.detail) > MAX_DETAIL_CHARS:
            raise _invalid("detail", f"must have at most {MAX_DETAIL_CHARS} characters")
        if self.options is not None and len(self.options) > MAX_OPTIONS:
            raise _invalid("options", f"must have at most {MAX_OPTIONS} entries")


def _invalid(name: str, what: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_MESSAGE, f"activity: field '{name}' {what}")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _invalid(name, f"must be one of {', '.join(choices)}; got {value!r}"[:200])


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """An agent as dashboards see it.

    ``state_since`` is not in the 1.0 contract (1.1 adds it): when the agent entered its
    current ``state`` as the relay saw it, epoch seconds; None when unknown (a record
    written by an older relay). Encoded only when set. ``signal`` (1.1) names the signal
    that ended the command, ``activity`` (1.1) is the sidecar's last report; both are
    encoded as null when unknown.
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
    signal: str | None = None
    activity: Activity | None = None
    #: Beyond the contract: True while a local terminal is attached to the sidecar
    #: (it sets the PTY's size and answers terminal queries); None when not reported.
    local_terminal: bool | None = None


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
    #: Beyond the contract (see AgentInfo.local_terminal); None: not reported.
    local_terminal: bool | None = None
    TYPE: ClassVar[str] = "agent:hello"


@dataclass(frozen=True, slots=True)
class AgentWelcome:
    agent_id: str
    resume_from: int
    #: (1.1 addition, documented in docs/protocol.md) the relay's --max-message-bytes:
    #: the sidecar sizes its frames by it. None: not told (an older relay).
    max_message_bytes: int | None = None
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
class AgentActivity:
    """(1.1) Sidecar -> relay: the agent's activity changed."""

    activity: Activity
    TYPE: ClassVar[str] = "agent:activity"


@dataclass(frozen=True, slots=True)
class PermissionDecide:
    """(1.1) Answer to a held permission request. From dashboards with ``agent_id``;
    towards the sidecar without it (and ``message`` always present, null when none)."""

    request_id: str
    decision_id: str
    decision: Decision
    message: str | None = None
    agent_id: str | None = None
    TYPE: ClassVar[str] = "permission:decide"


@dataclass(frozen=True, slots=True)
class PresenceWatcher:
    """One identity (``sub`` with a ``role``) watching or typing into an agent.

    ``connections``: how many of its dashboard connections are subscribed to the agent
    (0: it sent input without subscribing). ``typing``: it sent an input-bearing message
    in the last :data:`TYPING_SECONDS`, as of when the message was sent. ``last_input``
    is that message's type and ``last_input_at`` its time (relay clock), or both null.
    """

    sub: str
    role: Role
    connections: int
    typing: bool = False
    last_input: str | None = None
    last_input_at: float | None = None


@dataclass(frozen=True, slots=True)
class AgentPresence:
    """(1.1 addition, docs/protocol.md) Relay -> dashboards subscribed to ``agent_id``:
    who watches the agent and who types into it; ``more`` counts watchers not listed."""

    agent_id: str
    watchers: tuple[PresenceWatcher, ...]
    more: int = 0
    TYPE: ClassVar[str] = "agent:presence"


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
    #: (1.1 addition) send this dashboard ``agent:presence`` for the agents it watches.
    presence: bool = False
    TYPE: ClassVar[str] = "dashboard:connect"


@dataclass(frozen=True, slots=True)
class InputLimit:
    """(Addition, docs/protocol.md) The rate limit of this dashboard connection's
    input-bearing messages: ``rate`` per second sustained, bursts of ``burst``."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class DashboardConnected:
    session_id: str
    sub: str
    role: Role
    agents: tuple[AgentInfo, ...]
    protocol: int = PROTOCOL_VERSION
    #: (Addition) the connection's input rate limit, so a client can pace its input.
    input_limit: InputLimit | None = None
    TYPE: ClassVar[str] = "dashboard:connected"


@dataclass(frozen=True, slots=True)
class Subscribe:
    agent_id: str
    since: int | None = None
    request_id: str | None = None  # (1.1) the ``ref`` of errors about this subscribe
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
    | AgentActivity
    | PermissionDecide
    | AgentPresence
)

#: Dashboard messages that spend a rate-limit token (contract section 4).
INPUT_BEARING_TYPES: Final = frozenset(
    {
        "command:request",
        "terminal:input",
        "terminal:resize",
        "command:interrupt",
        "permission:decide",
    }
)
