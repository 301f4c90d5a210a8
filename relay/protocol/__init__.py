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
returns a :class:`ParsedFrame`; :meth:`ParsedFrame.message` validates the fields.
:func:`decode` does both. Every failure raises :class:`ProtocolError` carrying a contract
error code.

Layout: ``messages`` (vocabulary), ``validate`` (field readers and builders), ``codec``
(JSON frames), ``framing`` (binary frame, UTF-8 chunking). This package imports nothing
from asyncio, aiohttp, click or ptyprocess.
"""

from __future__ import annotations

from relay.protocol.codec import (
    ParsedFrame,
    agent_info_dict,
    decode,
    encode,
    output_fields,
    parse,
    to_dict,
)
from relay.protocol.framing import (
    Utf8Chunker,
    WireFrame,
    binary_header_length,
    decode_binary_output,
    encode_binary_output,
    utf8_cut,
    websocket_header,
)
from relay.protocol.messages import (
    AGENT_ID_RE,
    AGENT_INFO_STATES,
    AGENT_STATES,
    BINARY_OUTPUT_TAG,
    INPUT_BEARING_TYPES,
    MAX_AGENT_ID_LENGTH,
    MAX_OFFSET,
    PROTOCOL_VERSION,
    ROLES,
    SIGNALS,
    AgentHello,
    AgentInfo,
    AgentInfoState,
    AgentRemoved,
    AgentState,
    AgentStatus,
    AgentStatusEvent,
    AgentWelcome,
    CloseCode,
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
    ProtocolError,
    Role,
    SignalName,
    Subscribe,
    Subscribed,
    TerminalGap,
    TerminalInput,
    TerminalOutput,
    TerminalResize,
    Timestamp,
    Unsubscribe,
    Unsubscribed,
)

__all__ = [
    "AGENT_ID_RE",
    "AGENT_INFO_STATES",
    "AGENT_STATES",
    "BINARY_OUTPUT_TAG",
    "INPUT_BEARING_TYPES",
    "MAX_AGENT_ID_LENGTH",
    "MAX_OFFSET",
    "PROTOCOL_VERSION",
    "ROLES",
    "SIGNALS",
    "AgentHello",
    "AgentInfo",
    "AgentInfoState",
    "AgentRemoved",
    "AgentState",
    "AgentStatus",
    "AgentStatusEvent",
    "AgentWelcome",
    "CloseCode",
    "CommandAck",
    "CommandInterrupt",
    "CommandRequest",
    "DashboardConnect",
    "DashboardConnected",
    "Direction",
    "Error",
    "ErrorCode",
    "Heartbeat",
    "Message",
    "ParsedFrame",
    "ProtocolError",
    "Role",
    "SignalName",
    "Subscribe",
    "Subscribed",
    "TerminalGap",
    "TerminalInput",
    "TerminalOutput",
    "TerminalResize",
    "Timestamp",
    "Unsubscribe",
    "Unsubscribed",
    "Utf8Chunker",
    "WireFrame",
    "agent_info_dict",
    "binary_header_length",
    "decode",
    "decode_binary_output",
    "encode",
    "encode_binary_output",
    "output_fields",
    "parse",
    "to_dict",
    "utf8_cut",
    "websocket_header",
]
