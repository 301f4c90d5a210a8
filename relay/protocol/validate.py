"""Field validation: one reader per JSON field kind and one builder per message shape, so
every failure names the field and carries the contract's error code."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeAlias, TypeVar

from relay.protocol.messages import (
    ACTIVITY_REASONS,
    ACTIVITY_SOURCES,
    ACTIVITY_STATES,
    AGENT_INFO_STATES,
    AGENT_KINDS,
    AGENT_STATES,
    DECISIONS,
    MAX_DECISION_ID_CHARS,
    MAX_DECISION_MESSAGE_CHARS,
    MAX_OFFSET,
    MAX_OPTIONS,
    MAX_PRESENCE_WATCHERS,
    ROLES,
    SIGNALS,
    Activity,
    ActivityOption,
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
    InputLimit,
    Message,
    PermissionDecide,
    PresenceWatcher,
    ProtocolError,
    Subscribe,
    Subscribed,
    TerminalGap,
    TerminalInput,
    TerminalOutput,
    TerminalResize,
    Timestamp,
    Unsubscribe,
    Unsubscribed,
    is_agent_id,
)

# --------------------------------------------------------------------------- field readers


class Fields:
    """Typed access to a JSON object's fields; every failure names the field."""

    __slots__ = ("obj", "type")

    def __init__(self, type_: str, obj: Mapping[str, Any]) -> None:
        self.type = type_
        self.obj = obj

    def _fail(self, name: str, what: str) -> ProtocolError:
        return ProtocolError(
            ErrorCode.INVALID_MESSAGE, f"{self.type}: field '{name}' {what}", request_ref(self.obj)
        )

    def _get(self, name: str, required: bool) -> Any:
        if name not in self.obj or self.obj[name] is None:
            if required:
                raise self._fail(name, "is required")
            return None
        return self.obj[name]

    def str_(
        self, name: str, *, required: bool = True, max_len: int | None = None, min_len: int = 1
    ) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(name, f"must be a string, not {json_kind(value)}")
        if max_len is not None and not min_len <= len(value) <= max_len:
            raise self._fail(name, f"must have {min_len} to {max_len} characters")
        return value

    def obj_(self, name: str, *, required: bool = True) -> Fields | None:
        """A nested object, read with the same type name (so errors name the message)."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._fail(name, f"must be an object, not {json_kind(value)}")
        return Fields(self.type, value)

    def list_(self, name: str, *, required: bool = True, max_len: int) -> list[Any] | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._fail(name, f"must be a list, not {json_kind(value)}")
        if len(value) > max_len:
            raise self._fail(name, f"must have at most {max_len} entries")
        return value

    def int_(
        self, name: str, *, required: bool = True, lo: int | None = None, hi: int | None = None
    ) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(name, f"must be an integer, not {json_kind(value)}")
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
            raise self._fail(name, f"must be a number, not {json_kind(value)}")
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
            raise self._fail(name, f"must be true or false, not {json_kind(value)}")
        return value

    def choice(
        self,
        name: str,
        choices: tuple[str, ...],
        default: str | None = None,
        *,
        required: bool = True,
    ) -> Any:
        value = self._get(name, required and default is None)
        if value is None:
            return default
        if value not in choices:
            raise self._fail(name, f"must be one of {', '.join(choices)}; got {value!r}"[:200])
        return value

    def agent_id(self, name: str = "agent_id") -> str:
        value: str = self.str_(name)
        if not is_agent_id(value):
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
            raise self._fail(name, f"must be a number or a string, not {json_kind(value)}")
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


def json_kind(value: object) -> str:
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


def request_ref(obj: Mapping[str, Any]) -> str | None:
    ref = obj.get("request_id")
    return ref if isinstance(ref, str) and len(ref) <= 128 else None


# --------------------------------------------------------------------------- validators
# One validator per message shape. ``_build_*`` reads a JSON object into a message.


def _build_option(f: Fields, value: Any) -> ActivityOption:
    if not isinstance(value, dict):
        raise f._fail("options", f"entries must be objects, not {json_kind(value)}")
    item = Fields(f.type, value)
    return _construct(f, lambda: ActivityOption(label=item.str_("label"), keys=item.str_("keys")))


def build_activity(f: Fields) -> Activity:
    """``f`` is the activity object; the rules between fields are Activity's own."""
    options = f.list_("options", required=False, max_len=MAX_OPTIONS)
    return _construct(
        f,
        lambda: Activity(
            state=f.choice("state", ACTIVITY_STATES),
            since=f.num("since"),
            agent_kind=f.choice("agent_kind", AGENT_KINDS),
            source=f.choice("source", ACTIVITY_SOURCES),
            reason=f.choice("reason", ACTIVITY_REASONS, required=False),
            prompt=f.str_("prompt", required=False),
            options=None if options is None else tuple(_build_option(f, o) for o in options),
            decision_id=f.str_("decision_id", required=False, max_len=MAX_DECISION_ID_CHARS),
            detail=f.str_("detail", required=False),
        ),
    )


