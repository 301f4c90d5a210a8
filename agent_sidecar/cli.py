"""The ``agent-sidecar`` command line: ``run``, ``token`` and ``relay``.

Thin on purpose: parse, build a config object that validates itself, configure logging
once, ``asyncio.run``, and map exceptions to the named exit codes of
:class:`agent_sidecar.errors.ExitCode`. Every option has an environment twin
(``AGENT_SIDECAR_*`` for ``run``/``token``, ``AGENT_RELAY_*`` for ``relay``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
from click.decorators import FC

from . import __version__
from .allocator import tune_allocator
from .backoff import BackoffPolicy
from .config import DEFAULT_PORT, MIB, RunConfig, default_agent_id, parse_labels
from .errors import ExitCode, SidecarError, UsageError

log = logging.getLogger("agent_sidecar")

CONTEXT = {"auto_envvar_prefix": "AGENT_SIDECAR", "show_default": True}
LOG_LEVELS = click.Choice(["debug", "info", "warning", "error"], case_sensitive=False)


def _fail(message: str, code: ExitCode) -> NoReturn:
    click.echo(f"agent-sidecar: {message}", err=True)
    sys.exit(int(code))


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    # "\r\n" keeps log lines readable when the terminal is in raw mode.
    handler.terminator = "\r\n" if sys.stderr.isatty() else "\n"
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="agent-sidecar")
@click.option(
    "--log-level",
    type=LOG_LEVELS,
    default=None,
    show_envvar=True,
    help="Log level on stderr [default: warning for run/token, info for relay].",
)
@click.pass_context
def main(ctx: click.Context, log_level: str | None) -> None:
    """Run a command under a PTY and watch and steer it from a web dashboard."""
    ctx.obj = log_level


def _log_level(ctx: click.Context, default: str) -> str:
    level = ctx.find_root().obj
    return level if isinstance(level, str) else default


# --------------------------------------------------------------------------- run


def _positive(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and value <= 0:
        raise click.BadParameter(f"must be positive, got {value}")
    return value


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--relay",
    "relays",
    multiple=True,
    envvar="AGENT_SIDECAR_RELAY",
    show_envvar=True,
    metavar="URL",
    help="Relay to stream to (ws://HOST:PORT or wss://HOST[/PATH]); repeat to give "
    "fallbacks, used in order. Without it, a relay is embedded on 127.0.0.1:--port.",
)
@click.option(
    "--token",
    envvar="AGENT_SIDECAR_TOKEN",
    show_envvar=True,
    show_default=False,
    help="Agent token (JWT) for --relay. Prefer the environment variable: command "
    "lines are visible to other users. Not needed in embedded mode.",
)
@click.option(
    "--agent-id",
    envvar="AGENT_SIDECAR_AGENT_ID",
    show_envvar=True,
    help="Agent id ([A-Za-z0-9][A-Za-z0-9._:-]{0,127}) [default: HOST-COMMAND-RANDOM].",
)
@click.option(
    "--name",
    envvar="AGENT_SIDECAR_NAME",
    show_envvar=True,
    help="Name shown on the dashboard [default: the agent id].",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    envvar="AGENT_SIDECAR_LABEL",
    show_envvar=True,
    help="Label shown on the dashboard; repeatable.",
)
@click.option(
    "--idle-after",
    type=float,
    default=5.0,
    callback=_positive,
    envvar="AGENT_SIDECAR_IDLE_AFTER",
    show_envvar=True,
    help="Seconds without output after which the agent is reported idle.",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(min=0),
    default=10.0,
    envvar="AGENT_SIDECAR_DRAIN_TIMEOUT",
    show_envvar=True,
    help="After the command exits, seconds to wait for the relay to receive the rest.",
)
@click.option(
    "--retain-bytes",
    type=click.IntRange(min=64 * 1024),
    default=8 * MIB,
    envvar="AGENT_SIDECAR_RETAIN_BYTES",
    show_envvar=True,
    help="Output kept for resending after a reconnection (oldest dropped first).",
)
@click.option(
    "--max-output-stall",
    type=click.FloatRange(min=0),
    default=1.0,
    envvar="AGENT_SIDECAR_MAX_OUTPUT_STALL",
    show_envvar=True,
    help="Seconds the command may wait on a connected relay that is behind (half of "
    "--retain-bytes unsent) before the oldest unsent output is dropped instead; 0 never "
    "makes it wait.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    envvar="AGENT_SIDECAR_PORT",
    show_envvar=True,
    help="Embedded mode: port of the local relay to start or join.",
)
@click.option(
    "--cols",
    type=click.IntRange(1, 1000),
    default=80,
    envvar="AGENT_SIDECAR_COLS",
    show_envvar=True,
    help="Terminal width when not run from a terminal.",
)
@click.option(
    "--rows",
    type=click.IntRange(1, 1000),
    default=24,
    envvar="AGENT_SIDECAR_ROWS",
    show_envvar=True,
    help="Terminal height when not run from a terminal.",
)
@click.option(
    "--mirror/--no-mirror",
    default=True,
    envvar="AGENT_SIDECAR_MIRROR",
    show_envvar=True,
    help="Copy the output to stdout when it is not a terminal (always on in a terminal).",
)
@click.option(
    "--reconnect-max",
    type=float,
    default=30.0,
    callback=_positive,
    envvar="AGENT_SIDECAR_RECONNECT_MAX",
    show_envvar=True,
    help="Longest delay in seconds between reconnection attempts.",
)
@click.option("--reconnect-initial", type=float, default=0.5, hidden=True,
              help="First reconnection delay (seconds).")
@click.option("--heartbeat-interval", type=float, default=15.0, hidden=True,
              help="Seconds between heartbeats.")
@click.option("--dead-after", type=float, default=45.0, hidden=True,
              help="Seconds of relay silence after which it is treated as dead.")
@click.option("--eof-grace", type=float, default=0.5, hidden=True,
              help="Seconds of PTY quiet after the command exits before giving up on EOF.")
@click.option("--startup-wait", type=float, default=3.0, hidden=True,
              help="Seconds to wait for the relay's answer before starting the command.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
@click.pass_context
def run(
    ctx: click.Context,
    relays: tuple[str, ...],
    token: str | None,
    agent_id: str | None,
    name: str | None,
    labels: tuple[str, ...],
    idle_after: float,
    drain_timeout: float,
    retain_bytes: int,
    max_output_stall: float,
    port: int,
    cols: int,
    rows: int,
    mirror: bool,
    reconnect_max: float,
    reconnect_initial: float,
    heartbeat_interval: float,
    dead_after: float,
    eof_grace: float,
    startup_wait: float,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND under a PTY and stream it to a relay.

    \b
    Examples:
      agent-sidecar run -- claude
      agent-sidecar run --relay wss://relay.example --label team=infra -- ./agent.sh
    Exit code: the command's (128+N if signal N killed it); 2 bad flags, 69 embedded
    relay port taken by another program, 77 token refused at start, 126/127 command not
    executable/not found.
    """
    from .terminal import LocalTerminal, is_interactive

    if command and command[0].startswith("-") and command[0] != "-":
        raise click.UsageError(f"no such option: {command[0]} (put the command after --)")
    _setup_logging(_log_level(ctx, "warning"))
    agent_id = agent_id or default_agent_id(command)
    try:
        config = RunConfig(
            command=tuple(command),
            agent_id=agent_id,
            name=name or agent_id,
            labels=parse_labels(labels),
            relays=tuple(relays),
            token=token,
            port=port,
            idle_after=idle_after,
            drain_timeout=drain_timeout,
            retain_bytes=retain_bytes,
            max_output_stall=max_output_stall,
            cols=cols,
            rows=rows,
            interactive=is_interactive(),
            mirror=mirror,
            eof_grace=eof_grace,
            startup_wait=startup_wait,
            heartbeat_interval=heartbeat_interval,
            dead_after=dead_after,
            backoff=BackoffPolicy(initial=reconnect_initial, maximum=reconnect_max),
        )
        if config.relays and not config.token:
            raise UsageError(
                "--relay needs a token: give --token or set AGENT_SIDECAR_TOKEN"
            )
    except SidecarError as exc:
        raise click.UsageError(str(exc)) from None
    sys.exit(_run(config, LocalTerminal()))


