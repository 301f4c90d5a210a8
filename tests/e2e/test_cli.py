"""The real CLI in subprocesses: relay SIGKILL and restart, exit codes, log files."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from relay.auth import mint_token
from tests.e2e.conftest import Cli, Dashboard

PY = sys.executable
FAST = ("--reconnect-initial", "0.05", "--reconnect-max", "0.3", "--eof-grace", "0.2")

PHASES = """
import sys
for i in range(2000):
    print(f"one {i:05d} " + "a" * 40)
print("phase-one-done", flush=True)
sys.stdin.readline()
for i in range(2000):
    print(f"two {i:05d} " + "b" * 40)
print("phase-two-done", flush=True)
sys.exit(7)
"""


def expected_phases() -> bytes:
    one = b"".join(f"one {i:05d} ".encode() + b"a" * 40 + b"\r\n" for i in range(2000))
    two = b"".join(f"two {i:05d} ".encode() + b"b" * 40 + b"\r\n" for i in range(2000))
    # The command's "go" line is echoed by the terminal between the phases.
    return one + b"phase-one-done\r\n" + b"go\r\n" + two + b"phase-two-done\r\n"


async def rest_output(url: str, secret: bytes, agent_id: str) -> tuple[int, bytes]:
    token = mint_token(secret, sub="tester", role="viewer", ttl=600)
    async with aiohttp.ClientSession() as s, s.get(
        f"{url}/api/agents/{agent_id}/output", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 200
        return int(resp.headers["X-Output-Offset"]), await resp.read()


async def test_relay_killed_and_restarted_ends_with_every_byte_exactly_once(
    port: int,
    secret: bytes,
    tmp_path: Path,
    spawn_cli: Callable[..., Awaitable[Cli]],
    start_relay_proc: Callable[[int], Awaitable[Cli]],
    dashboard_at: Callable[..., Awaitable[Dashboard]],
) -> None:
    url = f"http://127.0.0.1:{port}"
    relay = await start_relay_proc(port)
    token = mint_token(secret, sub="e2e-agent", role="agent", ttl=600)
    log = tmp_path / "out.log"
    with log.open("wb") as out:
        run = await spawn_cli(
            "run", "--relay", f"ws://127.0.0.1:{port}", "--token", token,
            "--agent-id", "e2e-agent", *FAST, "--", PY, "-c", PHASES, stdout=out,
        )
    dash = await dashboard_at(url, "e2e-agent")
    await dash.until_output(b"phase-one-done")

    relay.signal(signal.SIGKILL)
    assert await relay.wait() == -signal.SIGKILL
    relay = await start_relay_proc(port)  # knows nothing: welcomes at 0

    dash = await dashboard_at(url, "e2e-agent")
    await dash.until_output(b"phase-one-done")
    await dash.request("command:request", "go", input="go")
    await dash.until_output(b"phase-two-done")
    assert await run.wait() == 7

    start, data = await rest_output(url, secret, "e2e-agent")
    assert start == 0
    assert data == expected_phases()
    # `run -- cmd > log` leaves the same bytes in the log.
    assert log.read_bytes() == expected_phases()
    relay.signal(signal.SIGTERM)
    assert await relay.wait() == 0


async def test_relay_absent_at_start_the_command_runs_and_its_output_arrives_later(
    port: int,
    secret: bytes,
    spawn_cli: Callable[..., Awaitable[Cli]],
    start_relay_proc: Callable[[int], Awaitable[Cli]],
    dashboard_at: Callable[..., Awaitable[Dashboard]],
    tmp_path: Path,
) -> None:
    marker = tmp_path / "started"
    code = f"import pathlib, sys; pathlib.Path({str(marker)!r}).touch(); print('early-bird', flush=True); sys.stdin.readline()"
    token = mint_token(secret, sub="late", role="agent", ttl=600)
    run = await spawn_cli(
        "--log-level", "info", "run", "--relay", f"ws://127.0.0.1:{port}", "--token", token,
        "--agent-id", "late", "--startup-wait", "0.1", *FAST, "--", PY, "-c", code,
    )
    await run.line(r"child spawned")
    await run.line(r"relay connection .* ended")  # it tried and failed, and carries on
    relay = await start_relay_proc(port)
    dash = await dashboard_at(f"http://127.0.0.1:{port}", "late")
    await dash.until_output(b"early-bird")
    assert marker.exists()
    await dash.request("command:request", "end", input="")
    assert await run.wait() == 0
    relay.signal(signal.SIGTERM)
    await relay.wait()


async def test_an_agent_token_alone_registers_as_its_sub(
    port: int,
    secret: bytes,
    spawn_cli: Callable[..., Awaitable[Cli]],
    start_relay_proc: Callable[[int], Awaitable[Cli]],
    dashboard_at: Callable[..., Awaitable[Dashboard]],
) -> None:
    """As the README says: a token for ``--sub build-7`` and ``run --relay`` without
    ``--agent-id`` (the relay lets that token register no other id)."""
    relay = await start_relay_proc(port)
    token = mint_token(secret, sub="build-7", role="agent", ttl=600)
    run = await spawn_cli(
        "run", "--relay", f"ws://127.0.0.1:{port}", "--token", token, *FAST,
        "--", PY, "-c", "print('built', flush=True); input()",
    )
    dash = await dashboard_at(f"http://127.0.0.1:{port}", "build-7")
    await dash.until_output(b"built")
    await dash.request("command:request", "end", input="")
    assert await run.wait() == 0
    relay.signal(signal.SIGTERM)
    await relay.wait()


async def test_refused_token_exits_77_with_one_clear_line(
    port: int,
    spawn_cli: Callable[..., Awaitable[Cli]],
    start_relay_proc: Callable[[int], Awaitable[Cli]],
) -> None:
    await start_relay_proc(port)
    run = await spawn_cli(
        "run", "--relay", f"ws://127.0.0.1:{port}", "--token", "garbage",
        "--", PY, "-c", "print(1)",
    )
    assert await run.wait() == 77
    text = await run.rest_of_stderr()
    assert "agent-sidecar: the relay refused the token (4401" in text
    assert "garbage" not in text


async def test_command_not_found_exits_127(spawn_cli: Callable[..., Awaitable[Cli]]) -> None:
    run = await spawn_cli("run", "--port", "0", "--", "no-such-command-xyz")
    assert await run.wait() == 127
    assert "command not found: no-such-command-xyz" in await run.rest_of_stderr()


async def test_bad_flags_exit_2_with_a_usage_error(
    spawn_cli: Callable[..., Awaitable[Cli]],
) -> None:
    for args, message in [
        (("run", "--bogus", "--", "true"), "no such option: --bogus"),
        (("run", "--agent-id", "bad id", "--", "true"), "invalid agent id"),
        (("run", "--relay", "ws://h:1", "--", "true"), "--relay needs a token"),
        (("run", "--label", "novalue", "--", "true"), "invalid label"),
        (("relay", "--jwt-secret", "short"), "at least 32"),
        (("token", "--role", "boss", "--sub", "x"), "Invalid value for '--role'"),
    ]:
        cli = await spawn_cli(*args)
        assert await cli.wait() == 2, args
        assert message in await cli.rest_of_stderr(), args


async def test_relay_on_a_busy_port_exits_69(
    port: int,
    spawn_cli: Callable[..., Awaitable[Cli]],
    start_relay_proc: Callable[[int], Awaitable[Cli]],
    cli_env: dict[str, str],
    secret: bytes,
) -> None:
    await start_relay_proc(port)
    env = dict(cli_env, AGENT_RELAY_JWT_SECRET=secret.decode())
    second = await spawn_cli("relay", "--port", str(port), env=env)
    assert await second.wait() == 69
    assert f"cannot listen on 127.0.0.1:{port}" in await second.rest_of_stderr()


async def test_sigterm_to_run_is_forwarded_and_the_exit_code_is_the_commands(
    spawn_cli: Callable[..., Awaitable[Cli]],
) -> None:
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (print('got-term', flush=True), sys.exit(42)))\n"
        "print('armed', flush=True)\n"
        "while True: time.sleep(1)\n"
    )
    run = await spawn_cli(
        "run", "--port", "0", "--", PY, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    await run.stdout_until(b"armed")
    run.signal(signal.SIGTERM)
    await run.stdout_until(b"got-term")
    assert await run.wait() == 42


async def test_ctrl_c_during_the_drain_stops_waiting_for_an_absent_relay(
    port: int, spawn_cli: Callable[..., Awaitable[Cli]]
) -> None:
    run = await spawn_cli(
        "--log-level", "info", "run", "--relay", f"ws://127.0.0.1:{port}", "--token", "t",
        "--startup-wait", "0.05", "--drain-timeout", "60", *FAST,
        "--", PY, "-c", "import sys; sys.exit(4)",
    )
    await run.line(r"output ended")
    run.signal(signal.SIGINT)
    assert await run.wait(timeout=5) == 4
    assert "SIGINT: not waiting for the relay any longer" in await run.rest_of_stderr()


async def test_relay_with_a_public_key_accepts_tokens_from_the_matching_private_key(
    tmp_path: Path,
    cli_env: dict[str, str],
    spawn_cli: Callable[..., Awaitable[Cli]],
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = tmp_path / "relay.key"
    public = tmp_path / "relay.pub"
    private.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo,
    ))
    relay = await spawn_cli("relay", "--port", "0", "--jwt-public-key", str(public))
    url = (await relay.line(r"listening on (http://\S+)")).group(1)
    tok = await spawn_cli("token", "--role", "viewer", "--sub", "k", "--jwt-private-key",
                          str(private), stdout=asyncio.subprocess.PIPE)
    token = (await tok.stdout_until(b"\n")).decode().strip()
    assert await tok.wait() == 0
    async with aiohttp.ClientSession() as s, s.get(
        f"{url}/api/agents", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 200
    relay.signal(signal.SIGTERM)
    assert await relay.wait() == 0
