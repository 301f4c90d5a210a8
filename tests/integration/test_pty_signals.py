"""signal_groups: one copy of a signal per process, for a command that leads its group.

A command that handles SIGTERM and exits must not get a second SIGTERM while it exits:
that copy can land after Python restored the default handlers and end it with 143
instead of its own code (it did, about one run in seven). The kernel merges a pending
duplicate, so counting deliveries in the child cannot show the race reliably; the test
counts the kill calls that reach the child's process instead.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from agent_sidecar.pty import PtyChild
from tests.fakes import HANDLES_TERM
from tests.timing import scaled


async def _read_until(child: PtyChild, sentinel: bytes) -> None:
    seen = b""
    ready = asyncio.Event()

    def on_data(data: bytes) -> None:
        nonlocal seen
        seen += data
        if sentinel in seen:
            ready.set()

    child.start_reading(on_data, lambda: ready.set())
    async with asyncio.timeout(scaled(10)):
        await ready.wait()
    child.stop_reading()


async def test_a_group_leading_command_gets_sigterm_once_and_exits_with_its_own_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    child = await PtyChild.spawn(
        [sys.executable, "-c", HANDLES_TERM], env=dict(os.environ), cols=80, rows=24
    )
    try:
        await _read_until(child, b"armed")
        copies: list[str] = []
        real_kill, real_killpg = os.kill, os.killpg

        def kill(pid: int, sig: int) -> None:
            if pid == child.pid and sig == signal.SIGTERM:
                copies.append(f"kill {pid}")
            real_kill(pid, sig)

        def killpg(pgrp: int, sig: int) -> None:
            if pgrp == os.getpgid(child.pid) and sig == signal.SIGTERM:
                copies.append(f"killpg {pgrp}")
            real_killpg(pgrp, sig)

        monkeypatch.setattr(os, "kill", kill)
        monkeypatch.setattr(os, "killpg", killpg)
        child.signal_groups(signal.SIGTERM)
        monkeypatch.undo()
        assert copies == [f"killpg {child.pid}"]
        async with asyncio.timeout(scaled(10)):
            status = await child.wait()
        assert status.code == 9
    finally:
        child.close()
