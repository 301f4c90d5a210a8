"""Run configuration: agent ids, relay URLs, labels, validation."""

from __future__ import annotations

import pytest

from agent_sidecar.config import (
    RunConfig,
    agent_ws_url,
    default_agent_id,
    parse_labels,
    token_agent_id,
    validate_agent_id,
)
from agent_sidecar.errors import UsageError
from relay.auth import mint_token
from relay.protocol import AGENT_ID_RE


@pytest.mark.parametrize(
    ("command", "host", "prefix"),
    [
        (["claude"], "devbox.example.com", "devbox-claude-"),
        (["/usr/bin/python3.11", "-c", "x"], "h", "h-python3.11-"),
        (["./my agent!.sh"], "Ünïcode-host", "n-code-host-my-agent-.sh-"),
        (["---"], "...", "host-cmd-"),
        (["x" * 300], "y" * 300, "y" * 40 + "-" + "x" * 40 + "-"),
    ],
)
def test_default_agent_id_is_readable_and_valid(command: list[str], host: str, prefix: str) -> None:
    agent_id = default_agent_id(command, hostname=host)
    assert agent_id.startswith(prefix)
    assert AGENT_ID_RE.match(agent_id)


def test_an_agent_token_without_agents_names_the_one_id_it_may_register() -> None:
    secret = b"s" * 32
    assert token_agent_id(mint_token(secret, sub="build-7", role="agent", ttl=60)) == "build-7"
    # Nothing to read from: the id is chosen as without a token.
    assert token_agent_id(None) is None
    assert token_agent_id("garbage") is None
    assert token_agent_id(mint_token(secret, sub="alice", role="operator", ttl=60)) is None
    scoped = mint_token(secret, sub="ci", role="agent", agents=["ci-*"], ttl=60)
    assert token_agent_id(scoped) is None  # several ids allowed: none is the default
    assert token_agent_id(mint_token(secret, sub="bad id", role="agent", ttl=60)) is None


def test_default_agent_ids_differ_between_runs() -> None:
    assert default_agent_id(["sh"], "h") != default_agent_id(["sh"], "h")


@pytest.mark.parametrize("bad", ["", "-x", "a b", "a/b", "x" * 129])
def test_invalid_agent_id_is_refused_with_its_value(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid agent id"):
        validate_agent_id(bad)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ws://h:1", "ws://h:1/ws/agent"),
        ("ws://h:1/", "ws://h:1/ws/agent"),
        ("http://h:1", "ws://h:1/ws/agent"),
        ("https://relay.example/prefix/", "wss://relay.example/prefix/ws/agent"),
        ("wss://relay.example/ws/agent", "wss://relay.example/ws/agent"),
    ],
)
def test_relay_url_points_at_the_agent_endpoint(url: str, expected: str) -> None:
    assert agent_ws_url(url) == expected


@pytest.mark.parametrize("url", ["h:1", "ftp://h", "ws://", "ws://h/?token=x", "ws://h/#t"])
def test_invalid_relay_url_is_refused(url: str) -> None:
    with pytest.raises(UsageError, match="invalid relay URL"):
        agent_ws_url(url)


def test_labels_parse_key_value_pairs() -> None:
    assert parse_labels(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}


@pytest.mark.parametrize("bad", ["novalue", "=v"])
def test_invalid_label_is_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid label"):
        parse_labels([bad])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"command": ()},
        {"idle_after": 0},
        {"drain_timeout": -1},
        {"retain_bytes": 10},
        {"port": 70000},
        {"cols": 0},
    ],
)
def test_run_config_validates_itself(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"command": ("sh",), "agent_id": "a1", "name": "a1"}
    base.update(kwargs)
    with pytest.raises(UsageError):
        RunConfig(**base)  # type: ignore[arg-type]


def test_token_is_not_in_the_repr() -> None:
    config = RunConfig(command=("sh",), agent_id="a1", name="a1", token="secret-token")
    assert "secret-token" not in repr(config)
