"""A typed async client for the relay's dashboard side, for the CLI and anyone's script.

Map::

    endpoint    Endpoint (relay URL + token), resolve_endpoints(): --relay/--token or
                the embedded relay of `agent-sidecar run` through its runtime file
    connection  Client: connect + auth, the live agent list, events(), subscribe(),
                command()/interrupt() (acks by request_id), input(), resize(), ping()
    stream      OutputStream: one agent's output in order, exactly once, gaps announced,
                ending with Exited; Cursor is its bookkeeping without I/O
    errors      ClientError and its tree, one class per error or close code, exit codes
    follow      follow(): a subscription that reconnects and resumes across relay restarts
    table, plaintext, queries
                what the CLI shows: the ls table, output as plain text, escape rewriting

Example::

    import asyncio
    from agent_sidecar.client import Client, Endpoint, Exited, TerminalOutput

    async def main() -> None:
        endpoint = Endpoint("ws://127.0.0.1:8765", token="...")
        async with await Client.connect(endpoint) as client:
            stream = await client.subscribe("build-1", since=0, follow=True)
            async for event in stream:
                if isinstance(event, TerminalOutput):
                    print(event.data.decode(errors="replace"), end="")
                elif isinstance(event, Exited):
                    print("exit code", event.exit_code)

    asyncio.run(main())

The messages themselves (``AgentInfo``, ``CommandAck``, ``TerminalOutput``,
``TerminalGap``...) are :mod:`relay.protocol`'s, re-exported here.
"""

from __future__ import annotations

from relay.protocol import (
    AgentInfo,
    AgentRemoved,
    AgentStatusEvent,
    CommandAck,
    TerminalGap,
    TerminalOutput,
)

from .connection import AgentEvent, Client
from .endpoint import Endpoint, EndpointError, embedded_endpoint, resolve_endpoints
from .errors import (
    AgentOffline,
    ClientError,
    ClientExit,
    ConnectionLost,
    Forbidden,
    RelayUnreachable,
    RequestFailed,
    SlowConsumer,
    TokenRefused,
    UnknownAgent,
)
from .stream import Cursor, Exited, OutputStream, StreamEvent

__all__ = [
    "AgentEvent",
    "AgentInfo",
    "AgentOffline",
    "AgentRemoved",
    "AgentStatusEvent",
    "Client",
    "ClientError",
    "ClientExit",
    "CommandAck",
    "ConnectionLost",
    "Cursor",
    "Endpoint",
    "EndpointError",
    "Exited",
    "Forbidden",
    "OutputStream",
    "RelayUnreachable",
    "RequestFailed",
    "SlowConsumer",
    "StreamEvent",
    "TerminalGap",
    "TerminalOutput",
    "TokenRefused",
    "UnknownAgent",
    "embedded_endpoint",
    "resolve_endpoints",
]
