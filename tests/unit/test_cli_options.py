"""Every option of every command: one environment twin, shown in --help, one meaning
per name across commands, and defaults that are the config objects' defaults."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import click
import jwt
import pytest
from click.testing import CliRunner

from agent_sidecar.backoff import BackoffPolicy
from agent_sidecar.cli import main
from agent_sidecar.config import RunConfig
from relay.auth import verify
from relay.config import RelayConfig
from relay.ops.config import OpsConfig

SECRET = "a-secret-that-is-long-enough-for-hs256-0123456789"
TWIN = re.compile(r"AGENT_(SIDECAR|RELAY)_[A-Z0-9_]+")


def commands() -> Iterator[tuple[list[str], click.Command]]:
    """Every command, with the arguments that reach it (the group itself first)."""
    yield [], main
    assert isinstance(main, click.Group)
    for name, command in sorted(main.commands.items()):
        yield [name], command


def options(command: click.Command) -> list[click.Option]:
    """The user-facing options (not --help/--version, which take no value)."""
    return [p for p in command.params if isinstance(p, click.Option) and p.expose_value]


def help_text(path: list[str]) -> str:
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=1000)
    assert result.exit_code == 0, result.output
    return result.stdout


ALL = [(path, command, option) for path, command in commands() for option in options(command)]


@pytest.mark.parametrize(
    ("path", "command", "option"), ALL, ids=[f"{' '.join(p) or 'main'}:{o.opts[0]}" for p, _, o in ALL]
)
def test_option_has_one_twin_shown_in_help(
    path: list[str], command: click.Command, option: click.Option
) -> None:
    assert isinstance(option.envvar, str), f"{option.opts}: envvar {option.envvar!r}"
    assert TWIN.fullmatch(option.envvar), option.envvar
    assert option.show_envvar
    assert not option.hidden
    assert f"env var: {option.envvar}" in help_text(path)


@pytest.mark.parametrize(("path", "command"), list(commands()), ids=lambda x: str(x))
def test_twins_are_unique_within_a_command(path: list[str], command: click.Command) -> None:
    twins = [o.envvar for o in options(command)]
    assert len(twins) == len(set(twins)), twins


def test_a_twin_means_the_same_option_in_every_command() -> None:
    owner: dict[str, str] = {}
    for path, _command, option in ALL:
        long_name = next(o for o in option.opts if o.startswith("--"))
        assert isinstance(option.envvar, str)
        seen = owner.setdefault(option.envvar, long_name)
        assert seen == long_name, f"{option.envvar} is {seen} and {path}{long_name}"


@pytest.mark.parametrize(("path", "command"), list(commands()), ids=lambda x: str(x))
def test_no_command_derives_a_second_twin(path: list[str], command: click.Command) -> None:
    root = click.Context(main, info_name="agent-sidecar")
    ctx = click.Context(command, info_name=path[-1] if path else None, parent=root)
    assert ctx.auto_envvar_prefix is None


def _config_defaults(config: type[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        # None is "not set" in both places (click has its own sentinel for it).
        if field.default is not dataclasses.MISSING and field.default is not None:
            out[field.name] = field.default
    return out


@pytest.mark.parametrize(
    ("name", "config", "renames"),
    [
        ("run", RunConfig, {}),
        ("run", BackoffPolicy, {"reconnect_initial": "initial", "reconnect_max": "maximum"}),
        ("relay", RelayConfig, {}),
        ("relay", OpsConfig, {}),
        ("token", RelayConfig, {}),
        ("token", RunConfig, {}),
    ],
)
def test_defaults_are_the_config_defaults(
    name: str, config: type[Any], renames: dict[str, str]
) -> None:
    assert isinstance(main, click.Group)
    defaults = _config_defaults(config)
    checked = 0
    for option in options(main.commands[name]):
        field = renames.get(str(option.name), str(option.name))
        if field in defaults and not option.multiple:
            assert option.default == defaults[field], f"{name} {option.opts}"
            checked += 1
    assert checked, f"no option of {name} matched {config.__name__}"


def test_a_token_minted_for_an_audience_is_accepted_by_a_relay_with_that_audience(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"AGENT_RELAY_JWT_SECRET": SECRET, "AGENT_RELAY_AUDIENCE": "fleet-b"}
    minted = CliRunner().invoke(main, ["token", "--role", "viewer", "--sub", "bob"], env=env)
    assert minted.exit_code == 0, minted.stderr
    seen: list[RelayConfig] = []

    def serve(config: RelayConfig) -> int:
        seen.append(config)
        return 0

    monkeypatch.setattr("agent_sidecar.cli.relay._serve", serve)
    started = CliRunner().invoke(main, ["relay"], env=env)
    assert started.exit_code == 0, started.stderr
    (config,) = seen
    assert config.audience == "fleet-b"
    assert verify(minted.stdout.strip(), config).sub == "bob"
    assert jwt.decode(
        minted.stdout.strip(), SECRET, algorithms=["HS256"], audience="fleet-b"
    )["aud"] == "fleet-b"
