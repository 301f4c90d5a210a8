"""``agent-sidecar relay``: a standalone relay, its options registered with :func:`relay_option`.

Each relay option sets the :class:`relay.config.RelayConfig` field of the same name (the
option's parameter name), takes its default from that field, and reads the environment
twin ``AGENT_RELAY_<LONG NAME>``. Only the key options (``--jwt-secret``,
``--jwt-public-key``) are turned into config fields by hand.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from relay.config import RelayConfig

from ..allocator import tune_allocator
from ..errors import ExitCode
from .group import fail, main, setup_logging
from .options import RELAY_PREFIX, config_default, positive, with_twin
from .relay_ops import add_options, pop_ops_config

#: Parameters of ``relay`` that are not RelayConfig fields of the same name.
KEY_OPTIONS = frozenset({"jwt_secret", "jwt_public_key"})


@main.command("relay")
@click.pass_context
def relay_command(ctx: click.Context, /, **options: Any) -> None:
    """Run a relay: sidecars connect to /ws/agent, dashboards to /ws/dashboard and /.

    Exit code: 0 after SIGTERM/SIGINT, 2 bad flags, 69 cannot listen.
    """
    from relay.config import ConfigError

    from ..jwt_keys import public_key_algorithm

    setup_logging(ctx, "info")
    jwt_secret: str | None = options.pop("jwt_secret")
    jwt_public_key: Path | None = options.pop("jwt_public_key")
    public_key = None
    algorithm = "HS256"
    if jwt_public_key is not None:
        public_key = jwt_public_key.read_text()
        try:
            algorithm = public_key_algorithm(public_key)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--jwt-public-key") from None
    if jwt_secret is None and public_key is None:
        raise click.UsageError("give --jwt-secret (or AGENT_RELAY_JWT_SECRET) or --jwt-public-key")
    ops = pop_ops_config(options)
    try:
        config = RelayConfig(
            ops=ops,
            jwt_secret=jwt_secret.encode() if jwt_secret is not None else None,
            jwt_public_key=public_key,
            jwt_algorithm=algorithm,  # type: ignore[arg-type]
            **options,
        )
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    sys.exit(_serve(config))


def relay_option(*decls: str, **kwargs: Any) -> click.Option:
    """Add an option to ``relay``; it sets the RelayConfig field named like its parameter.

    ``relay_option("--audit-log", type=click.Path(path_type=Path), help=...)`` sets
    ``RelayConfig.audit_log``, takes that field's default and reads
    ``AGENT_RELAY_AUDIT_LOG``. Raises at import time when the field does not exist or a
    second default is given, so a mistake cannot reach a user.
    """
    name = click.Option(decls).name
    if name not in KEY_OPTIONS:
        if "default" in kwargs:
            raise ValueError(f"relay option {decls}: its default comes from RelayConfig")
        kwargs["default"] = config_default(RelayConfig, str(name))
    option = click.Option(decls, **with_twin(RELAY_PREFIX, decls, kwargs))
    relay_command.params.append(option)
    return option


def _serve(config: RelayConfig) -> int:
    from relay.server import serve

    tune_allocator()
    try:
        return asyncio.run(serve(config))
    except OSError as exc:
        fail(
            f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}",
            ExitCode.UNAVAILABLE,
        )
    except KeyboardInterrupt:
        return 0


relay_option("--host", help="Address to listen on (0.0.0.0 for all).")
relay_option("--port", type=click.IntRange(0, 65535), help="Port to listen on; 0 picks a free one.")
relay_option("--jwt-secret", show_default=False, help="HS256 secret, at least 32 bytes.")
relay_option(
    "--jwt-public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM public key for RS256/ES256 (instead of --jwt-secret).",
)
relay_option(
    "--audience",
    help="Audience (aud claim) every token must carry; mint them with token --audience.",
)
relay_option("--public-url", help="Origin browsers use when behind a reverse proxy.")
relay_option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="Extra origin allowed to open WebSockets; repeatable.",
)
relay_option("--scrollback-bytes", type=click.IntRange(min=1), help="Output kept per agent.")
relay_option(
    "--scrollback-budget",
    "scrollback_budget_bytes",
    type=click.IntRange(min=1),
    help="Output kept for all agents together (without --redis); past it the oldest "
    "ended agents' output is freed, their records kept.",
)
relay_option(
    "--slow-consumer-bytes",
    type=click.IntRange(min=1),
    help="Unsent bytes after which a dashboard is closed with 4503.",
)
relay_option(
    "--max-connections-per-identity",
    type=click.IntRange(min=1),
    help="Connections per token subject, then 4429.",
)
relay_option(
    "--rate-limit",
    type=float,
    help="Input-bearing messages per second per dashboard connection.",
)
relay_option(
    "--max-pending-connections",
    type=click.IntRange(min=1),
    help="Connections that may wait for their first complete request head at once; "
    "a new one past it closes the oldest of them (slow or half-open clients).",
)
relay_option("--rate-burst", type=click.IntRange(min=1), help="Burst allowance for --rate-limit.")
relay_option(
    "--max-message-bytes",
    type=click.IntRange(min=1),
    help="Largest WebSocket message accepted (larger: close 1009).",
)
relay_option(
    "--forget-after",
    type=float,
    help="Seconds after which exited or disconnected agents are forgotten.",
)
relay_option(
    "--redis",
    "redis_url",
    envvar="AGENT_RELAY_REDIS_URL",
    show_default=False,
    help="redis://HOST:PORT/DB shared by several relays (scale-out).",
)
relay_option(
    "--redis-liveness-ttl",
    type=float,
    callback=positive,
    help="With --redis: seconds a relay counts as alive without a refresh; its agents turn "
    "disconnected elsewhere after that plus one sweep interval.",
)
relay_option(
    "--redis-sweep-interval",
    type=float,
    callback=positive,
    help="With --redis: seconds between looks for agents of dead relays.",
)
relay_option(
    "--notify-webhook",
    "notify_webhooks",
    multiple=True,
    show_default=False,
    help="URL that gets a JSON POST when an agent starts waiting, finishes or fails; "
    "repeatable (the environment twin takes several, space-separated).",
)
relay_option(
    "--notify-ntfy",
    "notify_ntfy",
    multiple=True,
    show_default=False,
    help="ntfy topic URL (e.g. https://ntfy.sh/TOPIC) published to on the same events; "
    "repeatable.",
)
relay_option(
    "--redis-prefix",
    help="With --redis: prefix of every key and channel (several fleets may share one Redis).",
)
add_options(relay_command)
