"""The sans-I/O protocol module: tables in both directions, invalid inputs, properties."""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
import typing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.protocol import (
    ACTIVITY_REASONS,
    ACTIVITY_SOURCES,
    ACTIVITY_STATES,
    AGENT_KINDS,
    INPUT_BEARING_TYPES,
    Activity,
    ActivityOption,
    AgentActivity,
    AgentHello,
    AgentInfo,
    AgentKind,
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
    PresenceWatcher,
    ProtocolError,
    Subscribe,
    Subscribed,
    TerminalGap,
    TerminalInput,
    TerminalOutput,
    TerminalResize,
    Unsubscribe,
    Unsubscribed,
    Utf8Chunker,
    decode,
    decode_binary_output,
    encode,
    encode_binary_output,
    encode_terminal_input,
    parse,
    prepared,
    utf8_cut,
)

A2R = Direction.AGENT_TO_RELAY
R2A = Direction.RELAY_TO_AGENT
D2R = Direction.DASHBOARD_TO_RELAY
R2D = Direction.RELAY_TO_DASHBOARD

INFO = AgentInfo(
    agent_id="build-1",
    name="build",
    host="ci-7",
    command=("make", "-j4"),
    labels={"team": "infra"},
    pid=4242,
    cols=120,
    rows=40,
    started_at=1700000000.5,
    state="running",
    exit_code=None,
    last_seen=1700000100.25,
    offset=1234,
)
INFO_JSON: dict[str, Any] = {
    "agent_id": "build-1",
    "name": "build",
    "host": "ci-7",
    "command": ["make", "-j4"],
    "labels": {"team": "infra"},
    "pid": 4242,
    "cols": 120,
    "rows": 40,
    "started_at": 1700000000.5,
    "state": "running",
    "exit_code": None,
    "last_seen": 1700000100.25,
    "offset": 1234,
    "signal": None,
    "activity": None,
}
#: With ``state_since`` (an addition beyond the contract, encoded only when set).
IDLE = dataclasses.replace(INFO, state="idle", state_since=1700000090.75)
IDLE_JSON: dict[str, Any] = {**INFO_JSON, "state": "idle", "state_since": 1700000090.75}

#: (1.1) An agent waiting for a permission, and one that ended by a signal.
WAITING = Activity(
    state="waiting",
    since=1700000095.5,
    agent_kind="claude",
    source="hook",
    reason="permission",
    prompt="Allow Bash: rm -rf build?",
    options=(ActivityOption("Yes", "1"), ActivityOption("No, and tell Claude", "\x1b")),
    decision_id="d-17",
    detail="Bash: rm -rf build",
)
WAITING_JSON: dict[str, Any] = {
    "state": "waiting",
    "since": 1700000095.5,
    "reason": "permission",
    "prompt": "Allow Bash: rm -rf build?",
    "options": [{"label": "Yes", "keys": "1"}, {"label": "No, and tell Claude", "keys": "\x1b"}],
    "decision_id": "d-17",
    "detail": "Bash: rm -rf build",
    "agent_kind": "claude",
    "source": "hook",
}
WORKING = Activity(state="working", since=5.0, agent_kind="shell", source="process",
                   detail="make -j4")
WORKING_JSON: dict[str, Any] = {
    "state": "working", "since": 5.0, "reason": None, "prompt": None, "options": None,
    "decision_id": None, "detail": "make -j4", "agent_kind": "shell", "source": "process",
}
NEEDY = dataclasses.replace(INFO, state_since=1700000095.5, activity=WAITING)
NEEDY_JSON: dict[str, Any] = {**INFO_JSON, "state_since": 1700000095.5, "activity": WAITING_JSON}
#: With ``local_terminal`` (beyond the contract, encoded only when known).
HEADLESS = dataclasses.replace(INFO, local_terminal=False)
HEADLESS_JSON: dict[str, Any] = {**INFO_JSON, "local_terminal": False}
KILLED = dataclasses.replace(INFO, state="exited", exit_code=130, signal="SIGINT")
KILLED_JSON: dict[str, Any] = {**INFO_JSON, "state": "exited", "exit_code": 130,
                               "signal": "SIGINT"}

