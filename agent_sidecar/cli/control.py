"""``agent-sidecar send``, ``interrupt``, ``answer`` and ``decide``: one request to an
agent, its acknowledgement printed; exit 0 only when it says ok."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import click

from relay.protocol import SIGNALS, Activity, ActivityOption, CommandAck, Decision, SignalName

from .connect import client_options, run_client, timeout_option
from .group import main
from .options import sidecar_option

if TYPE_CHECKING:
    from ..client import Client


def _print_ack(agent: str, ack: CommandAck, what: str = "") -> int:
    detail = f" ({what})" if what else ""
    if ack.ok:
        click.echo(f"{agent}: ok{detail}")
        return 0
    click.echo(f"{agent}: not ok{detail}: {ack.error or 'no reason given'}")
    return 1


@main.command()
@client_options
@timeout_option
@sidecar_option("--submit/--no-submit", default=True,
                help="Press Enter after the text (--no-submit: type it and leave it there).")
@click.argument("agent")
@click.argument("text")
@click.pass_context
def send(
    ctx: click.Context,
    relays: tuple[str, ...],
    token: str | None,
    port: int,
    timeout: float,
    submit: bool,
    agent: str,
    text: str,
) -> None:
    """Type TEXT into AGENT's terminal, then Enter (operator role); print the ack.

    \b
    Examples:
      agent-sidecar send build-7 'make test'
      agent-sidecar send --no-submit claude-1 'draft, not sent yet'
    Exit code 0 only when the agent acknowledged with ok (others: 'tail --help').
    """

    async def body(client: Client) -> int:
        nonlocal agent
        agent = client.resolve(agent)  # a --name works too
        ack = await client.command(agent, text, submit=submit, timeout=timeout)
        return _print_ack(agent, ack)

    run_client(ctx, relays, token, port, body)


def _signal(ctx: click.Context, param: click.Parameter, value: str) -> str:
    name = value.upper()
    name = name if name.startswith("SIG") else f"SIG{name}"
    if name not in SIGNALS:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(SIGNALS)}")
    return name


@main.command()
@client_options
@timeout_option
@sidecar_option("--signal", default="SIGINT", callback=_signal, metavar="SIG",
                help=f"Signal for the agent's foreground process group: {', '.join(SIGNALS)} "
                "(the SIG may be left out).")
@click.argument("agent")
@click.pass_context
def interrupt(
    ctx: click.Context,
    relays: tuple[str, ...],
    token: str | None,
    port: int,
    timeout: float,
    signal: str,
    agent: str,
) -> None:
    """Send a signal (SIGINT: what Ctrl-C does) to the program in the foreground of
    AGENT's terminal (operator role); print the ack.

    \b
    Examples:
      agent-sidecar interrupt build-7
      agent-sidecar interrupt --signal TERM build-7
    Exit code 0 only when the agent acknowledged with ok (others: 'tail --help').
    """

    async def body(client: Client) -> int:
        nonlocal agent
        agent = client.resolve(agent)  # a --name works too
        ack = await client.interrupt(agent, cast(SignalName, signal), timeout=timeout)
        return _print_ack(agent, ack, signal)

    run_client(ctx, relays, token, port, body)


def _waiting(agent: str, activity: Activity | None) -> Activity:
    from ..client import RequestFailed

    if activity is None or activity.state != "waiting":
        state = activity.state if activity is not None else "not reported"
        raise RequestFailed(f"agent {agent!r} is not waiting for a person (activity: {state})")
    return activity


def pick_option(options: tuple[ActivityOption, ...], choice: str) -> tuple[int, ActivityOption]:
    """The option ``choice`` names: its number (from 1), its label (any case), or the
    start of exactly one label. Raises :class:`click.BadParameter` listing them."""
    numbered = list(enumerate(options, start=1))
    if choice.isdigit() and 1 <= int(choice) <= len(options):
        return numbered[int(choice) - 1]
    folded = choice.casefold()
    exact = [(n, o) for n, o in numbered if o.label.casefold() == folded]
    prefix = [(n, o) for n, o in numbered if o.label.casefold().startswith(folded)]
    if exact or len(prefix) == 1:
        return (exact or prefix)[0]
    listing = ", ".join(f"[{n}] {o.label}" for n, o in numbered)
    raise click.BadParameter(f"{choice!r} names none of the options: {listing}",
                             param_hint="OPTION")


@main.command()
@client_options
@timeout_option
@click.argument("agent")
@click.argument("option")
@click.pass_context
def answer(
    ctx: click.Context,
    relays: tuple[str, ...],
    token: str | None,
    port: int,
    timeout: float,
    agent: str,
    option: str,
) -> None:
    """Choose one of the options AGENT is waiting on (as 'ls' shows them): by number,
    by label, or by the start of a label. Sends that option's keystrokes (operator
    role); prints the ack.

    \b
    Examples:
      agent-sidecar answer claude-1 1
      agent-sidecar answer claude-1 "no"
    Exit code 0 only when the agent acknowledged with ok; 1 also when it is not waiting
    on a choice (others: 'tail --help').
    """

    async def body(client: Client) -> int:
        nonlocal agent
        agent = client.resolve(agent)  # a --name works too
        activity = _waiting(agent, (await client.agent(agent)).activity)
        if not activity.options:
            from ..client import RequestFailed

            raise RequestFailed(
                f"agent {agent!r} offers no options to choose from; type the answer with "
                f"'agent-sidecar send {agent} TEXT'"
            )
        number, picked = pick_option(activity.options, option)
        ack = await client.command(agent, picked.keys, submit=False, timeout=timeout)
        return _print_ack(agent, ack, f"[{number}] {picked.label}")

    run_client(ctx, relays, token, port, body)


@main.command()
@client_options
@timeout_option
@sidecar_option("--message", help="A note for the agent with the decision (why, what instead).")
@click.argument("agent")
@click.argument("decision", type=click.Choice(["allow", "deny"]))
@click.pass_context
def decide(
    ctx: click.Context,
    relays: tuple[str, ...],
    token: str | None,
    port: int,
    timeout: float,
    message: str | None,
    agent: str,
    decision: str,
) -> None:
    """Allow or deny the permission request AGENT holds open (its activity has a
    decision id; operator role); print the ack.

    \b
    Examples:
      agent-sidecar decide claude-1 allow
      agent-sidecar decide claude-1 deny --message 'not on main; use a branch'
    Exit code 0 only when the agent acknowledged with ok; 1 also when no request is
    open or it was already decided (others: 'tail --help').
    """

    async def body(client: Client) -> int:
        nonlocal agent
        agent = client.resolve(agent)  # a --name works too
        activity = _waiting(agent, (await client.agent(agent)).activity)
        if activity.decision_id is None:
            from ..client import RequestFailed

            raise RequestFailed(
                f"agent {agent!r} holds no permission request open (it waits for "
                f"{activity.reason or 'something else'})"
            )
        ack = await client.decide(
            agent, activity.decision_id, cast(Decision, decision), message, timeout=timeout
        )
        return _print_ack(agent, ack, decision)

    run_client(ctx, relays, token, port, body)
