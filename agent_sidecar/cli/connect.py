"""What the client commands (``ls``, ``tail``, ``attach``, ``send``, ``interrupt``,
``answer``, ``decide``) share: the connection options and the runner that maps the
client library's errors to their exit codes.

Exit codes (README.md, "Exit codes of the client commands"): 0 done; 1 the request was
answered but not done; 2 bad flags; 67 unknown agent; 69 relay unreachable; 70 internal
error; 75 agent offline; 76 connection lost; 77 token refused; 78 forbidden. ``tail`` and
``attach`` end with the agent's own exit code when they saw it exit.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

import click
from click.decorators import FC

from ..config import RunConfig
from .group import setup_logging
from .options import config_default, sidecar_option

if TYPE_CHECKING:
    from ..client import Client, Endpoint

log = logging.getLogger("agent_sidecar")

#: The name this CLI gives the relay in ``dashboard:connect.client``.
CLIENT_NAME = "agent-sidecar-cli"


def client_options(f: FC) -> FC:
    """``--relay`` (repeatable), ``--token`` and ``--port``, as ``run`` has them."""
    f = sidecar_option(
        "--port",
        type=click.IntRange(0, 65535),
        default=config_default(RunConfig, "port"),
        help="Without --relay: the port of the local relay that 'agent-sidecar run' "
        "embeds (found through its runtime file).",
    )(f)
    f = sidecar_option(
        "--token",
        show_default=False,
        help="Dashboard token (JWT; role viewer, operator or admin) for --relay. Prefer the "
        "environment variable: command lines are visible to other users. Without --relay, "
        "an operator token for the local relay is made from its runtime file.",
    )(f)
    f = sidecar_option(
        "--relay",
        "relays",
        multiple=True,
        metavar="URL",
        help="Relay to connect to (ws://HOST:PORT, wss://HOST[/PATH], http(s) works too); "
        "repeat to give fallbacks, tried in order. Without it, the local relay on --port.",
    )(f)
    return f


def timeout_option(f: FC) -> FC:
    return sidecar_option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=10.0,
        help="Seconds to wait for the agent's acknowledgement.",
    )(f)


def exit_with(message: str, code: int) -> NoReturn:
    click.echo(f"agent-sidecar: {message}", err=True)
    sys.exit(code)


def run_client(
    ctx: click.Context,
    relays: Sequence[str],
    token: str | None,
    port: int,
    body: Callable[[Client], Awaitable[int]],
) -> NoReturn:
    """Connect (first reachable endpoint), run ``body``, exit with what it returns or with
    the exit code of the :class:`ClientError` that stopped it."""
    from ..client import ClientError, ClientExit, resolve_endpoints
    from ..embedded import runtime_dir

    setup_logging(ctx, "warning")
    try:
        endpoints = resolve_endpoints(relays, token, port, runtime_dir())
        code = asyncio.run(_connected(endpoints, body))
    except ClientError as exc:
        exit_with(str(exc), int(exc.exit_code))
    except KeyboardInterrupt:
        code = 130
    except click.ClickException:
        raise  # a usage error found once connected (e.g. no such option to answer)
    except Exception:
        log.exception("internal error")
        exit_with("internal error (details above)", int(ClientExit.INTERNAL))
    sys.exit(code)


async def _connected(endpoints: list[Endpoint], body: Callable[[Client], Awaitable[int]]) -> int:
    from ..client import Client
    async with await Client.connect_first(endpoints, client_name=CLIENT_NAME) as client:
        return await body(client)