_T = TypeVar("_T")


def _construct(f: Fields, build: Callable[[], _T]) -> _T:
    """Run a constructor whose own checks raise ProtocolError; name the message and
    carry the frame's ``ref``."""
    try:
        return build()
    except ProtocolError as exc:
        if exc.ref is not None or not exc.message.startswith("activity: "):
            raise
        raise ProtocolError(exc.code, f"{f.type}: {exc.message}", request_ref(f.obj)) from None


def _build_agent_info(f: Fields) -> AgentInfo:
    activity = f.obj_("activity", required=False)
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
        state_since=f.num("state_since", required=False),
        signal=f.str_("signal", required=False),
        activity=None if activity is None else build_activity(activity),
        local_terminal=_opt_bool(f, "local_terminal"),
    )


def _opt_bool(f: Fields, name: str) -> bool | None:
    """An optional boolean beyond the contract: None when absent or null."""
    return None if f.obj.get(name) is None else f.bool_(name, False)


def _agent_info_from(obj: Any, type_: str) -> AgentInfo:
    if not isinstance(obj, dict):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, f"{type_}: an agent must be an object, not {json_kind(obj)}"
        )
    return _build_agent_info(Fields(type_, obj))


def _build_hello(f: Fields) -> AgentHello:
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
        local_terminal=_opt_bool(f, "local_terminal"),
    )


def _build_agent_status(f: Fields) -> AgentStatus:
    return AgentStatus(
        state=f.choice("state", AGENT_STATES),
        pid=f.int_("pid", required=False),
        cols=f.int_("cols", lo=1, hi=1000),
        rows=f.int_("rows", lo=1, hi=1000),
        exit_code=f.int_("exit_code", required=False),
        signal=f.str_("signal", required=False),
    )


def _build_output(f: Fields) -> TerminalOutput:
    return TerminalOutput(
        agent_id=f.agent_id(), offset=f.int_("offset", lo=0, hi=MAX_OFFSET), data=f.output_data()
    )


def _build_ack(f: Fields, with_agent: bool) -> CommandAck:
    return CommandAck(
        agent_id=f.agent_id() if with_agent else None,
        request_id=f.str_("request_id", max_len=128),
        ok=f.bool_("ok", default=None),
        error=f.str_("error", required=False),
    )


def _build_command(f: Fields, with_agent: bool) -> CommandRequest:
    return CommandRequest(
        agent_id=f.agent_id() if with_agent else None,
        request_id=f.str_("request_id", max_len=128),
        input=f.str_("input"),
        submit=f.bool_("submit", default=True),
    )


def _build_input(f: Fields, with_agent: bool) -> TerminalInput:
    return TerminalInput(agent_id=f.agent_id() if with_agent else None, data=f.str_("data"))


def _build_resize(f: Fields, with_agent: bool) -> TerminalResize:
    return TerminalResize(
        agent_id=f.agent_id() if with_agent else None,
        cols=f.int_("cols", lo=1, hi=1000),
        rows=f.int_("rows", lo=1, hi=1000),
    )


def _build_interrupt(f: Fields, with_agent: bool) -> CommandInterrupt:
    return CommandInterrupt(
        agent_id=f.agent_id() if with_agent else None,
        request_id=f.str_("request_id", max_len=128),
        signal=f.choice("signal", SIGNALS, default="SIGINT"),
    )


def _build_heartbeat(f: Fields) -> Heartbeat:
    return Heartbeat(ts=f.timestamp("ts"))


