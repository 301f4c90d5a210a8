"""Embedded mode from the real CLI: the Dashboard line, the runtime file, join, takeover."""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from tests.e2e.conftest import DASHBOARD_LINE, WAIT_LINE, Cli, Dashboard, host_and_joined

PY = sys.executable



async def get_json(url: str, token: str) -> tuple[int, object]:
    async with aiohttp.ClientSession() as s, s.get(
        url, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_run_without_relay_embeds_one_and_prints_an_operator_dashboard_link(
    port: int,
    cli_env: dict[str, str],
    spawn_cli: Callable[..., Awaitable[Cli]],
    dashboard_at: Callable[..., Awaitable[Dashboard]],
) -> None:
    run = await spawn_cli(
        "run", "--port", str(port), "--agent-id", "emb", "--",
        PY, "-c", WAIT_LINE.format("embedded"),
    )
    m = await run.line(DASHBOARD_LINE)
    url, token = m.group(1), m.group(3)
    assert int(m.group(2)) == port

    status, body = await get_json(f"{url}/api/agents", token)
    assert status == 200
    assert isinstance(body, dict)

    path = Path(cli_env["XDG_RUNTIME_DIR"]) / "agent-sidecar" / f"relay-{port}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    info = json.loads(path.read_text())
    assert info["url"] == url

    # `token` with no secret signs with the embedded relay's, read from the runtime file.
    tok = await spawn_cli("token", "--role", "viewer", "--sub", "cli", "--port", str(port),
                          stdout=-1)
    viewer = (await tok.stdout_until(b"\n")).decode().strip()
    assert await tok.wait() == 0
    status, _ = await get_json(f"{url}/api/agents/emb", viewer)
    assert status == 200

    dash = await dashboard_at(url, "emb", token=token)  # the printed token is an operator's
    await dash.until_output(b"embedded")
    ack = await dash.request("command:request", "bye", input="")
    assert ack.ok
    assert await run.wait() == 0
    assert not path.exists()  # removed when the hosting process exits
    # No other sidecar could take the port over: no snapshot of the agents' output.
    assert not (path.parent / f"relay-{port}.snapshot").exists()


async def test_a_second_run_joins_and_takes_the_relay_over_when_the_host_exits(
    port: int,
    spawn_cli: Callable[..., Awaitable[Cli]],
    dashboard_at: Callable[..., Awaitable[Dashboard]],
) -> None:
    host, joined, url, token = await host_and_joined(
        spawn_cli, port, (PY, "-c", WAIT_LINE.format("joined"))
    )
    assert (await joined.line(DASHBOARD_LINE)).group(1) == url

    dash = await dashboard_at(url, "host", token=token)
    await dash.until_output(b"host")
    await dash.request("command:request", "end-host", input="")
    assert await host.wait() == 0  # its relay goes with it

    await joined.line(r"this sidecar hosts it now")
    # The old dashboard link still works: same port, same secret.
    dash = await dashboard_at(url, "joined", token=token)
    await dash.until_output(b"joined")
    await dash.request("command:request", "end-joined", input="")
    await dash.until_output(b"joined-bye")
    assert await joined.wait() == 0


async def test_a_port_held_by_another_program_exits_69(
    port: int, spawn_cli: Callable[..., Awaitable[Cli]]
) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        run = await spawn_cli("run", "--port", str(port), "--", "true")
        assert await run.wait(timeout=15) == 69
    assert "is in use by a program that is not an agent-sidecar relay" in (
        await run.rest_of_stderr()
    )


async def test_a_takeover_keeps_the_agents_their_scrollback_and_their_time_in_state(
    port: int,
    cli_env: dict[str, str],
    spawn_cli: Callable[..., Awaitable[Cli]],
    dashboard_at: Callable[..., Awaitable[Dashboard]],
) -> None:
    host, joined, url, token = await host_and_joined(
        spawn_cli, port, (PY, "-c", WAIT_LINE.format("joined"))
    )
    dash = await dashboard_at(url, "joined", token=token)
    await dash.until_output(b"joined")
    _, before = await get_json(f"{url}/api/agents/joined", token)
    assert isinstance(before, dict)

    dash = await dashboard_at(url, "host", token=token)
    await dash.until_output(b"host")
    await dash.request("command:request", "end-host", input="")
    await dash.until_output(b"host-bye")
    assert await host.wait() == 0
    await joined.line(r"this sidecar hosts it now")

    # The agent that had exited is still there, with its exit code and its output.
    status, after = await get_json(f"{url}/api/agents/host", token)
    assert status == 200
    assert isinstance(after, dict)
    assert (after["state"], after["exit_code"]) == ("exited", 0)
    async with aiohttp.ClientSession() as s, s.get(
        f"{url}/api/agents/host/output", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.headers["X-Output-Offset"] == "0"
        scrollback = await resp.read()
    assert b"host" in scrollback
    assert b"host-bye" in scrollback
    # The snapshot that carried them over is read once and removed.
    runtime = Path(cli_env["XDG_RUNTIME_DIR"]) / "agent-sidecar"
    assert not (runtime / f"relay-{port}.snapshot").exists()

    # The live agent reconnects to the new relay as it was: same state, same time in it,
    # its stream continued without a gap or a repeat (the Dashboard client checks).
    dash = await dashboard_at(url, "joined", token=token)
    await dash.until_output(b"joined")
    info = dash.info
    assert info is not None
    assert (info.state, info.state_since) == (before["state"], before["state_since"])
    await dash.request("command:request", "end-joined", input="")
    await dash.until_output(b"joined-bye")
    assert dash.stream.count(b"joined\r\n") == 1
    assert await joined.wait() == 0


async def test_a_port_held_by_a_relay_this_user_cannot_join_says_so(
    port: int, cli_env: dict[str, str], spawn_cli: Callable[..., Awaitable[Cli]], tmp_path: Path
) -> None:
    """Another user's relay (here: another runtime directory) is named as a relay, with
    the runtime file that was looked for, not as "a program that is not a relay"."""
    host = await spawn_cli("run", "--port", str(port), "--", PY, "-c", WAIT_LINE.format("h"))
    await host.line(DASHBOARD_LINE)
    other = tmp_path / "other-runtime"
    other.mkdir(mode=0o700)
    run = await spawn_cli("run", "--port", str(port), "--", "true",
                          env={**cli_env, "XDG_RUNTIME_DIR": str(other)})
    assert await run.wait(timeout=15) == 69
    said = await run.rest_of_stderr()
    assert "held by an agent-sidecar relay this user cannot join" in said
    assert str(other / "agent-sidecar") in said