# (direction, message, its JSON object) — used in both directions.
TABLE: list[tuple[Direction, Message, dict[str, Any]]] = [
    (
        A2R,
        AgentHello(
            agent_id="a1", name="claude", host="dev", command=("claude",), pid=10,
            cols=80, rows=24, started_at=1.5, labels={"k": "v"}, token="t" * 40,
        ),
        {
            "type": "agent:hello", "protocol": 1, "token": "t" * 40, "agent_id": "a1",
            "name": "claude", "host": "dev", "command": ["claude"], "pid": 10, "cols": 80,
            "rows": 24, "started_at": 1.5, "labels": {"k": "v"},
        },
    ),
    (
        A2R,
        AgentHello(
            agent_id="a2", name="a2", host="", command=(), pid=None, cols=160, rows=40,
            started_at=0.0, local_terminal=True,
        ),
        {
            "type": "agent:hello", "protocol": 1, "agent_id": "a2", "name": "a2",
            "host": "", "command": [], "pid": None, "cols": 160, "rows": 40,
            "started_at": 0.0, "labels": {}, "local_terminal": True,
        },
    ),
    (A2R, TerminalOutput("a1", 0, b"hello\r\n"),
     {"type": "terminal:output", "agent_id": "a1", "offset": 0, "data": "hello\r\n"}),
    (A2R, TerminalOutput("a1", 7, b"\xff\xfe"),
     {"type": "terminal:output", "agent_id": "a1", "offset": 7, "data": "//4=", "enc": "base64"}),
    (A2R, AgentStatus("running", 10, 80, 24),
     {"type": "agent:status", "state": "running", "pid": 10, "cols": 80, "rows": 24}),
    (A2R, AgentStatus("exited", 10, 80, 24, exit_code=130, signal="SIGINT"),
     {"type": "agent:status", "state": "exited", "pid": 10, "cols": 80, "rows": 24,
      "exit_code": 130, "signal": "SIGINT"}),
    (A2R, CommandAck("r1", True), {"type": "command:ack", "request_id": "r1", "ok": True}),
    (A2R, CommandAck("r1", False, error="pty closed"),
     {"type": "command:ack", "request_id": "r1", "ok": False, "error": "pty closed"}),
    (A2R, Heartbeat(12.5), {"type": "heartbeat", "ts": 12.5}),
    (R2A, AgentWelcome("a1", 99), {"type": "agent:welcome", "agent_id": "a1", "resume_from": 99}),
    (R2A, AgentWelcome("a1", 99, max_message_bytes=65536),
     {"type": "agent:welcome", "agent_id": "a1", "resume_from": 99, "max_message_bytes": 65536}),
    (R2A, CommandRequest("r1", "ls -l"),
     {"type": "command:request", "request_id": "r1", "input": "ls -l", "submit": True}),
    (R2A, TerminalInput("\x1b[A"), {"type": "terminal:input", "data": "\x1b[A"}),
    (R2A, TerminalResize(100, 30), {"type": "terminal:resize", "cols": 100, "rows": 30}),
    (R2A, CommandInterrupt("r2", "SIGTERM"),
     {"type": "command:interrupt", "request_id": "r2", "signal": "SIGTERM"}),
    (R2A, Error(ErrorCode.UNKNOWN_TYPE, "unknown message type 'x'"),
     {"type": "error", "code": "unknown_type", "message": "unknown message type 'x'", "ref": None}),
    (D2R, DashboardConnect(token="t" * 40, client="web", binary=True),
     {"type": "dashboard:connect", "protocol": 1, "token": "t" * 40, "client": "web",
      "binary": True}),
    (D2R, DashboardConnect(), {"type": "dashboard:connect", "protocol": 1}),
    (D2R, DashboardConnect(presence=True),
     {"type": "dashboard:connect", "protocol": 1, "presence": True}),
    (D2R, Subscribe("a1"), {"type": "subscribe", "agent_id": "a1"}),
    (D2R, Subscribe("a1", since=0), {"type": "subscribe", "agent_id": "a1", "since": 0}),
    (D2R, Unsubscribe("a1"), {"type": "unsubscribe", "agent_id": "a1"}),
    (D2R, CommandRequest("r1", "make", submit=False, agent_id="a1"),
     {"type": "command:request", "agent_id": "a1", "request_id": "r1", "input": "make",
      "submit": False}),
    (D2R, TerminalInput("q", agent_id="a1"),
     {"type": "terminal:input", "agent_id": "a1", "data": "q"}),
    (D2R, TerminalResize(1, 1000, agent_id="a1"),
     {"type": "terminal:resize", "agent_id": "a1", "cols": 1, "rows": 1000}),
    (D2R, CommandInterrupt("r3", agent_id="a1"),
     {"type": "command:interrupt", "agent_id": "a1", "request_id": "r3", "signal": "SIGINT"}),
    (D2R, Heartbeat("abc"), {"type": "heartbeat", "ts": "abc"}),
    (R2D, DashboardConnected("s1", "alice", "operator", (INFO,)),
     {"type": "dashboard:connected", "session_id": "s1", "sub": "alice", "role": "operator",
      "protocol": 1, "agents": [INFO_JSON]}),
    (R2D, AgentStatusEvent(INFO), {"type": "agent:status", "agent": INFO_JSON}),
    (R2D, AgentStatusEvent(IDLE), {"type": "agent:status", "agent": IDLE_JSON}),
    (R2D, DashboardConnected("s1", "bob", "viewer", (INFO, IDLE)),
     {"type": "dashboard:connected", "session_id": "s1", "sub": "bob", "role": "viewer",
      "protocol": 1, "agents": [INFO_JSON, IDLE_JSON]}),
    (R2D, AgentRemoved("a1"), {"type": "agent:removed", "agent_id": "a1"}),
    (R2D, TerminalGap("a1", 10, 20), {"type": "terminal:gap", "agent_id": "a1", "from": 10, "to": 20}),
    (R2D, Subscribed("a1", 0, 55), {"type": "subscribed", "agent_id": "a1", "from": 0, "offset": 55}),
    (R2D, Unsubscribed("a1"), {"type": "unsubscribed", "agent_id": "a1"}),
    (R2D, CommandAck("r1", True, agent_id="a1"),
     {"type": "command:ack", "agent_id": "a1", "request_id": "r1", "ok": True}),
    (R2D, Error(ErrorCode.RATE_LIMITED, "too many input messages", "r9", 0.02),
     {"type": "error", "code": "rate_limited", "message": "too many input messages", "ref": "r9",
      "retry_after": 0.02}),
    # ---- 1.1
    (A2R, AgentActivity(WAITING), {"type": "agent:activity", "activity": WAITING_JSON}),
    (A2R, AgentActivity(WORKING), {"type": "agent:activity", "activity": WORKING_JSON}),
    (A2R, AgentActivity(Activity("idle", 7.25, "codex", "screen")),
     {"type": "agent:activity", "activity": {
         "state": "idle", "since": 7.25, "reason": None, "prompt": None, "options": None,
         "decision_id": None, "detail": None, "agent_kind": "codex", "source": "screen"}}),
    (A2R, AgentActivity(Activity("waiting", 8.0, "other", "screen", reason="password",
                                 prompt="Password:")),
     {"type": "agent:activity", "activity": {
         "state": "waiting", "since": 8.0, "reason": "password", "prompt": "Password:",
         "options": None, "decision_id": None, "detail": None, "agent_kind": "other",
         "source": "screen"}}),
    (D2R, PermissionDecide("r5", "d-17", "allow", agent_id="a1"),
     {"type": "permission:decide", "agent_id": "a1", "request_id": "r5", "decision_id": "d-17",
      "decision": "allow"}),
    (D2R, PermissionDecide("r6", "d-17", "deny", message="use make clean", agent_id="a1"),
     {"type": "permission:decide", "agent_id": "a1", "request_id": "r6", "decision_id": "d-17",
      "decision": "deny", "message": "use make clean"}),
    (R2A, PermissionDecide("x9", "d-17", "allow"),
     {"type": "permission:decide", "request_id": "x9", "decision_id": "d-17",
      "decision": "allow", "message": None}),
    (R2A, PermissionDecide("x9", "d-17", "deny", message=""),
     {"type": "permission:decide", "request_id": "x9", "decision_id": "d-17",
      "decision": "deny", "message": ""}),
    (D2R, Subscribe("a1", since=3, request_id="s1"),
     {"type": "subscribe", "agent_id": "a1", "since": 3, "request_id": "s1"}),
    (R2D, AgentStatusEvent(NEEDY), {"type": "agent:status", "agent": NEEDY_JSON}),
    (R2D, AgentStatusEvent(KILLED), {"type": "agent:status", "agent": KILLED_JSON}),
    (R2D, AgentStatusEvent(HEADLESS), {"type": "agent:status", "agent": HEADLESS_JSON}),
    (R2D, Error(ErrorCode.STALE_DECISION, "decision d-1 is no longer pending", "r5"),
     {"type": "error", "code": "stale_decision", "message": "decision d-1 is no longer pending",
      "ref": "r5"}),
    (R2D, AgentPresence("a1", (
        PresenceWatcher("alice", "operator", 2, typing=True, last_input="terminal:input",
                        last_input_at=1700000101.5),
        PresenceWatcher("bob", "viewer", 1),
    ), more=3),
     {"type": "agent:presence", "agent_id": "a1", "watchers": [
         {"sub": "alice", "role": "operator", "connections": 2, "typing": True,
          "last_input": "terminal:input", "last_input_at": 1700000101.5},
         {"sub": "bob", "role": "viewer", "connections": 1, "typing": False,
          "last_input": None, "last_input_at": None}], "more": 3}),
    (R2D, AgentPresence("a1", ()),
     {"type": "agent:presence", "agent_id": "a1", "watchers": [], "more": 0}),
]


