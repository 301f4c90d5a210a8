"""``agent-sidecar ls``: the agents a token may see, once or kept live (``--watch``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import time
from typing import TYPE_CHECKING, TextIO

import click

from relay.protocol import AgentStatusEvent, agent_info_dict, encode

from .connect import client_options, run_client
from .group import main
from .options import sidecar_option

if TYPE_CHECKING:
    from ..client import Client

#: Alternate screen on/off, cursor home + clear, hide/show the cursor.
ALT_SCREEN_ON = "\x1b[?1049h\x1b[?25l"
ALT_SCREEN_OFF = "\x1b[?25h\x1b[?1049l"
HOME_CLEAR = "\x1b[H\x1b[2J"


@main.command("ls")
@client_options
@sidecar_option("--json", "as_json", is_flag=True,
                help="JSON instead of a table: the AgentInfo objects of the protocol.")
@sidecar_option("--watch", is_flag=True,
                help="Keep the list live until Ctrl-C (with --json: one agent:status or "
                "agent:removed message per line, as the relay sends them).")
@click.pass_context
def ls(
    ctx: click.Context,
    relays: tuple[str, ...],
    token: str | None,
    port: int,
    as_json: bool,
    watch: bool,
) -> None:
    """List the agents this token may see: state, time in state, activity and the
    prompt of an agent waiting for a person (with numbered options for 'answer').

    \b
    Examples:
      agent-sidecar ls
      agent-sidecar ls --watch
      agent-sidecar ls --json | jq -r '.[] | select(.activity.state == "waiting") | .agent_id'
      AGENT_SIDECAR_TOKEN=... agent-sidecar ls --relay wss://relay.example
    Exit codes: see 'agent-sidecar tail --help'.
    """

    async def body(client: Client) -> int:
        from ..client.table import render

        out = sys.stdout
        if as_json and watch:
            await _watch_json(client, out)
        elif as_json:
            _print_json(client, out)
        elif watch:
            await _watch_table(client, out)
        else:
            out.write(render(client.agents.values(), time.time(), _width(out)))
        return 0

    run_client(ctx, relays, token, port, body)


def _width(out: TextIO) -> int | None:
    return shutil.get_terminal_size().columns if out.isatty() else None


def _print_json(client: Client, out: TextIO) -> None:


    agents = [agent_info_dict(info) for info in sorted(client.agents.values(),
                                                       key=lambda i: i.agent_id)]
    out.write(json.dumps(agents, indent=2, ensure_ascii=False) + "\n")


async def _watch_json(client: Client, out: TextIO) -> None:
    for info in sorted(client.agents.values(), key=lambda i: i.agent_id):
        out.write(encode(AgentStatusEvent(agent=info)) + "\n")
    out.flush()
    async for event in client.events():
        out.write(encode(event) + "\n")
        out.flush()


async def _watch_table(client: Client, out: TextIO) -> None:
    """Redraw on every change, and every second in a terminal (the times move)."""
    from ..client.table import render

    tty = out.isatty()
    changed = asyncio.Event()

    async def pump() -> None:
        try:
            async for _event in client.events():
                changed.set()
        finally:
            changed.set()

    task = asyncio.create_task(pump())
    if tty:
        out.write(ALT_SCREEN_ON)
    try:
        while True:
            table = render(client.agents.values(), time.time(), _width(out))
            out.write(HOME_CLEAR + table if tty else table + "\n")
            out.flush()
            changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0 if tty else None):
                    await changed.wait()
            if task.done():
                task.result()  # the connection ended: raise why
                return
    finally:
        task.cancel()
        if tty:
            out.write(ALT_SCREEN_OFF)
            out.flush()
