"""Issue 11, items 3 and 9: the sidecar sizes its frames by the relay's message limit,
says how much output the relay never confirmed, and a relay that confirmed the resume
resets the reconnection backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from agent_sidecar.backoff import BackoffPolicy
from agent_sidecar.config import RunConfig
from relay.config import RelayConfig
from relay.server import RunningRelay, start_relay
from tests.integration.conftest import WAIT, Dashboard, Sidecar, free_port, py, rest_output
from tests.timing import deadline

FIRST_THEN_MORE = (
    "import sys\n"
    "sys.stdout.write('first'); sys.stdout.flush()\n"
    "sys.stdin.readline()\n"
    "sys.stdout.write('y' * 1000); sys.stdout.flush()\n"
)


async def _until(predicate: Callable[[], bool], sidecar: Sidecar) -> None:
    """Wait for a condition on the sidecar's link, looking after each loop turn that
    let its tasks run (bounded by WAIT)."""
    async with deadline(WAIT):
        while not predicate():
            assert not sidecar.task.done(), sidecar.notices
            await asyncio.sleep(0.005)


async def test_the_drain_timeout_notice_counts_the_bytes_never_confirmed(
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    code = "import sys; sys.stdout.write('x' * 5000); sys.stdout.flush(); sys.exit(3)"
    sidecar = start_sidecar(make_run_config(url, py(code), startup_wait=0.05,
                                            drain_timeout=0.3))
    assert await sidecar.result() == 3
    notice = await sidecar.notice("did not confirm")
    assert "5000 bytes (offsets 0 to 5000)" in notice, notice


async def test_the_count_starts_where_the_relay_last_confirmed(
    make_config: Callable[..., RelayConfig],
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    port = free_port()
    relay = await start_relay(make_config(port=port))
    sidecar = start_sidecar(make_run_config(
        f"ws://127.0.0.1:{port}", py(FIRST_THEN_MORE), heartbeat_interval=0.05,
        drain_timeout=0.3))
    dash = await dashboard(relay)
    await dash.until_output(b"first")
    link = sidecar.runner.link
    assert link is not None
    await _until(lambda: link.confirmed == 5, sidecar)  # a heartbeat echo after "first"
    await relay.close()
    child = sidecar.runner.child
    assert child is not None
    await child.write(b"\r")
    assert await sidecar.result() == 0
    notice = await sidecar.notice("did not confirm")
    # "first", the echoed "\r\n" of the input line, then 1000 bytes.
    assert "1002 bytes (offsets 5 to 1007)" in notice, notice


async def test_a_confirmed_resume_resets_the_backoff(
    make_config: Callable[..., RelayConfig],
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    port = free_port()
    relay = await start_relay(make_config(port=port))
    sidecar = start_sidecar(make_run_config(
        f"ws://127.0.0.1:{port}", py(FIRST_THEN_MORE), heartbeat_interval=2.0, dead_after=10.0,
        backoff=BackoffPolicy(initial=0.005, maximum=0.02)))
    dash = await dashboard(relay)
    await dash.until_output(b"first")
    link = sidecar.runner.link
    assert link is not None
    await relay.close()
    await _until(lambda: link.attempt >= 4, sidecar)  # refused a few times: grown
    relay = await start_relay(make_config(port=port))
    try:
        dash = await dashboard(relay)
        await dash.until_output(b"first")
        # Long before the 10 s of a stable connection, the echo of the heartbeat sent
        # after the resend resets the attempt count.
        await _until(lambda: link.attempt == 0, sidecar)
        assert link.connected.is_set()
        child = sidecar.runner.child
        assert child is not None
        await child.write(b"\r")
        assert await sidecar.result() == 0
    finally:
        await relay.close()


async def test_frames_fit_a_relay_with_a_small_message_limit_from_the_first_one(
    make_config: Callable[..., RelayConfig],
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    """Issue 11 item 3: the welcome tells the limit, so no frame is ever refused (1009)
    and the connection never drops; every byte arrives."""
    relay = await start_relay(make_config(max_message_bytes=65536))
    try:
        dash = await dashboard(relay)
        code = ("import sys, os\n"
                "for i in range(101): os.write(1, bytes([65 + i % 26]) * 30000)\n")
        sidecar = start_sidecar(make_run_config(relay.url.replace("http", "ws"), py(code)))
        assert await sidecar.result(timeout=30) == 0
        await dash.until(lambda: dash.info is not None and dash.info.state == "exited")
        assert [i.state for i in dash.infos if i.state == "disconnected"] == []
        start, data = await rest_output(relay.url, secret, "itest-agent")
        assert start == 0
        assert data == b"".join(bytes([65 + i % 26]) * 30000 for i in range(101))
        assert not any("did not confirm" in n for n in sidecar.notices)
    finally:
        await relay.close()