@pytest.mark.parametrize(("direction", "message", "obj"), TABLE)
def test_encode_gives_the_contract_json(direction: Direction, message: Message, obj: dict[str, Any]) -> None:
    assert json.loads(encode(message)) == obj


@pytest.mark.parametrize(("direction", "message", "obj"), TABLE)
def test_decode_gives_the_typed_message(direction: Direction, message: Message, obj: dict[str, Any]) -> None:
    assert decode(json.dumps(obj), direction) == message


def test_a_prepared_frame_decodes_to_its_message_only_in_its_direction() -> None:
    message = TerminalInput(data="x")
    text = encode_terminal_input("x")
    frame = prepared(text, message, Direction.RELAY_TO_AGENT)
    assert frame == text  # to a socket it is the text
    assert decode(frame, Direction.RELAY_TO_AGENT) is message
    with pytest.raises(ProtocolError):  # elsewhere it is parsed like any text
        decode(frame, Direction.AGENT_TO_RELAY)


def test_unknown_fields_are_ignored() -> None:
    text = json.dumps({"type": "subscribe", "agent_id": "a1", "future": [1, 2]})
    assert decode(text, D2R) == Subscribe("a1")


def test_agent_info_without_state_since_decodes_with_none() -> None:
    """What a relay from before ``state_since`` sends still decodes."""
    msg = decode(json.dumps({"type": "agent:status", "agent": INFO_JSON}), R2D)
    assert msg == AgentStatusEvent(INFO)
    assert INFO.state_since is None
    assert "state_since" not in json.loads(encode(msg))["agent"]


def test_an_integer_state_since_decodes_as_a_float() -> None:
    msg = decode(json.dumps({"type": "agent:status", "agent": {**INFO_JSON, "state_since": 7}}),
                 R2D)
    assert isinstance(msg, AgentStatusEvent)
    assert msg.agent.state_since == 7.0


