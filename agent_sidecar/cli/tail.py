"""``agent-sidecar tail``: an agent's scrollback, then its live output with ``-f``."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, BinaryIO

import click

from .connect import CLIENT_NAME, client_options, run_client
from .group import main
from .options import sidecar_option

if TYPE_CHECKING:
    from ..client import Client, StreamEvent


@main.command()
@client_options
@sidecar_option("--follow", "-f", is_flag=True,
                help="After the scrollback, keep printing live output until the agent exits "
                "(across relay restarts: it reconnects and resumes where it was).")
@sidecar_option("--since", type=click.IntRange(min=0), default=None,
                help="Byte offset to start from [default: the oldest byte the relay keeps].")
@sidecar_option("--raw", is_flag=True,
                help="The exact bytes the agent's terminal got (escape sequences and all) "
                "instead of plain text.")
@click.argument("agent")
@click.pass_context
def tail(
    ctx: click.Context,
    relays: tuple[str, ...],
    token: str | None,
    port: int,
    follow: bool,
    since: int | None,
    raw: bool,
    agent: str,
) -> None:
    """Print AGENT's output: the scrollback the relay keeps (from --since), then, with
    -f, what it prints live. Plain text unless --raw; a gap (bytes the relay no longer
    has) is reported on stderr.

    \b
    Examples:
      agent-sidecar tail build-7
      agent-sidecar tail -f build-7
      agent-sidecar tail --raw --since 0 build-7 > build-7.typescript
    \b
    Exit codes (all client commands): 0 done; the agent's exit code when it is seen to
    have exited; 1 request answered not ok; 2 bad flags; 67 unknown agent; 69 relay
    unreachable; 70 internal error; 75 agent offline; 76 connection to the relay lost;
    77 token refused; 78 forbidden (role or scope).
    """

    async def body(client: Client) -> int:
        nonlocal agent
        agent = client.resolve(agent)  # a --name works too
        await client.agent(agent)
        if not follow:
            stream = await client.subscribe(agent, since=since, follow=False)
            return await _print(stream, sys.stdout.buffer, agent, raw=raw)
        return await _print(_follow(client), sys.stdout.buffer, agent, raw=raw)

    def _follow(first: Client) -> AsyncIterator[StreamEvent]:
        """Live output that survives relay restarts: reconnects, resumes where it was."""
        from ..client import Client, ClientError, resolve_endpoints
        from ..client.follow import follow as follow_agent
        from ..embedded import runtime_dir

        unused = [first]

        async def connect() -> Client:
            if unused:
                return unused.pop()
            endpoints = resolve_endpoints(relays, token, port, runtime_dir())
            return await Client.connect_first(endpoints, client_name=CLIENT_NAME)

        outage: list[ClientError] = []  # the loss being retried, told once

        def lost(exc: ClientError) -> None:
            if not outage:
                _notice(f"{exc}; reconnecting")
            outage[:] = [exc]

        def back() -> None:
            outage.clear()
            _notice(f"reconnected; following {agent} again")

        return follow_agent(connect, agent, since, on_lost=lost, on_back=back)

    run_client(ctx, relays, token, port, body)


async def _print(
    stream: AsyncIterable[StreamEvent], out: BinaryIO, agent: str, *, raw: bool
) -> int:
    from ..client import Exited, TerminalGap, TerminalOutput
    from ..client.plaintext import PlainText

    text = None if raw else PlainText()
    try:
        async for event in stream:
            if isinstance(event, TerminalOutput):
                out.write(event.data if text is None else text.feed(event.data).encode())
                out.flush()
            elif isinstance(event, TerminalGap):
                _notice(f"{event.to - event.from_} bytes of {agent} are gone (offsets "
                        f"{event.from_}-{event.to}): the relay no longer has them")
            elif isinstance(event, Exited):
                if text is not None:
                    out.write(text.flush().encode())
                    out.flush()
                code = event.exit_code if event.exit_code is not None else 0
                signal = f" ({event.info.signal})" if event.info.signal else ""
                _notice(f"{agent} exited with code {code}{signal}")
                return code
        if text is not None:
            out.write(text.flush().encode())
            out.flush()
    except BrokenPipeError:  # `tail ... | head`: the reader is done, so are we
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())  # no second BrokenPipeError when Python exits
        os.close(devnull)
    return 0


def _notice(text: str) -> None:
    click.echo(f"agent-sidecar: {text}", err=True)