def _run(config: RunConfig, terminal: Any) -> int:
    from .runner import Runner

    tune_allocator()
    runner = Runner(config, terminal=terminal, stdout_fd=sys.stdout.fileno())
    try:
        return asyncio.run(runner.run())
    except SidecarError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except Exception:
        log.exception("internal error")
        _fail("internal error (details above)", ExitCode.INTERNAL)


# --------------------------------------------------------------------------- token


@main.command()
@click.option(
    "--role",
    type=click.Choice(["agent", "viewer", "operator", "admin"]),
    required=True,
    help="Role of the token.",
)
@click.option("--sub", required=True, help="Subject: the identity (agent id for agents).")
@click.option(
    "--agents",
    "agents",
    multiple=True,
    metavar="PATTERN",
    help="Restrict the token to agent ids matching this glob; repeatable.",
)
@click.option("--ttl", type=float, default=3600.0, callback=_positive,
              help="Lifetime in seconds.")
@click.option(
    "--jwt-secret",
    envvar="AGENT_RELAY_JWT_SECRET",
    show_envvar=True,
    show_default=False,
    help="HS256 secret (at least 32 bytes) [default: the embedded relay's, from its "
    "runtime file for --port].",
)
@click.option(
    "--jwt-private-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="AGENT_RELAY_JWT_PRIVATE_KEY",
    show_envvar=True,
    help="PEM private key for RS256/ES256 relays (started with --jwt-public-key).",
)
@click.option("--audience", default="agent-relay", envvar="AGENT_RELAY_AUDIENCE",
              show_envvar=True, help="Audience (aud) the relay expects.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    envvar="AGENT_SIDECAR_PORT",
    show_envvar=True,
    help="Without a secret: the port of the embedded relay whose secret to use.",
)
@click.pass_context
def token(
    ctx: click.Context,
    role: str,
    sub: str,
    agents: tuple[str, ...],
    ttl: float,
    jwt_secret: str | None,
    jwt_private_key: Path | None,
    audience: str,
    port: int,
) -> None:
    """Print a signed token (JWT) for a dashboard, a script or a sidecar."""
    from relay.auth import mint_token

    from .jwt_keys import private_key_algorithm

    _setup_logging(_log_level(ctx, "warning"))
    key: str | bytes
    algorithm = "HS256"
    if jwt_secret and jwt_private_key:
        raise click.UsageError("give either --jwt-secret or --jwt-private-key, not both")
    if jwt_private_key is not None:
        key = jwt_private_key.read_text()
        try:
            algorithm = private_key_algorithm(key)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--jwt-private-key") from None
    elif jwt_secret:
        key = jwt_secret.encode()
        if len(key) < 32:
            raise click.BadParameter(
                f"the secret has {len(key)} bytes; at least 32 are required",
                param_hint="--jwt-secret",
            )
    else:
        from .embedded import read_runtime, runtime_dir, runtime_file

        path = runtime_file(port, runtime_dir())
        info = read_runtime(path)
        if info is None:
            _fail(
                f"no secret: give --jwt-secret (or AGENT_RELAY_JWT_SECRET), or start an "
                f"embedded relay with 'agent-sidecar run' on port {port} (no {path})",
                ExitCode.USAGE,
            )
        key = info.secret
    click.echo(
        mint_token(
            key,
            sub=sub,
            role=role,  # type: ignore[arg-type]
            agents=list(agents) or None,
            ttl=ttl,
            audience=audience,
            algorithm=algorithm,
        )
    )