def test_defaults_apply_when_optional_fields_are_absent() -> None:
    assert decode('{"type":"command:request","request_id":"r","input":"x"}', R2A) == CommandRequest(
        "r", "x", submit=True
    )
    assert decode('{"type":"command:interrupt","request_id":"r"}', R2A) == CommandInterrupt("r")


def test_hello_with_only_the_identity_fields_gets_readable_defaults() -> None:
    hello = decode('{"type":"agent:hello","protocol":1,"agent_id":"a1"}', A2R)
    assert isinstance(hello, AgentHello)
    assert (hello.name, hello.cols, hello.rows, hello.command, hello.labels) == ("a1", 80, 24, (), {})


def test_tokens_stay_out_of_reprs() -> None:
    secret = "s3cr3t-" * 8
    assert secret not in repr(DashboardConnect(token=secret))
    assert secret not in repr(AgentHello("a", "a", "h", (), 1, 80, 24, 0.0, token=secret))


INVALID: list[tuple[Direction, str, ErrorCode, str]] = [
    (D2R, "{not json", ErrorCode.INVALID_JSON, "not valid JSON"),
    (D2R, "", ErrorCode.INVALID_JSON, "not valid JSON"),
    (D2R, "[1,2]", ErrorCode.INVALID_MESSAGE, "JSON object"),
    (D2R, '"subscribe"', ErrorCode.INVALID_MESSAGE, "JSON object"),
    (D2R, "{}", ErrorCode.INVALID_MESSAGE, "'type'"),
    (D2R, '{"type": 5}', ErrorCode.INVALID_MESSAGE, "'type'"),
    (D2R, '{"type": "nope"}', ErrorCode.UNKNOWN_TYPE, "'nope'"),
    (D2R, '{"type": "agent:hello", "protocol": 1, "agent_id": "a"}', ErrorCode.UNKNOWN_TYPE, "agent:hello"),
    (A2R, '{"type": "subscribe", "agent_id": "a"}', ErrorCode.UNKNOWN_TYPE, "subscribe"),
    (D2R, '{"type": "subscribe"}', ErrorCode.INVALID_MESSAGE, "'agent_id' is required"),
    (D2R, '{"type": "subscribe", "agent_id": 7}', ErrorCode.INVALID_MESSAGE, "'agent_id' must be a string"),
    (D2R, '{"type": "subscribe", "agent_id": "-bad"}', ErrorCode.INVALID_MESSAGE, "'agent_id' must match"),
    (D2R, '{"type": "subscribe", "agent_id": "ab-1\\n"}', ErrorCode.INVALID_MESSAGE, "'agent_id' must match"),
    (R2A, '{"type": "agent:welcome", "agent_id": "a", "resume_from": 0, "max_message_bytes": 0}', ErrorCode.INVALID_MESSAGE, "'max_message_bytes'"),
    (D2R, '{"type": "subscribe", "agent_id": "' + "a" * 129 + '"}', ErrorCode.INVALID_MESSAGE, "'agent_id'"),
    (D2R, '{"type": "subscribe", "agent_id": "a", "since": -1}', ErrorCode.INVALID_MESSAGE, "'since' must be at least 0"),
    (D2R, '{"type": "subscribe", "agent_id": "a", "since": 1.5}', ErrorCode.INVALID_MESSAGE, "'since' must be an integer"),
    (D2R, '{"type": "subscribe", "agent_id": "a", "since": true}', ErrorCode.INVALID_MESSAGE, "'since' must be an integer"),
    (D2R, '{"type": "terminal:resize", "agent_id": "a", "cols": 0, "rows": 5}', ErrorCode.INVALID_MESSAGE, "'cols'"),
    (D2R, '{"type": "terminal:resize", "agent_id": "a", "cols": 5, "rows": 1001}', ErrorCode.INVALID_MESSAGE, "'rows'"),
    (D2R, '{"type": "command:request", "agent_id": "a", "request_id": "", "input": "x"}', ErrorCode.INVALID_MESSAGE, "'request_id'"),
    (D2R, '{"type": "command:request", "agent_id": "a", "request_id": "r", "input": 3}', ErrorCode.INVALID_MESSAGE, "'input'"),
    (D2R, '{"type": "command:request", "agent_id": "a", "request_id": "r", "input": "x", "submit": "yes"}', ErrorCode.INVALID_MESSAGE, "'submit'"),
    (D2R, '{"type": "command:request", "request_id": "r", "input": "x"}', ErrorCode.INVALID_MESSAGE, "'agent_id' is required"),
    (D2R, '{"type": "command:interrupt", "agent_id": "a", "request_id": "r", "signal": "SIGSTOP"}', ErrorCode.INVALID_MESSAGE, "'signal'"),
    (D2R, '{"type": "terminal:input", "agent_id": "a"}', ErrorCode.INVALID_MESSAGE, "'data' is required"),
    (D2R, '{"type": "heartbeat"}', ErrorCode.INVALID_MESSAGE, "'ts' is required"),
    (D2R, '{"type": "heartbeat", "ts": [1]}', ErrorCode.INVALID_MESSAGE, "'ts'"),
    (D2R, '{"type": "dashboard:connect"}', ErrorCode.INVALID_MESSAGE, "'protocol' is required"),
    (D2R, '{"type": "dashboard:connect", "protocol": 1, "binary": 1}', ErrorCode.INVALID_MESSAGE, "'binary'"),
    (A2R, '{"type": "terminal:output", "agent_id": "a", "offset": 0, "data": "%%", "enc": "base64"}', ErrorCode.INVALID_MESSAGE, "'data' is not valid base64"),
    (A2R, '{"type": "terminal:output", "agent_id": "a", "offset": 0, "data": "x", "enc": "hex"}', ErrorCode.INVALID_MESSAGE, "'enc'"),
    (A2R, '{"type": "terminal:output", "agent_id": "a", "offset": 0, "data": "\\ud800"}', ErrorCode.INVALID_MESSAGE, "'data'"),
    (A2R, '{"type": "agent:status", "state": "sleeping", "pid": 1, "cols": 80, "rows": 24}', ErrorCode.INVALID_MESSAGE, "'state'"),
    (A2R, '{"type": "command:ack", "request_id": "r"}', ErrorCode.INVALID_MESSAGE, "'ok' is required"),
    (A2R, '{"type": "agent:hello", "agent_id": "a"}', ErrorCode.INVALID_MESSAGE, "'protocol' is required"),
    (A2R, '{"type": "agent:hello", "protocol": 1, "agent_id": "a", "labels": {"k": 1}}', ErrorCode.INVALID_MESSAGE, "'labels'"),
    (A2R, '{"type": "agent:hello", "protocol": 1, "agent_id": "a", "command": "ls"}', ErrorCode.INVALID_MESSAGE, "'command'"),
    (A2R, '{"type": "heartbeat", "ts": NaN}', ErrorCode.INVALID_MESSAGE, "'ts'"),
    (R2D, json.dumps({"type": "agent:status", "agent": {**INFO_JSON, "state_since": "1h"}}),
     ErrorCode.INVALID_MESSAGE, "'state_since' must be a number"),
    (R2D, json.dumps({"type": "agent:status", "agent": {**INFO_JSON, "state_since": True}}),
     ErrorCode.INVALID_MESSAGE, "'state_since' must be a number"),
    (A2R, '{"type": "agent:hello", "protocol": 1, "agent_id": "a", "local_terminal": 1}', ErrorCode.INVALID_MESSAGE, "'local_terminal'"),
    (R2D, json.dumps({"type": "agent:status", "agent": {**INFO_JSON, "local_terminal": "yes"}}),
     ErrorCode.INVALID_MESSAGE, "'local_terminal' must be true or false"),
    # ---- 1.1: activity
    *[
        (A2R, json.dumps({"type": "agent:activity", "activity": {**WAITING_JSON, **typing.cast(dict[str, Any], change)}}),
         ErrorCode.INVALID_MESSAGE, mentions)
        for change, mentions in [
            ({"state": "busy"}, "'state' must be one of"),
            ({"state": None}, "'state' is required"),
            ({"since": "now"}, "'since' must be a number"),
            ({"since": None}, "'since' is required"),
            ({"agent_kind": "vim"}, "'agent_kind' must be one of"),
            ({"agent_kind": None}, "'agent_kind' is required"),
            ({"source": "guess"}, "'source' must be one of"),
            ({"reason": "bored"}, "'reason' must be one of"),
            ({"reason": None, "decision_id": None}, "'reason' is required when state is waiting"),
            ({"prompt": "x" * 2001}, "'prompt' must have at most 2000"),
            ({"prompt": 5}, "'prompt' must be a string"),
            ({"detail": "x" * 1001}, "'detail' must have at most 1000"),
            ({"options": "1/2"}, "'options' must be a list"),
            ({"options": [{"label": "Yes"}]}, "'keys' is required"),
            ({"options": [{"label": "", "keys": "1"}]}, "label must have 1 to 200"),
            ({"options": [{"label": "Yes", "keys": ""}]}, "keys must have 1 to 64"),
            ({"options": ["Yes"]}, "'options' entries must be objects"),
            ({"options": [{"label": "o", "keys": "1"}] * 33}, "'options' must have at most 32"),
            ({"decision_id": ""}, "'decision_id' must have 1 to 128"),
            ({"reason": "question"}, "'decision_id' must be null unless reason is permission"),
            ({"state": "working"}, "'reason' must be null unless state is waiting"),
            ({"state": "idle", "reason": None}, "'prompt' must be null unless state is waiting"),
            ({"state": "unknown", "reason": None, "prompt": None},
             "'options' must be null unless state is waiting"),
            ({"state": "idle", "reason": None, "prompt": None, "options": None},
             "'decision_id' must be null unless state is waiting"),
        ]
    ],
    (A2R, '{"type": "agent:activity"}', ErrorCode.INVALID_MESSAGE, "'activity' is required"),
    (A2R, '{"type": "agent:activity", "activity": []}', ErrorCode.INVALID_MESSAGE,
     "'activity' must be an object"),
    (D2R, '{"type": "agent:activity", "activity": {}}', ErrorCode.UNKNOWN_TYPE, "agent:activity"),
    # ---- 1.1: permission:decide
    (D2R, '{"type": "permission:decide", "request_id": "r", "decision_id": "d", "decision": "allow"}',
     ErrorCode.INVALID_MESSAGE, "'agent_id' is required"),
    (D2R, '{"type": "permission:decide", "agent_id": "a", "decision_id": "d", "decision": "allow"}',
     ErrorCode.INVALID_MESSAGE, "'request_id' is required"),
    (D2R, '{"type": "permission:decide", "agent_id": "a", "request_id": "r", "decision": "allow"}',
     ErrorCode.INVALID_MESSAGE, "'decision_id' is required"),
    (D2R, '{"type": "permission:decide", "agent_id": "a", "request_id": "r", "decision_id": "d"}',
     ErrorCode.INVALID_MESSAGE, "'decision' is required"),
    (D2R, '{"type": "permission:decide", "agent_id": "a", "request_id": "r", "decision_id": "d", '
          '"decision": "maybe"}', ErrorCode.INVALID_MESSAGE, "'decision' must be one of allow, deny"),
    (D2R, '{"type": "permission:decide", "agent_id": "a", "request_id": "r", "decision_id": "d", '
          '"decision": "deny", "message": 1}', ErrorCode.INVALID_MESSAGE, "'message' must be a string"),
    (D2R, json.dumps({"type": "permission:decide", "agent_id": "a", "request_id": "r",
                      "decision_id": "d", "decision": "deny", "message": "m" * 2001}),
     ErrorCode.INVALID_MESSAGE, "'message' must have 0 to 2000"),
    (D2R, json.dumps({"type": "permission:decide", "agent_id": "a", "request_id": "r",
                      "decision_id": "d" * 129, "decision": "deny"}),
     ErrorCode.INVALID_MESSAGE, "'decision_id' must have 1 to 128"),
    (A2R, '{"type": "permission:decide", "request_id": "r", "decision_id": "d", "decision": "allow"}',
     ErrorCode.UNKNOWN_TYPE, "permission:decide"),
    # ---- 1.1: subscribe.request_id, AgentInfo fields, presence
    (D2R, '{"type": "subscribe", "agent_id": "a", "request_id": ""}', ErrorCode.INVALID_MESSAGE,
     "'request_id' must have 1 to 128"),
    (R2D, json.dumps({"type": "agent:status", "agent": {**INFO_JSON, "signal": 9}}),
     ErrorCode.INVALID_MESSAGE, "'signal' must be a string"),
    (R2D, json.dumps({"type": "agent:status", "agent": {**INFO_JSON, "activity": "waiting"}}),
     ErrorCode.INVALID_MESSAGE, "'activity' must be an object"),
    (R2D, '{"type": "agent:presence", "agent_id": "a"}', ErrorCode.INVALID_MESSAGE,
     "'watchers' is required"),
    (R2D, '{"type": "agent:presence", "agent_id": "a", "watchers": [{"sub": "x", "role": "cook", '
          '"connections": 1}]}', ErrorCode.INVALID_MESSAGE, "'role' must be one of"),
    (R2D, json.dumps({"type": "agent:presence", "agent_id": "a",
                      "watchers": [{"sub": "x", "role": "viewer", "connections": 1}] * 17}),
     ErrorCode.INVALID_MESSAGE, "'watchers' must have at most 16"),
]