def _build_error(f: Fields) -> Error:
    code = f.choice("code", tuple(c.value for c in ErrorCode))
    retry = f.num("retry_after", required=False)
    return Error(
        code=ErrorCode(code),
        message=f.str_("message"),
        ref=f.str_("ref", required=False),
        retry_after=retry,
    )


def _build_connect(f: Fields) -> DashboardConnect:
    return DashboardConnect(
        protocol=f.protocol(),
        token=f.str_("token", required=False),
        client=f.str_("client", required=False),
        binary=f.bool_("binary", default=False),
        presence=f.bool_("presence", default=False),
    )


def _build_connected(f: Fields) -> DashboardConnected:
    agents = f.obj.get("agents")
    if not isinstance(agents, list):
        raise f._fail("agents", "must be a list")
    limit = f.obj_("input_limit", required=False)
    return DashboardConnected(
        session_id=f.str_("session_id"),
        sub=f.str_("sub"),
        role=f.choice("role", ROLES),
        protocol=f.protocol(),
        agents=tuple(_agent_info_from(a, f.type) for a in agents),
        input_limit=None if limit is None else InputLimit(
            rate=limit.num("rate"), burst=limit.int_("burst", lo=1)
        ),
    )


def _build_subscribe(f: Fields) -> Subscribe:
    return Subscribe(
        agent_id=f.agent_id(),
        since=f.int_("since", required=False, lo=0, hi=MAX_OFFSET),
        request_id=f.str_("request_id", required=False, max_len=128),
    )


def _build_agent_activity(f: Fields) -> AgentActivity:
    activity = f.obj_("activity")
    assert activity is not None
    return AgentActivity(activity=build_activity(activity))


def _build_decide(f: Fields, with_agent: bool) -> PermissionDecide:
    return PermissionDecide(
        agent_id=f.agent_id() if with_agent else None,
        request_id=f.str_("request_id", max_len=128),
        decision_id=f.str_("decision_id", max_len=MAX_DECISION_ID_CHARS),
        decision=f.choice("decision", DECISIONS),
        message=f.str_("message", required=False, max_len=MAX_DECISION_MESSAGE_CHARS, min_len=0),
    )


def _build_watcher(f: Fields, value: Any) -> PresenceWatcher:
    if not isinstance(value, dict):
        raise f._fail("watchers", f"entries must be objects, not {json_kind(value)}")
    w = Fields(f.type, value)
    return PresenceWatcher(
        sub=w.str_("sub"),
        role=w.choice("role", ROLES),
        connections=w.int_("connections", lo=0),
        typing=w.bool_("typing", default=False),
        last_input=w.str_("last_input", required=False),
        last_input_at=w.num("last_input_at", required=False),
    )


def _build_presence(f: Fields) -> AgentPresence:
    watchers = f.list_("watchers", max_len=MAX_PRESENCE_WATCHERS)
    assert watchers is not None
    return AgentPresence(
        agent_id=f.agent_id(),
        watchers=tuple(_build_watcher(f, w) for w in watchers),
        more=f.int_("more", required=False, lo=0) or 0,
    )


Builder: TypeAlias = Callable[[Fields], Message]

BUILDERS: Final[dict[Direction, dict[str, Builder]]] = {
    Direction.AGENT_TO_RELAY: {
        "agent:hello": _build_hello,
        "terminal:output": _build_output,
        "agent:status": _build_agent_status,
        "command:ack": lambda f: _build_ack(f, with_agent=False),
        "heartbeat": _build_heartbeat,
        "agent:activity": _build_agent_activity,
    },
    Direction.RELAY_TO_AGENT: {
        "agent:welcome": lambda f: AgentWelcome(
            agent_id=f.agent_id(),
            resume_from=f.int_("resume_from", lo=0, hi=MAX_OFFSET),
            max_message_bytes=f.int_("max_message_bytes", required=False, lo=1, hi=MAX_OFFSET),
        ),
        "command:request": lambda f: _build_command(f, with_agent=False),
        "terminal:input": lambda f: _build_input(f, with_agent=False),
        "terminal:resize": lambda f: _build_resize(f, with_agent=False),
        "command:interrupt": lambda f: _build_interrupt(f, with_agent=False),
        "permission:decide": lambda f: _build_decide(f, with_agent=False),
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
        "permission:decide": lambda f: _build_decide(f, with_agent=True),
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
        "agent:presence": _build_presence,
    },
}
