"""``agent-sidecar run``: a command under a PTY, streamed to a relay (or an embedded one)."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import click

from ..activity.settings import ActivityConfig
from ..allocator import tune_allocator
from ..backoff import BackoffPolicy
from ..config import RunConfig, default_agent_id, parse_labels, token_agent_id
from ..errors import ExitCode, SidecarError, UsageError
from .group import fail, main, setup_logging
from .options import config_default, positive, sidecar_option

log = logging.getLogger("agent_sidecar")


def _default(field: str) -> Any:
    return config_default(RunConfig, field)


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@sidecar_option(
    "--relay",
    "relays",
    multiple=True,
    metavar="URL",
    help="Relay to stream to (ws://HOST:PORT or wss://HOST[/PATH]); repeat to give "
    "fallbacks, used in order. Without it, a relay is embedded on 127.0.0.1:--port.",
)
@sidecar_option(
    "--token",
    show_default=False,
    help="Agent token (JWT) for --relay. Prefer the environment variable: command "
    "lines are visible to other users. Not needed in embedded mode.",
)
@sidecar_option(
    "--agent-id",
    help="Agent id ([A-Za-z0-9][A-Za-z0-9._:-]{0,127}) [default: the sub of an agent "
    "token without an agents claim (the one id it may register), else "
    "HOST-COMMAND-RANDOM].",
)
@sidecar_option("--name", help="Name shown on the dashboard [default: the agent id].")
@sidecar_option(
    "--label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Label shown on the dashboard; repeatable.",
)
@sidecar_option(
    "--idle-after",
    type=float,
    default=_default("idle_after"),
    callback=positive,
    help="Seconds without output after which the agent is reported idle.",
)
@sidecar_option(
    "--drain-timeout",
    type=click.FloatRange(min=0),
    default=_default("drain_timeout"),
    help="After the command exits, seconds to wait for the relay to receive the rest.",
)
@sidecar_option(
    "--retain-bytes",
    type=click.IntRange(min=64 * 1024),
    default=_default("retain_bytes"),
    help="Output kept for resending after a reconnection (oldest dropped first).",
)
@sidecar_option(
    "--max-output-stall",
    type=click.FloatRange(min=0),
    default=_default("max_output_stall"),
    help="Seconds the command may wait on a connected relay that is behind (half of "
    "--retain-bytes unsent) before the oldest unsent output is dropped instead; 0 never "
    "makes it wait.",
)
@sidecar_option(
    "--port",
    type=click.IntRange(0, 65535),
    default=_default("port"),
    help="Embedded mode: port of the local relay to start or join.",
)
@sidecar_option(
    "--notify-webhook",
    "notify_webhooks",
    multiple=True,
    metavar="URL",
    help="Embedded mode: the relay POSTs JSON here when an agent starts waiting, finishes "
    "or fails; repeatable.",
)
@sidecar_option(
    "--notify-ntfy",
    "notify_ntfy",
    multiple=True,
    metavar="URL",
    help="Embedded mode: ntfy topic URL the relay publishes the same events to; repeatable.",
)
@sidecar_option(
    "--cols",
    type=click.IntRange(1, 1000),
    default=_default("cols"),
    help="Terminal width when not run from a terminal.",
)
@sidecar_option(
    "--rows",
    type=click.IntRange(1, 1000),
    default=_default("rows"),
    help="Terminal height when not run from a terminal.",
)
@sidecar_option(
    "--mirror/--no-mirror",
    default=_default("mirror"),
    help="Copy the output to stdout when it is not a terminal (always on in a terminal).",
)
@sidecar_option(
    "--reconnect-initial",
    type=click.FloatRange(min=0),
    default=config_default(BackoffPolicy, "initial"),
    help="First delay in seconds before reconnecting; doubles up to --reconnect-max.",
)
@sidecar_option(
    "--reconnect-max",
    type=float,
    default=config_default(BackoffPolicy, "maximum"),
    callback=positive,
    help="Longest delay in seconds between reconnection attempts.",
)
@sidecar_option(
    "--heartbeat-interval",
    type=float,
    default=_default("heartbeat_interval"),
    callback=positive,
    help="Seconds between heartbeats to the relay (shorter than --dead-after).",
)
@sidecar_option(
    "--dead-after",
    type=float,
    default=_default("dead_after"),
    callback=positive,
    help="Seconds of relay silence after which the connection is dropped and retried.",
)
@sidecar_option(
    "--eof-grace",
    type=float,
    default=_default("eof_grace"),
    callback=positive,
    help="After the command exits, seconds of PTY quiet before giving up on the rest of "
    "its output (a background process may hold the PTY open).",
)
@sidecar_option(
    "--kill-grace",
    type=float,
    default=_default("kill_grace"),
    callback=positive,
    help="After passing a hangup or SIGTERM on to the command, seconds before what is "
    "left of its process groups gets the next signal (SIGTERM, then SIGKILL).",
)
@sidecar_option(
    "--startup-wait",
    type=click.FloatRange(min=0),
    default=_default("startup_wait"),
    help="Seconds to wait for the relay's first answer before starting the command, so "
    "that a refused token fails fast.",
)
@sidecar_option(
    "--activity/--no-activity",
    default=config_default(ActivityConfig, "enabled"),
    help="Report what the agent is doing and whether it needs a person (screen, "
    "notification escapes, process, the agents' own hooks).",
)
@sidecar_option(
    "--agent-hooks/--no-agent-hooks",
    default=config_default(ActivityConfig, "hooks"),
    help="For Claude Code, Codex and Gemini CLI: add hooks that report to this sidecar, "
    "for this run only (no file of yours is changed).",
)
@sidecar_option(
    "--decision-timeout",
    type=float,
    default=config_default(ActivityConfig, "decision_timeout"),
    callback=positive,
    help="Seconds a permission request of Claude Code or Codex waits for an answer from a "
    "dashboard before the question goes back to the terminal. Never allowed by default.",
)
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
    notify_webhooks: tuple[str, ...],
    notify_ntfy: tuple[str, ...],
    cols: int,
    rows: int,
    mirror: bool,
    reconnect_initial: float,
    reconnect_max: float,
    heartbeat_interval: float,
    dead_after: float,
    eof_grace: float,
    kill_grace: float,
    startup_wait: float,
    activity: bool,
    agent_hooks: bool,
    decision_timeout: float,
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
    from ..terminal import LocalTerminal, is_interactive

    if command and command[0].startswith("-") and command[0] != "-":
        raise click.UsageError(f"no such option: {command[0]} (put the command after --)")
    setup_logging(ctx, "warning")
    agent_id = agent_id or token_agent_id(token) or default_agent_id(command)
    try:
        config = RunConfig(
            command=tuple(command),
            agent_id=agent_id,
            name=name or agent_id,
            labels=parse_labels(labels),
            relays=tuple(relays),
            token=token,
            port=port,
            notify_webhooks=tuple(notify_webhooks),
            notify_ntfy=tuple(notify_ntfy),
            idle_after=idle_after,
            drain_timeout=drain_timeout,
            retain_bytes=retain_bytes,
            max_output_stall=max_output_stall,
            cols=cols,
            rows=rows,
            interactive=is_interactive(),
            mirror=mirror,
            eof_grace=eof_grace,
            kill_grace=kill_grace,
            startup_wait=startup_wait,
            heartbeat_interval=heartbeat_interval,
            dead_after=dead_after,
            backoff=BackoffPolicy(initial=reconnect_initial, maximum=reconnect_max),
            activity=ActivityConfig(
                enabled=activity, hooks=agent_hooks, decision_timeout=decision_timeout
            ),
        )
        if config.relays and not config.token:
            raise UsageError("--relay needs a token: give --token or set AGENT_SIDECAR_TOKEN")
    except SidecarError as exc:
        raise click.UsageError(str(exc)) from None
    sys.exit(_run(config, LocalTerminal()))


def _run(config: RunConfig, terminal: Any) -> int:
    from ..runner import Runner

    tune_allocator()
    runner = Runner(config, terminal=terminal, stdout_fd=sys.stdout.fileno())
    try:
        return asyncio.run(runner.run())
    except SidecarError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except Exception:
        log.exception("internal error")
        fail("internal error (details above)", ExitCode.INTERNAL)