@pytest.mark.parametrize(("direction", "text", "code", "mentions"), INVALID)
def test_invalid_frames_raise_the_contract_error(
    direction: Direction, text: str, code: ErrorCode, mentions: str
) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(text, direction)
    assert info.value.code == code
    assert mentions in info.value.message


def test_a_bad_permission_decide_carries_its_request_id_as_ref() -> None:
    with pytest.raises(ProtocolError) as info:
        decode('{"type":"permission:decide","agent_id":"a","request_id":"r8","decision_id":"d",'
               '"decision":"yes"}', D2R)
    assert (info.value.code, info.value.ref) == (ErrorCode.INVALID_MESSAGE, "r8")


def test_a_bad_subscribe_carries_its_request_id_as_ref() -> None:
    with pytest.raises(ProtocolError) as info:
        decode('{"type":"subscribe","agent_id":"-x","request_id":"s4"}', D2R)
    assert info.value.ref == "s4"


def test_permission_decide_spends_a_rate_limit_token() -> None:
    assert "permission:decide" in INPUT_BEARING_TYPES


def test_agent_info_from_a_1_0_relay_decodes_with_null_signal_and_activity() -> None:
    old = {k: v for k, v in INFO_JSON.items() if k not in ("signal", "activity")}
    msg = decode(json.dumps({"type": "agent:status", "agent": old}), R2D)
    assert msg == AgentStatusEvent(INFO)


