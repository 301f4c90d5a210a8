"""The relay's configuration: one frozen object that validates itself.

Every limit and timeout of the relay is here, so tests can pass milliseconds and small
bounds. Secrets are kept out of ``repr``.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from relay.ops.config import OpsConfig

JwtAlgorithm: TypeAlias = Literal["HS256", "RS256", "ES256"]

MIB = 1024 * 1024
MIN_SECRET_BYTES = 32
#: The ``aud`` claim a relay accepts unless configured otherwise (contract section 2).
DEFAULT_AUDIENCE = "agent-relay"


class ConfigError(ValueError):
    """A configuration value is unusable; the message says which and why."""


def notify_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a notification channel, or None. Says it without the URL's
    path and query, which may hold a token."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "a notification URL does not parse"
    if parts.scheme not in ("http", "https") or not host:
        shown = f"{parts.scheme}://{host or ''}" if parts.scheme else "no scheme"
        return f"a notification URL must be http:// or https:// with a host, not {shown}"
    return None


@dataclass(frozen=True, slots=True)
class RelayConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    #: HS256 shared secret (bytes); exactly one of secret / public key is set.
    jwt_secret: bytes | None = field(default=None, repr=False)
    #: PEM public key for RS256/ES256.
    jwt_public_key: str | None = field(default=None, repr=False)
    jwt_algorithm: JwtAlgorithm = "HS256"
    #: Tokens must carry exactly this ``aud``.
    audience: str = DEFAULT_AUDIENCE
    #: Origin browsers use when the relay sits behind a proxy (e.g. https://relay.example).
    public_url: str | None = None
    allowed_origins: tuple[str, ...] = ()
    scrollback_bytes: int = 8 * MIB
    #: All scrollbacks together (in-memory relay): past it the scrollbacks of agents that
    #: ended longest ago are freed, their records kept (``relay.hub.budget``).
    scrollback_budget_bytes: int = 256 * MIB
    slow_consumer_bytes: int = 8 * MIB
    max_connections_per_identity: int = 100
    rate_limit: float = 50.0
    rate_burst: int = 200
    max_message_bytes: int = 1 * MIB
    forget_after: float = 3600.0
    hello_timeout: float = 5.0
    heartbeat_interval: float = 15.0
    #: A peer silent this long (no message, no pong) is dropped.
    dead_after: float = 45.0
    #: How long shutdown waits for sockets to close after sending 1001.
    shutdown_timeout: float = 5.0
    #: A connection must send a complete request head within this long of opening it
    #: (or of its previous response); else it is closed.
    header_timeout: float = 10.0
    #: At most this many connections may be waiting for their first complete request
    #: head; a new one past it closes the oldest of them (``relay.listener``).
    max_pending_connections: int = 256
    redis_url: str | None = field(default=None, repr=False)
    #: With Redis: a relay's liveness key lives this long without a refresh (refreshed
    #: every third of it); its agents turn ``disconnected`` elsewhere after that plus
    #: at most one sweep interval.
    redis_liveness_ttl: float = 10.0
    #: With Redis: how often one of the relays looks for agents of dead relays.
    redis_sweep_interval: float = 2.0
    #: With Redis: prefix of every key and channel (several fleets may share one Redis).
    redis_prefix: str = "agent-relay"
    #: URLs that get a JSON POST per notifying transition (they may hold tokens: never
    #: shown whole).
    notify_webhooks: tuple[str, ...] = field(default=(), repr=False)
    #: ntfy topic URLs (https://ntfy.sh/TOPIC) published to per notifying transition.
    notify_ntfy: tuple[str, ...] = field(default=(), repr=False)
    #: Tries per notice and channel; the first retry waits ``notify_retry_delay``,
    #: doubling; each try may take ``notify_timeout``.
    notify_attempts: int = 5
    notify_retry_delay: float = 1.0
    notify_timeout: float = 10.0
    #: Metrics listener, audit log and recordings (``relay.ops.config``).
    ops: OpsConfig = field(default_factory=OpsConfig)
    #: Presence: a dashboard counts as typing into an agent this long after its last
    #: input-bearing message.
    typing_seconds: float = 5.0

    def __post_init__(self) -> None:
        if (self.jwt_secret is None) == (self.jwt_public_key is None):
            raise ConfigError("give exactly one of a JWT secret (HS256) or a JWT public key")
        if self.jwt_secret is not None:
            if self.jwt_algorithm != "HS256":
                raise ConfigError("a JWT secret is used with HS256 only")
            if len(self.jwt_secret) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"the JWT secret has {len(self.jwt_secret)} bytes; "
                    f"at least {MIN_SECRET_BYTES} are required"
                )
        if self.jwt_public_key is not None and self.jwt_algorithm not in ("RS256", "ES256"):
            raise ConfigError("a JWT public key is used with RS256 or ES256")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0-65535, got {self.port}")
        for name in (
            "scrollback_bytes",
            "scrollback_budget_bytes",
            "slow_consumer_bytes",
            "max_message_bytes",
            "max_connections_per_identity",
            "max_pending_connections",
            "rate_burst",
            "notify_attempts",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in (
            "rate_limit",
            "forget_after",
            "hello_timeout",
            "heartbeat_interval",
            "dead_after",
            "shutdown_timeout",
            "header_timeout",
            "redis_liveness_ttl",
            "redis_sweep_interval",
            "notify_retry_delay",
            "notify_timeout",
            "typing_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for url in (*self.notify_webhooks, *self.notify_ntfy):
            problem = notify_url_problem(url)
            if problem is not None:
                raise ConfigError(problem)
        if self.heartbeat_interval >= self.dead_after:
            raise ConfigError("heartbeat_interval must be shorter than dead_after")
