"""``agent-sidecar attach``: an agent's terminal inside yours (see :mod:`..attach`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .connect import CLIENT_NAME, client_options, exit_with, run_client
from .group import main
from .options import sidecar_option

if TYPE_CHECKING:
    from ..client import Client


def _detach_key(ctx: click.Context, param: click.Parameter, value: str) -> object:
    from ..attach import DetachKey

    try:
        return DetachKey.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@client_options
@sidecar_option("--read-only", is_flag=True,
                help="Watch only: keys are not sent (Ctrl-C and q detach too). Implied for "
                "a viewer token.")
@sidecar_option("--detach-key", default="ctrl-]", callback=_detach_key, metavar="KEY",
                help="The key that detaches (ctrl-X, X a letter or one of [ \\ ] ^ _ @); it "
                "is never sent to the agent.")
@sidecar_option("--replay-bytes", type=click.IntRange(min=0), default=256 * 1024,
                help="How much of the agent's recent output to draw first.")
@click.argument("agent")
@click.pass_context
def attach(
    ctx: click.Context,
    relays: tuple[str, ...],
    token: str | None,
    port: int,
    read_only: bool,
    detach_key: object,
    replay_bytes: int,
    agent: str,
) -> None:
    """Show AGENT's terminal full screen in yours; what you type goes to the agent
    (operator role). Detach with Ctrl-] (--detach-key): the agent keeps running, and
    your terminal is restored on detach, when the agent exits, and on errors.

    \b
    Examples:
      agent-sidecar attach build-7
      agent-sidecar attach --read-only claude-1
      agent-sidecar attach --detach-key ctrl-q --relay wss://relay.example claude-1
    Your terminal does not resize an agent that has a terminal of its own. A lost
    connection is retried (the window title says "reconnecting") until you detach.
    Exit code: 0 after a detach; the agent's exit code when it exits while attached;
    others as in 'agent-sidecar tail --help'.
    """
    from ..attach import AttachOptions, AttachSession, DetachKey, Ending, may_resize
    from ..terminal import LocalTerminal, is_interactive

    assert isinstance(detach_key, DetachKey)
    if not is_interactive():
        exit_with("attach needs a terminal (stdin and stdout); use 'agent-sidecar tail "
                  f"-f {agent}' to follow the output elsewhere", 2)
    options = AttachOptions(read_only=read_only, detach_key=detach_key,
                            replay_bytes=replay_bytes)

    async def body(client: Client) -> int:
        nonlocal agent
        agent = client.resolve(agent)  # a --name works too
        if not client.can_control and not read_only:
            _say(f"role {client.role} may not type: attaching read-only")
        can_type = not read_only and client.can_control
        mode = "" if can_type else "read-only; "
        info = await client.agent(agent)
        terminal = LocalTerminal()
        size = ""
        if not may_resize(info, can_type=can_type) and (info.cols, info.rows) != terminal.size():
            cols, rows = terminal.size()
            size = (f"its screen is {info.cols}x{info.rows}, yours {cols}x{rows}, and it "
                    "keeps its size; ")
        _say(f"attaching to {agent} ({mode}{size}detach with {detach_key.name})")
        async def reconnect() -> Client:
            from ..client import Client, resolve_endpoints
            from ..embedded import runtime_dir

            endpoints = resolve_endpoints(relays, token, port, runtime_dir())
            return await Client.connect_first(endpoints, client_name=CLIENT_NAME)

        session = AttachSession(client, agent, terminal, options, reconnect=reconnect)
        result = await session.run()
        if result.refused_inputs:
            _say(f"{result.refused_inputs} of your inputs were refused by the relay "
                 "(agent offline, rate limit or role)")
        if result.ending is Ending.EXITED:
            code = result.exit_code if result.exit_code is not None else 0
            _say(f"{agent} exited with code {code}")
            return code
        _say(f"detached from {agent}; it keeps running (agent-sidecar attach {agent})")
        return 0

    run_client(ctx, relays, token, port, body)


def _say(text: str) -> None:
    click.echo(f"agent-sidecar: {text}", err=True)