def test_activity_construction_applies_the_rules_decoding_applies() -> None:
    """One validator on both paths: a sidecar cannot build what the relay refuses."""
    with pytest.raises(ProtocolError) as info:
        Activity("working", 1.0, "claude", "hook", reason="question")
    assert info.value.code == ErrorCode.INVALID_MESSAGE
    with pytest.raises(ProtocolError):
        Activity("waiting", 1.0, "claude", "hook", reason="question", prompt="p" * 2001)
    with pytest.raises(ProtocolError):
        Activity("waiting", 1.0, "claude", "hook")  # waiting needs a reason
    with pytest.raises(ProtocolError):
        ActivityOption("", "1")
    assert Activity("waiting", 1.0, "claude", "hook", reason="other", prompt="p" * 2000)


def test_activity_literals_equal_their_tuples() -> None:
    from relay.protocol import ActivityReason, ActivitySource, ActivityState

    assert typing.get_args(ActivityState) == ACTIVITY_STATES
    assert typing.get_args(ActivityReason) == ACTIVITY_REASONS
    assert typing.get_args(ActivitySource) == ACTIVITY_SOURCES
    assert typing.get_args(AgentKind) == AGENT_KINDS


def test_agent_kinds_equal_the_sidecars() -> None:
    """relay never imports agent_sidecar, so the set is written twice; keep them equal."""
    from agent_sidecar import agents

    assert AGENT_KINDS == agents.AGENT_KINDS
    assert typing.get_args(AgentKind) == typing.get_args(agents.AgentKind)


