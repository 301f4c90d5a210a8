"""What can go wrong talking to a relay as a dashboard, as exceptions with exit codes.

Exception tree::

    ClientError                  root of every error the client library raises on purpose
    ├── RelayUnreachable         no connection: refused, timed out, not a relay (69)
    ├── TokenRefused             the relay refused the token: 4401, also at expiry (77)
    ├── Forbidden                role or scope does not allow it: error or 4403 (78)
    ├── UnknownAgent             no such agent within the token's scope, or removed (67)
    ├── AgentOffline             the agent is not connected to the relay (75)
    ├── RequestFailed            the relay or the agent answered "no": an ack with
    │                            ok false, rate_limited, stale_decision, no ack in time (1)
    ├── ConnectionLost           the relay closed or dropped an established connection,
    │   │                        or broke the protocol (76); ``code`` is the close code
    │   └── SlowConsumer         4503: this client read too slowly; resume with ``since``
    └── EndpointError            an unusable relay URL or missing token (2, usage)

Every class carries ``exit_code``, the exit status the ``agent-sidecar`` client commands
use for it (documented in README.md); scripts importing the library can ignore it.
"""

from __future__ import annotations

import enum

from relay.protocol import CloseCode, ErrorCode


class ClientExit(enum.IntEnum):
    """Exit codes of the client commands (``ls``, ``tail``, ``attach``, ``send``...)."""

    OK = 0
    #: The request was answered but not done (ack ``ok: false``, rate limited, stale
    #: decision, or no answer within ``--timeout``).
    REQUEST_FAILED = 1
    USAGE = 2
    UNKNOWN_AGENT = 67  # sysexits EX_NOUSER: addressee unknown
    UNREACHABLE = 69  # EX_UNAVAILABLE, as for `run` and `relay`
    INTERNAL = 70  # EX_SOFTWARE
    AGENT_OFFLINE = 75  # EX_TEMPFAIL: try again when the agent is back
    CONNECTION_LOST = 76  # EX_PROTOCOL
    TOKEN_REFUSED = 77  # EX_NOPERM, as for `run`
    FORBIDDEN = 78


class ClientError(Exception):
    """Root of the client library's errors; the message is one lowercase sentence."""

    exit_code: ClientExit = ClientExit.INTERNAL


class RelayUnreachable(ClientError):
    exit_code = ClientExit.UNREACHABLE


class TokenRefused(ClientError):
    exit_code = ClientExit.TOKEN_REFUSED


class Forbidden(ClientError):
    exit_code = ClientExit.FORBIDDEN


class UnknownAgent(ClientError):
    exit_code = ClientExit.UNKNOWN_AGENT


class AgentOffline(ClientError):
    exit_code = ClientExit.AGENT_OFFLINE


class RequestFailed(ClientError):
    """``code`` is the contract's error code when the relay answered with one, else None
    (an ack with ``ok: false``, or no answer in time)."""

    exit_code = ClientExit.REQUEST_FAILED

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ConnectionLost(ClientError):
    """``code`` is the WebSocket close code (1006 when the connection just dropped)."""

    exit_code = ClientExit.CONNECTION_LOST

    def __init__(self, message: str, code: int = 1006) -> None:
        super().__init__(message)
        self.code = code


class SlowConsumer(ConnectionLost):
    pass


#: Which exception an ``error`` message's code becomes.
_BY_ERROR_CODE: dict[str, type[ClientError]] = {
    ErrorCode.FORBIDDEN: Forbidden,
    ErrorCode.UNKNOWN_AGENT: UnknownAgent,
    ErrorCode.AGENT_OFFLINE: AgentOffline,
}


def from_error(code: str, message: str) -> ClientError:
    """The exception for an ``error`` message the relay sent (``code`` as on the wire)."""
    cls = _BY_ERROR_CODE.get(code)
    if cls is not None:
        return cls(message)
    return RequestFailed(f"{message} ({code})", code)


def from_close(code: int | None, reason: str) -> ClientError:
    """The exception for a connection the relay closed with ``code`` (None: dropped)."""
    detail = f": {reason}" if reason else ""
    if code == CloseCode.UNAUTHENTICATED:
        return TokenRefused(f"the relay refused the token (4401{detail})")
    if code == CloseCode.FORBIDDEN:
        return Forbidden(f"the relay refused this token here (4403{detail})")
    if code == CloseCode.SLOW_CONSUMER:
        return SlowConsumer(f"the relay closed the connection: reading too slowly (4503{detail})",
                            code)
    if code == CloseCode.GOING_AWAY:
        return ConnectionLost(f"the relay is shutting down (1001{detail})", code)
    if code is None or code == 1006:
        return ConnectionLost("the connection to the relay was lost", 1006)
    return ConnectionLost(f"the relay closed the connection ({code}{detail})", code)