# --------------------------------------------------------------------------- relay


def _relay_option(*decls: str, **kwargs: Any) -> Callable[[FC], FC]:
    """An option of ``relay`` with its ``AGENT_RELAY_*`` environment twin."""
    env = "AGENT_RELAY_" + decls[0].lstrip("-").replace("-", "_").upper()
    kwargs.setdefault("envvar", env)
    return click.option(*decls, show_envvar=True, **kwargs)


@main.command()
@_relay_option("--host", default="127.0.0.1", help="Address to listen on (0.0.0.0 for all).")
@_relay_option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT,
               help="Port to listen on; 0 picks a free one.")
@_relay_option("--jwt-secret", show_default=False,
               help="HS256 secret, at least 32 bytes.")
@_relay_option("--jwt-public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
               help="PEM public key for RS256/ES256 (instead of --jwt-secret).")
@_relay_option("--public-url", help="Origin browsers use when behind a reverse proxy.")
@_relay_option("--allowed-origin", "allowed_origins", multiple=True,
               help="Extra origin allowed to open WebSockets; repeatable.")
@_relay_option("--scrollback-bytes", type=click.IntRange(min=1), default=8 * MIB,
               help="Output kept per agent.")
@_relay_option("--slow-consumer-bytes", type=click.IntRange(min=1), default=8 * MIB,
               help="Unsent bytes after which a dashboard is closed with 4503.")