def test_error_carries_the_request_id_as_ref() -> None:
    with pytest.raises(ProtocolError) as info:
        decode('{"type":"command:request","agent_id":"a","request_id":"r7","input":1}', D2R)
    assert info.value.ref == "r7"


def test_parse_checks_the_type_before_the_fields() -> None:
    frame = parse('{"type":"terminal:input","agent_id":7}', D2R)
    assert frame.type == "terminal:input"
    with pytest.raises(ProtocolError) as info:
        frame.message()
    assert info.value.code == ErrorCode.INVALID_MESSAGE


def test_deeply_nested_json_is_invalid_json_not_a_crash() -> None:
    with pytest.raises(ProtocolError) as info:
        decode("[" * 100_000, D2R)
    assert info.value.code == ErrorCode.INVALID_JSON


# --------------------------------------------------------------------------- binary frames


def test_binary_output_frame_layout() -> None:
    frame = encode_binary_output("ab", 258, b"\x00\xff")
    assert frame == b"\x01\x02ab" + (258).to_bytes(8, "big") + b"\x00\xff"
    assert decode_binary_output(frame) == TerminalOutput("ab", 258, b"\x00\xff")


@pytest.mark.parametrize(
    "frame",
    [b"", b"\x02\x01a" + bytes(8), b"\x01\x05ab", b"\x01\x01-" + bytes(8), b"\x01\x01\xff" + bytes(8),
     b"\x01\x02a\n" + bytes(8), b"\x01\x01a" + (2**63).to_bytes(8, "big")],
)
def test_bad_binary_frames_raise_invalid_message(frame: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_binary_output(frame)
    assert info.value.code == ErrorCode.INVALID_MESSAGE


# --------------------------------------------------------------------------- UTF-8 chunking


@pytest.mark.parametrize(
    ("data", "cut"),
    [
        (b"", 0),
        (b"abc", 3),
        ("é".encode(), 2),
        ("é".encode()[:1], 0),
        (b"x" + "€".encode()[:2], 1),
        (b"x" + "😀".encode()[:3], 1),
        (b"\xff", 1),  # never valid: not held
        (b"x\x80", 2),  # stray continuation byte: not held
        (b"\xc0", 1),  # overlong lead: never valid
    ],
)
def test_utf8_cut_holds_back_only_a_valid_incomplete_tail(data: bytes, cut: int) -> None:
    assert utf8_cut(data) == cut


@given(st.text(), st.lists(st.integers(min_value=0, max_value=64), max_size=20))
def test_chunker_never_splits_a_character_and_loses_nothing(text: str, cuts: list[int]) -> None:
    data = text.encode()
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    chunker = Utf8Chunker()
    out = [chunker.feed(data[a:b]) for a, b in itertools.pairwise(points)]
    out.append(chunker.flush())
    assert b"".join(out) == data
    for chunk in out:
        chunk.decode("utf-8")  # every chunk is whole characters


# --------------------------------------------------------------------------- properties

_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,20}\Z")
_text = st.text(max_size=40)
_req = st.text(min_size=1, max_size=128)

_opt_text = st.none() | st.text(max_size=60)
_options = st.none() | st.lists(
    st.builds(ActivityOption, st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=8)),
    max_size=4,
).map(tuple)
_finite = st.floats(allow_nan=False, allow_infinity=False)
_not_waiting = st.builds(
    Activity,
    st.sampled_from(["working", "idle", "unknown"]),
    _finite,
    st.sampled_from(AGENT_KINDS),
    st.sampled_from(ACTIVITY_SOURCES),
    detail=_opt_text,
)
_waiting = st.builds(
    Activity,
    st.just("waiting"),
    _finite,
    st.sampled_from(AGENT_KINDS),
    st.sampled_from(ACTIVITY_SOURCES),
    reason=st.sampled_from([r for r in ACTIVITY_REASONS if r != "permission"]),
    prompt=_opt_text,
    options=_options,
    detail=_opt_text,
)
_permission = st.builds(
    Activity,
    st.just("waiting"),
    _finite,
    st.sampled_from(AGENT_KINDS),
    st.sampled_from(ACTIVITY_SOURCES),
    reason=st.just("permission"),
    prompt=_opt_text,
    options=_options,
    decision_id=st.none() | st.text(min_size=1, max_size=128),
    detail=_opt_text,
)
_activities = st.one_of(_not_waiting, _waiting, _permission)
_watchers = st.builds(
    PresenceWatcher,
    st.text(min_size=1, max_size=20),
    st.sampled_from(["viewer", "operator", "admin"]),
    st.integers(0, 100),
    st.booleans(),
    st.none() | st.sampled_from(sorted(INPUT_BEARING_TYPES)),
    st.none() | _finite,
)

