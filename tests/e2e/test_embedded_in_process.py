"""The sidecar that hosts the embedded relay attaches to it in-process (no socket).

Through the real CLI: the host's own agent streams a raw burst that is not UTF-8, exactly
and from offset 0 (the Dashboard client fails on a gap or a repeat); control messages are
applied and acked; after the host exits, the run that took the port over attaches its own
agent in-process and its stream goes on where it was.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

from tests.e2e.conftest import DASHBOARD_LINE, Cli, Dashboard, host_and_joined

PY = sys.executable
IN_PROCESS = r"attached to the relay in this process"
#: Raw tty (no echo, no CR/LF translation): prints <ready>, waits for a key, writes
#: 1 MiB with every byte value (invalid UTF-8 throughout), prints <done>, waits again.
BURST = (
    "import os, tty\n"
    "tty.setraw(0)\n"
    "os.write(1, b'<ready>')\n"
    "os.read(0, 1)\n"
    "view = memoryview(bytes(range(256)) * 4096)\n"
    "while view:\n"
    "    view = view[os.write(1, view):]\n"
    "os.write(1, b'<done>')\n"
    "os.read(0, 1)\n"
)
EXPECTED = b"<ready>" + bytes(range(256)) * 4096 + b"<done>"


async def _burst_exactly(dash: Dashboard) -> None:
    await dash.until_output(b"<ready>")
    ack = await dash.request("command:request", "go", input="")
    assert ack.ok
    await dash.until_output(b"<done>")
    assert dash.stream_start == 0
    assert bytes(dash.stream) == EXPECTED


async def test_the_hosting_run_streams_its_own_agent_in_process_exactly_and_acks_control(
    port: int,
    spawn_cli: Callable[..., Awaitable[Cli]],
    dashboard_at: Callable[..., Awaitable[Dashboard]],
) -> None:
    run = await spawn_cli(
        "--log-level", "info", "run", "--port", str(port), "--agent-id", "inproc",
        "--no-mirror", "--", PY, "-c", BURST,
    )
    url, token = (m := await run.line(DASHBOARD_LINE)).group(1), m.group(3)
    await run.line(IN_PROCESS)
    dash = await dashboard_at(url, "inproc", token=token)
    await _burst_exactly(dash)
    ack = await dash.request("command:request", "end", input="")
    assert ack.ok
    await dash.until_state("exited")
    assert await run.wait() == 0


async def test_the_run_that_takes_the_port_over_attaches_in_process_and_keeps_its_stream(
    port: int,
    spawn_cli: Callable[..., Awaitable[Cli]],
    dashboard_at: Callable[..., Awaitable[Dashboard]],
) -> None:
    host, joined, url, token = await host_and_joined(
        spawn_cli, port, (PY, "-c", BURST), "--no-mirror"
    )
    dash = await dashboard_at(url, "joined", token=token)
    await dash.until_output(b"<ready>")

    end = await dashboard_at(url, "host", token=token)
    await end.until_output(b"host")
    await end.request("command:request", "end-host", input="")
    assert await host.wait() == 0
    await joined.line(r"this sidecar hosts it now")
    await joined.line(IN_PROCESS)

    # The stream from before the takeover, then the burst through the pipe, exactly once.
    dash = await dashboard_at(url, "joined", token=token)
    await _burst_exactly(dash)
    ack = await dash.request("command:request", "end", input="")
    assert ack.ok
    assert await joined.wait() == 0
