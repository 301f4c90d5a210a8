"""``agent-sidecar relay`` with the operations options, a real sidecar under a PTY, and
what an operator reads: the metrics listener, the audit file, the cast file, JSON logs."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from relay.auth import mint_token
from tests.e2e.conftest import Cli, Dashboard, free_port

PY = sys.executable
ASCIINEMA = shutil.which("asciinema") or str(Path(PY).with_name("asciinema"))
ECHO = "import sys; print('ready', flush=True); line = sys.stdin.readline(); print('got', line.strip(), flush=True)"


async def test_a_relay_with_metrics_audit_recordings_and_json_logs(
    spawn_cli: Callable[..., Awaitable[Cli]],
    dashboard_at: Callable[..., Awaitable[Dashboard]],
    cli_env: dict[str, str], secret: bytes, port: int, tmp_path: Path,
) -> None:
    metrics_port = free_port()
    env = dict(cli_env, AGENT_RELAY_JWT_SECRET=secret.decode())
    relay = await spawn_cli(
        "--log-format", "json", "relay", "--host", "127.0.0.1", "--port", str(port),
        "--metrics-listen", f"127.0.0.1:{metrics_port}",
        "--audit-log", str(tmp_path / "audit.log"), "--record-dir", str(tmp_path / "casts"),
        env=env,
    )
    await relay.line(rf"listening on http://127\.0\.0\.1:{port}")
    agent_token = mint_token(secret, sub="ops-agent", role="agent", ttl=600)
    run = await spawn_cli(
        "run", "--relay", f"ws://127.0.0.1:{port}", "--token", agent_token,
        "--agent-id", "ops-agent", "--", PY, "-c", ECHO,
    )
    dash = await dashboard_at(f"http://127.0.0.1:{port}", "ops-agent")
    await dash.until_output(b"ready\r\n")
    ack = await dash.request("command:request", "c1", input="make deploy")
    assert ack.ok
    await dash.until_output(b"got make deploy")
    assert await run.wait() == 0
    await dash.until_state("exited")

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
        viewer = mint_token(secret, sub="v", role="viewer", ttl=600)
        async with http.get(f"http://127.0.0.1:{port}/api/agents/ops-agent/cast",
                            headers={"Authorization": f"Bearer {viewer}"}) as resp:
            assert resp.status == 200
            fetched = await resp.read()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("agent_relay_agents", (("state", "exited"),))] == 1
    assert samples[("agent_relay_output_received_bytes_total", ())] >= len(b"ready\r\ngot")
    assert samples[("agent_relay_audit_records_total",
                    (("action", "command:request"), ("outcome", "sent")))] == 1

    [record] = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert (record["sub"], record["input"], record["outcome"]) == ("tester", "make deploy", "sent")

    cast_file = tmp_path / "casts" / "ops-agent.cast"
    assert fetched == cast_file.read_bytes()
    proc = await asyncio.create_subprocess_exec(
        ASCIINEMA, "cat", str(cast_file), stdout=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL)
    shown, _ = await proc.communicate()
    assert proc.returncode == 0
    assert shown == bytes(dash.stream), (shown, bytes(dash.stream))
    assert b"ready\r\n" in shown
    assert b"got make deploy\r\n" in shown

    relay.signal(signal.SIGTERM)
    assert await relay.wait() == 0
    lines = (await relay.rest_of_stderr()).splitlines()
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(logged) == len([line for line in lines if not line.startswith("listening")])
    conns = {line.get("conn") for line in logged if "auth ok" in line["message"]}
    assert len(conns) == 2
    assert all(str(c).startswith(("agent-", "dashboard-")) for c in conns)
    assert all(agent_token not in line for line in lines)