_messages = st.one_of(
    st.builds(AgentActivity, _activities).map(lambda m: (A2R, m)),
    st.builds(PermissionDecide, _req, _req, st.sampled_from(["allow", "deny"]),
              st.none() | st.text(max_size=50), _ids).map(lambda m: (D2R, m)),
    st.builds(PermissionDecide, _req, _req, st.sampled_from(["allow", "deny"]),
              st.none() | st.text(max_size=50)).map(lambda m: (R2A, m)),
    st.builds(AgentPresence, _ids, st.lists(_watchers, max_size=16).map(tuple),
              st.integers(0, 1000)).map(lambda m: (R2D, m)),
    st.builds(Subscribe, _ids, st.none() | st.integers(0, 2**53), st.none() | _req)
    .map(lambda m: (D2R, m)),
    st.builds(
        dataclasses.replace,
        st.just(INFO),
        signal=st.none() | st.sampled_from(["SIGINT", "SIGKILL", "SIGSEGV"]),
        activity=st.none() | _activities,
    ).map(lambda i: (R2D, AgentStatusEvent(i))),
    st.builds(TerminalOutput, _ids, st.integers(0, 2**53), st.binary(max_size=64)).map(lambda m: (A2R, m)),
    st.builds(CommandRequest, _req, _text, st.booleans(), _ids).map(lambda m: (D2R, m)),
    st.builds(CommandRequest, _req, _text, st.booleans()).map(lambda m: (R2A, m)),
    st.builds(TerminalInput, _text, _ids).map(lambda m: (D2R, m)),
    st.builds(TerminalResize, st.integers(1, 1000), st.integers(1, 1000), _ids).map(lambda m: (D2R, m)),
    st.builds(Subscribe, _ids, st.none() | st.integers(0, 2**53)).map(lambda m: (D2R, m)),
    st.builds(CommandAck, _req, st.booleans(), st.none() | _text, _ids).map(lambda m: (R2D, m)),
    st.builds(Heartbeat, st.integers(-(2**53), 2**53) | _text).map(lambda m: (A2R, m)),
    st.builds(
        dataclasses.replace,
        st.just(INFO),
        state=st.sampled_from(["running", "idle", "exited", "disconnected"]),
        state_since=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    ).map(lambda i: (R2D, AgentStatusEvent(i))),
)


@given(_messages)
def test_decode_inverts_encode(case: tuple[Direction, Message]) -> None:
    direction, message = case
    assert decode(encode(message), direction) == message


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
_type_names = st.sampled_from(
    ["agent:hello", "terminal:output", "subscribe", "command:request", "terminal:resize",
     "command:interrupt", "heartbeat", "dashboard:connect", "error", "agent:status", "x",
     "agent:activity", "permission:decide", "agent:presence"]
)
_objects = st.builds(
    lambda t, extra: json.dumps({"type": t, **extra}),
    _type_names,
    st.dictionaries(
        st.sampled_from(["agent_id", "offset", "data", "enc", "since", "cols", "rows", "ts",
                         "request_id", "input", "submit", "signal", "protocol", "state", "ok",
                         "activity", "decision_id", "decision", "message", "watchers"]),
        _json_values,
        max_size=6,
    ),
)


@given(st.one_of(st.text(), _objects), st.sampled_from(list(Direction)))
def test_decode_of_any_text_is_a_message_or_a_protocol_error(text: str, direction: Direction) -> None:
    try:
        decode(text, direction)
    except ProtocolError as exc:
        assert exc.code in {ErrorCode.INVALID_JSON, ErrorCode.INVALID_MESSAGE, ErrorCode.UNKNOWN_TYPE}


@given(st.binary(max_size=80))
def test_decode_binary_of_any_bytes_is_output_or_a_protocol_error(frame: bytes) -> None:
    try:
        out = decode_binary_output(frame)
    except ProtocolError as exc:
        assert exc.code == ErrorCode.INVALID_MESSAGE
    else:
        assert encode_binary_output(out.agent_id, out.offset, out.data) == frame


def test_protocol_module_imports_no_io_frameworks() -> None:
    code = (
        "import sys, relay.protocol; "
        "bad = {'asyncio', 'aiohttp', 'click', 'ptyprocess'} & set(sys.modules); "
        "print(sorted(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_offsets_beyond_eight_bytes_are_invalid() -> None:
    with pytest.raises(ProtocolError) as info:
        decode(f'{{"type":"subscribe","agent_id":"a","since":{2**63}}}', D2R)
    assert "'since' must be at most" in info.value.message


@given(st.text())
def test_the_keystroke_encoder_gives_the_same_text_as_encode(data: str) -> None:
    """The hub's shortcut for terminal:input towards the agent: byte for byte encode()."""
    assert encode_terminal_input(data) == encode(TerminalInput(data=data))


@pytest.mark.parametrize("data", ['"', "\\", "\x00\x1b[A\r\n", "\u2028\ud800", "\U0001f600", ""])
def test_the_keystroke_encoder_escapes_like_encode(data: str) -> None:
    assert encode_terminal_input(data) == encode(TerminalInput(data=data))
    assert decode(encode_terminal_input(data), Direction.RELAY_TO_AGENT) == TerminalInput(data=data)
