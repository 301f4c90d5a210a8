"""``agent-sidecar export AGENT``: the agent's cast on stdout, replayed by ``asciinema``,
with the client commands' connection options and exit codes."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from relay.auth import mint_token
from tests.e2e.clients.conftest import AGENT, Client
from tests.e2e.conftest import Cli, free_port

ASCIINEMA = shutil.which("asciinema") or str(Path(sys.executable).with_name("asciinema"))


async def test_export_writes_a_cast_that_asciinema_replays_as_the_agents_output(
    agent: Cli, client: Client, output: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    assert (await client("send", AGENT, "hello")).code == 0
    stream = await output("got:'hello'")
    done = await client("export", AGENT)
    assert done.code == 0, done.stderr
    head = done.stdout.splitlines()[0]
    assert '"version": 2' in head
    cast = tmp_path / "session.cast"
    cast.write_text(done.stdout)
    proc = await asyncio.create_subprocess_exec(
        ASCIINEMA, "cat", str(cast), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
    )
    shown, _ = await proc.communicate()
    assert proc.returncode == 0
    assert shown.decode().startswith(stream)


async def test_export_tries_the_next_relay_when_the_first_is_unreachable(
    agent: Cli, client: Client, relay_url: str, user_env: dict[str, str],
    spawn_cli: Callable[..., Awaitable[Cli]],
) -> None:
    dead = f"ws://127.0.0.1:{free_port()}"
    cli = await spawn_cli("export", "--relay", dead, "--relay", relay_url, AGENT, stdout=-1,
                          env={k: v for k, v in user_env.items() if k != "AGENT_SIDECAR_RELAY"})
    assert cli.proc.stdout is not None
    out = await cli.proc.stdout.read()
    assert await cli.wait() == 0
    assert out.startswith(b'{"version": 2')


async def test_export_exit_codes_name_what_went_wrong(
    agent: Cli, client: Client, relay_url: str, secret: bytes
) -> None:
    unknown = await client("export", "nobody")
    assert (unknown.code, unknown.stdout) == (67, "")
    assert "no agent 'nobody'" in unknown.stderr
    scoped = mint_token(secret, sub="v", role="viewer", agents=["other-*"], ttl=600)
    forbidden = await client("export", "--token", scoped, AGENT)
    assert forbidden.code == 78
    refused = await client("export", "--token", "not-a-jwt", AGENT)
    assert refused.code == 77
    assert "not-a-jwt" not in refused.stderr
    gone = await client("export", "--relay", f"ws://127.0.0.1:{free_port()}", AGENT)
    assert gone.code == 69
    assert "cannot reach a relay" in gone.stderr
