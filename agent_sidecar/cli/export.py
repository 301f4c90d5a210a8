"""``agent-sidecar export AGENT``: an agent's session as an asciicast v2 file on stdout.

Plain REST (``GET /api/agents/{id}/cast``) with the connection options of the other
client commands (``--relay`` repeatable, ``--token``, ``--port`` for the local relay) and
their exit codes (README.md, "Exit codes of the client commands").
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

import click

from .connect import client_options, exit_with
from .group import main, setup_logging

if TYPE_CHECKING:
    from ..client import Endpoint

#: Seconds to wait for the relay to answer before trying the next ``--relay``.
CONNECT_TIMEOUT = 10.0


@main.command("export")
@client_options
@click.argument("agent_id")
@click.pass_context
def export(
    ctx: click.Context, relays: tuple[str, ...], token: str | None, port: int, agent_id: str
) -> None:
    """Write AGENT_ID's session as an asciicast v2 recording to stdout: its output with
    the time of each chunk, resizes, and markers for activity changes, decisions and the
    exit. Play it with 'asciinema play FILE'.

    \b
    Examples:
      agent-sidecar export build-7 > build-7.cast
      AGENT_SIDECAR_TOKEN=... agent-sidecar export --relay wss://relay.example build-7
    Exit codes: 0 written; 67 unknown agent; 69 relay unreachable; 77 token refused;
    78 forbidden.
    """
    from ..client import ClientError, resolve_endpoints
    from ..embedded import runtime_dir

    setup_logging(ctx, "warning")
    try:
        endpoints = resolve_endpoints(relays, token, port, runtime_dir())
        asyncio.run(_export(endpoints, agent_id, sys.stdout.buffer))
    except ClientError as exc:
        exit_with(str(exc), int(exc.exit_code))
    except BrokenPipeError:
        sys.exit(0)  # `export ... | head`: the reader has what it wanted


async def _export(endpoints: Sequence[Endpoint], agent_id: str, out: BinaryIO) -> None:
    """Try each endpoint in order until one answers; stream its cast to ``out``."""
    import aiohttp

    from ..client import (
        ClientError,
        ConnectionLost,
        Forbidden,
        RelayUnreachable,
        TokenRefused,
        UnknownAgent,
    )

    failures: list[str] = []
    timeout = aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT, sock_read=CONNECT_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for endpoint in endpoints:
            written = 0
            url = f"{endpoint.http_url}/api/agents/{quote(agent_id, safe='')}/cast"
            headers = {"Authorization": f"Bearer {endpoint.token}"}
            try:
                async with session.get(url, headers=headers) as resp:
                    if resp.status == 401:
                        raise TokenRefused(f"the relay at {endpoint.http_url} refused the token")
                    if resp.status == 403:
                        raise Forbidden(f"agent {agent_id!r} is outside this token's scope")
                    if resp.status == 404:
                        raise UnknownAgent(f"no agent {agent_id!r} on this relay")
                    if resp.status != 200:
                        raise ClientError(f"the relay answered {resp.status} for {url}")
                    async for chunk in resp.content.iter_chunked(65536):
                        out.write(chunk)
                        written += len(chunk)
                    out.flush()
                    return
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                if isinstance(exc, BrokenPipeError):
                    raise
                if written:  # half a cast is out: another relay's would not continue it
                    raise ConnectionLost(
                        f"the relay at {endpoint.http_url} dropped the cast after "
                        f"{written} bytes ({type(exc).__name__})"
                    ) from None
                failures.append(f"{endpoint.http_url}: {type(exc).__name__}")
    raise RelayUnreachable("cannot reach a relay: " + "; ".join(failures))