@_relay_option("--max-connections-per-identity", type=click.IntRange(min=1), default=100,
               help="Connections per token subject, then 4429.")
@_relay_option("--rate-limit", type=float, default=50.0,
               help="Input-bearing messages per second per dashboard connection.")
@_relay_option("--rate-burst", type=click.IntRange(min=1), default=200,
               help="Burst allowance for --rate-limit.")
@_relay_option("--max-message-bytes", type=click.IntRange(min=1), default=1 * MIB,
               help="Largest WebSocket message accepted (larger: close 1009).")
@_relay_option("--forget-after", type=float, default=3600.0,
               help="Seconds after which exited or disconnected agents are forgotten.")
@_relay_option("--redis", envvar="AGENT_RELAY_REDIS_URL",
               help="redis://HOST:PORT/DB shared by several relays (scale-out).")
@_relay_option("--redis-liveness-ttl", type=float, default=10.0, callback=_positive,
               help="With --redis: seconds a relay counts as alive without a refresh; its "
               "agents turn disconnected elsewhere after that plus one sweep interval.")
@_relay_option("--redis-sweep-interval", type=float, default=2.0, callback=_positive,
               help="With --redis: seconds between looks for agents of dead relays.")
@_relay_option("--redis-prefix", default="agent-relay",
               help="With --redis: prefix of every key and channel (several fleets may "
               "share one Redis).")
@click.pass_context
def relay(
    ctx: click.Context,
    host: str,
    port: int,
    jwt_secret: str | None,
    jwt_public_key: Path | None,
    public_url: str | None,
    allowed_origins: tuple[str, ...],
    scrollback_bytes: int,
    slow_consumer_bytes: int,
    max_connections_per_identity: int,
    rate_limit: float,
    rate_burst: int,
    max_message_bytes: int,
    forget_after: float,
    redis: str | None,
    redis_liveness_ttl: float,
    redis_sweep_interval: float,
    redis_prefix: str,
) -> None:
    """Run a relay: sidecars connect to /ws/agent, dashboards to /ws/dashboard and /.

    Exit code: 0 after SIGTERM/SIGINT, 2 bad flags, 69 cannot listen.
    """
    from relay.config import ConfigError, RelayConfig

    from .jwt_keys import public_key_algorithm

    _setup_logging(_log_level(ctx, "info"))
    public_key = None
    algorithm = "HS256"
    if jwt_public_key is not None:
        public_key = jwt_public_key.read_text()
        try:
            algorithm = public_key_algorithm(public_key)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--jwt-public-key") from None
    if jwt_secret is None and public_key is None:
        raise click.UsageError(
            "give --jwt-secret (or AGENT_RELAY_JWT_SECRET) or --jwt-public-key"
        )
    try:
        config = RelayConfig(
            host=host,
            port=port,
            jwt_secret=jwt_secret.encode() if jwt_secret is not None else None,
            jwt_public_key=public_key,
            jwt_algorithm=algorithm,  # type: ignore[arg-type]
            public_url=public_url,
            allowed_origins=tuple(allowed_origins),
            scrollback_bytes=scrollback_bytes,
            slow_consumer_bytes=slow_consumer_bytes,
            max_connections_per_identity=max_connections_per_identity,
            rate_limit=rate_limit,
            rate_burst=rate_burst,
            max_message_bytes=max_message_bytes,
            forget_after=forget_after,
            redis_url=redis,
            redis_liveness_ttl=redis_liveness_ttl,
            redis_sweep_interval=redis_sweep_interval,
            redis_prefix=redis_prefix,
        )
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    sys.exit(_serve(config))


def _serve(config: Any) -> int:
    from relay.server import serve

    tune_allocator()
    try:
        return asyncio.run(serve(config))
    except OSError as exc:
        _fail(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}",
              ExitCode.UNAVAILABLE)
    except KeyboardInterrupt:
        return 0


def entry(argv: Sequence[str] | None = None) -> None:
    """Console entry point (also ``python -m agent_sidecar``)."""
    main.main(args=list(argv) if argv is not None else None, prog_name="agent-sidecar")


__all__ = ["entry", "main"]
