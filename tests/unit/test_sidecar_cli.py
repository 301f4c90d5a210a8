"""The click layer: help text, environment twins, token minting, usage errors."""

from __future__ import annotations

import jwt
import pytest
from click.testing import CliRunner

from agent_sidecar import __version__
from agent_sidecar.cli import main
from relay.config import RelayConfig

SECRET = "a-secret-that-is-long-enough-for-hs256-0123456789"


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


@pytest.mark.parametrize(
    ("command", "envvars"),
    [
        ("run", ["AGENT_SIDECAR_RELAY", "AGENT_SIDECAR_TOKEN", "AGENT_SIDECAR_AGENT_ID",
                 "AGENT_SIDECAR_IDLE_AFTER", "AGENT_SIDECAR_DRAIN_TIMEOUT",
                 "AGENT_SIDECAR_RETAIN_BYTES", "AGENT_SIDECAR_PORT"]),
        ("relay", ["AGENT_RELAY_JWT_SECRET", "AGENT_RELAY_HOST", "AGENT_RELAY_PORT",
                   "AGENT_RELAY_SCROLLBACK_BYTES", "AGENT_RELAY_REDIS_URL",
                   "AGENT_RELAY_RATE_LIMIT", "AGENT_RELAY_FORGET_AFTER",
                   "AGENT_RELAY_REDIS_LIVENESS_TTL", "AGENT_RELAY_REDIS_SWEEP_INTERVAL",
                   "AGENT_RELAY_REDIS_PREFIX"]),
        ("token", ["AGENT_RELAY_JWT_SECRET", "AGENT_SIDECAR_PORT"]),
    ],
)
def test_help_names_the_environment_twins(command: str, envvars: list[str]) -> None:
    result = CliRunner().invoke(main, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    for name in envvars:
        assert name in result.stdout


@pytest.mark.parametrize("command", ["run", "relay", "token"])
def test_help_never_shows_a_secret_from_the_environment(command: str) -> None:
    env = {"AGENT_SIDECAR_TOKEN": "tok-XYZ", "AGENT_RELAY_JWT_SECRET": SECRET}
    result = CliRunner().invoke(main, [command, "--help"], env=env, terminal_width=200)
    assert result.exit_code == 0
    assert "tok-XYZ" not in result.stdout
    assert SECRET not in result.stdout


def test_relay_passes_the_redis_tunables_to_its_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[RelayConfig] = []

    def serve(config: RelayConfig) -> int:
        seen.append(config)
        return 0

    monkeypatch.setattr("agent_sidecar.cli.relay._serve", serve)
    result = CliRunner().invoke(
        main,
        ["relay", "--redis", "redis://127.0.0.1:1/0", "--redis-liveness-ttl", "4",
         "--redis-sweep-interval", "0.5"],
        env={"AGENT_RELAY_JWT_SECRET": SECRET, "AGENT_RELAY_REDIS_PREFIX": "fleet-b"},
    )
    assert result.exit_code == 0, result.stderr
    (config,) = seen
    assert (config.redis_liveness_ttl, config.redis_sweep_interval, config.redis_prefix) == (
        4.0, 0.5, "fleet-b"
    )


def test_token_is_signed_with_the_secret_and_carries_the_claims() -> None:
    result = CliRunner().invoke(
        main,
        ["token", "--role", "operator", "--sub", "alice", "--agents", "web-*",
         "--agents", "db-1", "--ttl", "120"],
        env={"AGENT_RELAY_JWT_SECRET": SECRET},
    )
    assert result.exit_code == 0, result.stderr
    claims = jwt.decode(
        result.stdout.strip(), SECRET, algorithms=["HS256"], audience="agent-relay"
    )
    assert claims["sub"] == "alice"
    assert claims["role"] == "operator"
    assert claims["agents"] == ["web-*", "db-1"]
    assert claims["exp"] - claims["iat"] == 120


def test_token_without_any_secret_says_where_to_get_one(tmp_path: object) -> None:
    result = CliRunner().invoke(
        main, ["token", "--role", "viewer", "--sub", "x", "--port", "1"],
        env={"XDG_RUNTIME_DIR": str(tmp_path), "AGENT_RELAY_JWT_SECRET": None},
    )
    assert result.exit_code == 2
    assert "no secret: give --jwt-secret" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run"], "Missing argument"),
        (["run", "--idle-after", "0", "--", "true"], "must be positive"),
        (["run", "--retain-bytes", "10", "--", "true"], "--retain-bytes"),
        (["run", "--relay", "ftp://x", "--token", "t", "--", "true"], "invalid relay URL"),
        (["relay"], "give --jwt-secret"),
        (["relay", "--jwt-secret", SECRET, "--redis-liveness-ttl", "0"], "must be positive"),
        (["relay", "--jwt-secret", SECRET, "--max-pending-connections", "0"],
         "'--max-pending-connections'"),
        (["relay", "--jwt-secret", SECRET, "--max-pending-connections", "many"],
         "'--max-pending-connections'"),
        (["token", "--role", "viewer", "--sub", "x", "--jwt-secret", "short"], "at least 32"),
        (["token", "--role", "viewer", "--sub", "x", "--jwt-secret", SECRET, "--ttl", "inf"],
         "must be positive and finite"),
        (["token", "--role", "viewer", "--sub", "x", "--jwt-secret", SECRET, "--ttl", "nan"],
         "must be positive and finite"),
        (["token", "--role", "viewer", "--sub", "x", "--jwt-secret", SECRET, "--ttl", "1e300"],
         "at most"),
        (["run", "--idle-after", "inf", "--", "true"], "must be positive and finite"),
    ],
)
def test_bad_flags_exit_2_with_one_clear_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args, env={"AGENT_RELAY_JWT_SECRET": None})
    assert result.exit_code == 2
    assert message in result.stderr
