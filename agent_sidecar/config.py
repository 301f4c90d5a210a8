"""Configuration of ``agent-sidecar run``: frozen objects that validate themselves.

Every timeout is here so that tests can pass milliseconds. Tokens stay out of ``repr``.
"""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from urllib.parse import urlsplit, urlunsplit

import jwt

from relay.config import notify_url_problem
from relay.protocol import is_agent_id

from .activity.settings import ActivityConfig
from .backoff import BackoffPolicy
from .errors import UsageError

MIB = 1024 * 1024
DEFAULT_PORT = 8765
#: Environment variables never passed on to the command (they hold secrets).
SECRET_ENV = ("AGENT_SIDECAR_TOKEN", "AGENT_RELAY_JWT_SECRET")


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """The connection to the relay(s)."""

    #: WebSocket URLs of ``/ws/agent``, tried in order on failure.
    urls: tuple[str, ...]
    agent_id: str
    heartbeat_interval: float = 15.0
    #: A relay silent this long (no message at all) is treated as dead.
    dead_after: float = 45.0
    #: Opening the WebSocket and receiving ``agent:welcome`` must take less than this.
    connect_timeout: float = 10.0
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    #: A connection that lasted this long resets the backoff to its first step.
    stable_after: float = 10.0
    #: Largest output payload per frame (the relay's message limit is 1 MiB by default).
    max_chunk_bytes: int = 256 * 1024
    #: Send output as binary frames (else JSON ``terminal:output``).
    binary: bool = True
    #: While the PTY streams (reads of at least ``coalesce_read_bytes``), hold output
    #: up to this long so that it goes out in few large frames; 0 sends every read.
    coalesce_delay: float = 0.002
    coalesce_read_bytes: int = 2048

    def __post_init__(self) -> None:
        if not self.urls:
            raise UsageError("at least one relay URL is required")
        validate_agent_id(self.agent_id)
        for name in ("heartbeat_interval", "dead_after", "connect_timeout", "stable_after"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}")
        if self.heartbeat_interval >= self.dead_after:
            raise UsageError("heartbeat_interval must be shorter than dead_after")
        if not 0 <= self.coalesce_delay <= 1:
            raise UsageError(f"coalesce_delay must be 0..1 s, got {self.coalesce_delay}")
        if not 1 <= self.max_chunk_bytes <= 1000 * 1024:
            raise UsageError(f"max_chunk_bytes must be 1..1024000, got {self.max_chunk_bytes}")


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything ``run`` needs; the CLI builds it, tests build it directly."""

    command: tuple[str, ...]
    agent_id: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Relay URLs given with ``--relay``; empty means embedded mode.
    relays: tuple[str, ...] = ()
    token: str | None = field(default=None, repr=False)
    #: Embedded mode: the local port of the relay to start or join.
    port: int = DEFAULT_PORT
    idle_after: float = 5.0
    drain_timeout: float = 10.0
    retain_bytes: int = 8 * MIB
    #: Longest the command waits on a relay that is behind (backpressure); 0 never waits.
    max_output_stall: float = 1.0
    #: Window size when there is no local terminal (headless).
    cols: int = 80
    rows: int = 24
    #: Interactive (raw local terminal, keys forwarded) or headless.
    interactive: bool = False
    #: Mirror output to stdout (always in interactive mode).
    mirror: bool = True
    #: After the command exits, stop waiting for end of output once the PTY has been
    #: quiet this long (a background process may hold it open for ever).
    eof_grace: float = 0.5
    #: After passing SIGHUP/SIGTERM on to the command, what is left of its process
    #: groups this long later gets the next signal (SIGTERM after a hangup, then SIGKILL).
    kill_grace: float = 5.0
    #: A command line from a dashboard is submitted (Enter written) once the program
    #: has read its text; an ack fails when it has not within this many seconds.
    submit_timeout: float = 5.0
    #: An incomplete UTF-8 character at the end of the output is sent after this delay
    #: if no more output completes it.
    utf8_flush_delay: float = 0.05
    #: Before spawning, wait this long for the relay's first answer, so that a refused
    #: token fails fast; an unreachable relay does not hold the command back longer.
    startup_wait: float = 3.0
    heartbeat_interval: float = 15.0
    dead_after: float = 45.0
    connect_timeout: float = 10.0
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    cwd: str | None = None
    #: Embedded mode: notification channels of the relay this run hosts (they may hold
    #: tokens: kept out of the repr).
    notify_webhooks: tuple[str, ...] = field(default=(), repr=False)
    notify_ntfy: tuple[str, ...] = field(default=(), repr=False)
    #: Activity detection and the agents' hooks (contract section 11).
    activity: ActivityConfig = field(default_factory=ActivityConfig)

    def __post_init__(self) -> None:
        if not self.command:
            raise UsageError("no command given: use agent-sidecar run [OPTIONS] -- COMMAND...")
        validate_agent_id(self.agent_id)
        for url in self.relays:
            agent_ws_url(url)
        for key in self.labels:
            if not key:
                raise UsageError("a label needs a non-empty key (--label key=value)")
        for name in ("idle_after", "eof_grace", "utf8_flush_delay", "kill_grace",
                     "submit_timeout"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("drain_timeout", "startup_wait", "max_output_stall"):
            if getattr(self, name) < 0:
                raise UsageError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.retain_bytes < 64 * 1024:
            raise UsageError(f"--retain-bytes must be at least 65536, got {self.retain_bytes}")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be 0-65535, got {self.port}")
        if not (1 <= self.cols <= 1000 and 1 <= self.rows <= 1000):
            raise UsageError(f"window size must be 1-1000, got {self.cols}x{self.rows}")
        notify = (*self.notify_webhooks, *self.notify_ntfy)
        if notify and self.relays:
            raise UsageError(
                "--notify-webhook and --notify-ntfy configure the embedded relay; "
                "with --relay, give them to that relay"
            )
        for url in notify:
            problem = notify_url_problem(url)
            if problem is not None:
                raise UsageError(problem)

    def link_config(self, urls: Sequence[str]) -> LinkConfig:
        return LinkConfig(
            urls=tuple(urls),
            agent_id=self.agent_id,
            heartbeat_interval=self.heartbeat_interval,
            dead_after=self.dead_after,
            connect_timeout=self.connect_timeout,
            backoff=self.backoff,
        )


def validate_agent_id(agent_id: str) -> str:
    if not is_agent_id(agent_id):
        raise UsageError(
            f"invalid agent id {agent_id!r}: use 1-128 characters from A-Z a-z 0-9 . _ : -,"
            " starting with a letter or digit"
        )
    return agent_id


def _slug(text: str, limit: int) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return slug[:limit].rstrip("-._")


def token_agent_id(token: str | None) -> str | None:
    """The one agent id an agent token allows (its ``sub`` when it has no ``agents``
    claim), as the default id of a ``run`` given such a token; else None.

    The token is read, not verified: the relay verifies it and refuses an id the token
    does not allow. Reading it only spares the user repeating the id in
    ``--agent-id``, which the relay would otherwise refuse with 4403.
    """
    if not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    sub = claims.get("sub")
    if claims.get("role") != "agent" or "agents" in claims or not isinstance(sub, str):
        return None
    return sub if is_agent_id(sub) else None


def default_agent_id(command: Sequence[str], hostname: str | None = None) -> str:
    """``<host>-<command>-<6 hex>``: readable, unique enough, valid for the contract."""
    host = _slug((hostname or socket.gethostname()).split(".")[0], 40) or "host"
    cmd = _slug(PurePath(command[0]).name if command else "", 40) or "cmd"
    return f"{host}-{cmd}-{secrets.token_hex(3)}"


def parse_labels(items: Sequence[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid label {item!r}: use key=value")
        labels[key] = value
    return labels


def agent_ws_url(url: str) -> str:
    """The ``/ws/agent`` endpoint for a relay URL (``ws://H:P``, ``https://H/prefix``...)."""
    parts = urlsplit(url)
    scheme = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise UsageError(f"invalid relay URL {url!r}: use ws://HOST:PORT or wss://HOST[/PATH]")
    if parts.query or parts.fragment:
        raise UsageError(
            f"invalid relay URL {url!r}: no query or fragment (never put a token in a URL)"
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/ws/agent"):
        path += "/ws/agent"
    return urlunsplit((scheme, parts.netloc, path, "", ""))
