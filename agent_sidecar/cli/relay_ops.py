"""The operations options of ``agent-sidecar relay`` (metrics listener, audit, recordings).

They set the fields of :class:`relay.ops.config.OpsConfig`, which ``RelayConfig`` carries
as ``ops``: each option is named after its field, takes that field's default and reads
the environment twin ``AGENT_RELAY_<LONG NAME>``. ``relay`` turns them into the
``OpsConfig`` with :func:`pop_ops_config`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from relay.ops.config import OpsConfig, OpsConfigError, parse_listen

from .options import RELAY_PREFIX, config_default, with_twin

FIELDS = frozenset(f.name for f in dataclasses.fields(OpsConfig))


def ops_option(command: click.Command, *decls: str, **kwargs: Any) -> click.Option:
    """Add an option to ``command`` that sets the OpsConfig field named like it."""
    name = str(click.Option(decls).name)
    if name not in FIELDS:
        raise ValueError(f"option {decls}: OpsConfig has no field {name}")
    kwargs["default"] = config_default(OpsConfig, name)
    option = click.Option(decls, **with_twin(RELAY_PREFIX, decls, kwargs))
    command.params.append(option)
    return option


def pop_ops_config(options: dict[str, Any]) -> OpsConfig:
    """Take the operations options out of ``options`` and build their config."""
    values = {name: options.pop(name) for name in FIELDS if name in options}
    try:
        return OpsConfig(**values)
    except OpsConfigError as exc:
        raise click.UsageError(str(exc)) from None


def _listen(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return parse_listen(value)
    except OpsConfigError as exc:
        raise click.BadParameter(str(exc)) from None


def add_options(command: click.Command) -> None:
    path = click.Path(path_type=Path)
    ops_option(
        command, "--metrics-listen", metavar="HOST:PORT", callback=_listen,
        help="Also serve /metrics on this address without a token (bind it to a private "
        "address). On the relay's port /metrics needs an admin token.",
    )
    ops_option(
        command, "--audit-log", type=click.Path(dir_okay=False, path_type=Path),
        help="Append one JSON line per control action to this file (mode 0600).",
    )
    ops_option(command, "--audit-max-bytes", type=click.IntRange(min=1),
               help="Rotate the audit file when it would pass this size.")
    ops_option(command, "--audit-backups", type=click.IntRange(min=0),
               help="Rotated audit files kept (FILE.1 .. FILE.N).")
    ops_option(command, "--audit-stream-max", type=click.IntRange(min=1),
               help="With --redis: approximate length cap of the shared audit stream.")
    ops_option(
        command, "--record-dir", type=path,
        help="Keep each agent's session as DIR/AGENT_ID.cast (asciicast v2) past the "
        "scrollback.",
    )
    ops_option(command, "--record-max-bytes", type=click.IntRange(min=1),
               help="Largest recording file per agent; past it the recording stops.")
