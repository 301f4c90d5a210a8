"""The ``agent-sidecar`` click group, logging set-up and the exit helper commands share."""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

import click

from .. import __version__
from ..errors import ExitCode
from .options import sidecar_option

LOG_LEVELS = click.Choice(["debug", "info", "warning", "error"], case_sensitive=False)


def fail(message: str, code: ExitCode) -> NoReturn:
    """One line on stderr, then exit with ``code``."""
    click.echo(f"agent-sidecar: {message}", err=True)
    sys.exit(int(code))


def setup_logging(ctx: click.Context, default: str) -> None:
    """Log to stderr at the group's ``--log-level``, else at ``default`` (the command's),
    in the group's ``--log-format``."""
    from relay.ops.logs import make_formatter

    params = ctx.find_root().params
    level = params.get("log_level")
    handler = logging.StreamHandler(sys.stderr)
    # "\r\n" keeps log lines readable when the terminal is in raw mode.
    handler.terminator = "\r\n" if sys.stderr.isatty() else "\n"
    handler.setFormatter(make_formatter("json" if params.get("log_format") == "json"
                                        else "human"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level if isinstance(level, str) else default).upper())


@click.group(context_settings={"show_default": True})
@click.version_option(__version__, prog_name="agent-sidecar")
@sidecar_option(
    "--log-level",
    type=LOG_LEVELS,
    default=None,
    help="Log level on stderr [default: the command's: warning for run and token, info "
    "for relay].",
)
@sidecar_option(
    "--log-format",
    type=click.Choice(["human", "json"]),
    default="human",
    help="Log lines on stderr: human, or json (one object per line, with the id of the "
    "connection that logged it).",
)
def main(log_level: str | None, log_format: str) -> None:
    """Run a command under a PTY and watch and steer it from a web dashboard, or from
    a terminal (ls, tail, attach, send, interrupt, answer, decide)."""
