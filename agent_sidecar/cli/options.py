"""Option helpers shared by the commands: one environment twin, one default source.

Declare every option with :func:`sidecar_option` (twin ``AGENT_SIDECAR_<NAME>``) or
:func:`relay_env_option` (twin ``AGENT_RELAY_<NAME>``, for options that mean what the
relay's option of that name means, like ``token --jwt-secret``). The twin is derived from
the option's first long name (``--retain-bytes`` -> ``AGENT_SIDECAR_RETAIN_BYTES``) and
shown in ``--help``. Defaults come from the config objects through
:func:`config_default`, never from a second literal.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import click
from click.decorators import FC

SIDECAR_PREFIX = "AGENT_SIDECAR_"
RELAY_PREFIX = "AGENT_RELAY_"


def envvar_for(prefix: str, decl: str) -> str:
    """``--retain-bytes`` -> ``PREFIX + RETAIN_BYTES``; ``--mirror/--no-mirror`` -> ``MIRROR``."""
    name = decl.split("/", 1)[0].lstrip("-")
    return prefix + name.replace("-", "_").upper()


def with_twin(prefix: str, decls: tuple[str, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` for ``click.Option`` with the environment twin named and shown."""
    long_names = [d for d in decls if d.startswith("--")]
    if not long_names:
        raise ValueError(f"an option needs a --long name, got {decls}")
    return {"envvar": envvar_for(prefix, long_names[0]), "show_envvar": True, **kwargs}


def config_default(config: type[Any], field: str) -> Any:
    """The default of ``field`` in the dataclass ``config`` (the one source of it)."""
    for item in dataclasses.fields(config):
        if item.name == field:
            if item.default is not dataclasses.MISSING:
                return item.default
            if item.default_factory is not dataclasses.MISSING:
                return item.default_factory()
            break
    raise LookupError(f"{config.__name__}.{field} has no default")


def sidecar_option(*decls: str, **kwargs: Any) -> Callable[[FC], FC]:
    """A click option whose environment twin is ``AGENT_SIDECAR_<LONG NAME>``."""
    return click.option(*decls, **with_twin(SIDECAR_PREFIX, decls, kwargs))


def relay_env_option(*decls: str, **kwargs: Any) -> Callable[[FC], FC]:
    """A click option whose environment twin is ``AGENT_RELAY_<LONG NAME>``."""
    return click.option(*decls, **with_twin(RELAY_PREFIX, decls, kwargs))


def positive(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Callback: refuse zero, negative numbers, ``inf`` and ``nan`` (``None`` passes)."""
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise click.BadParameter(f"must be positive and finite, got {value}")
    return value
