"""The output pipe (UTF-8 boundaries into the retention buffer), the idle clock, exit codes."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from agent_sidecar.output import IdleClock, OutputPipe
from agent_sidecar.pty import ExitStatus, child_env
from agent_sidecar.retention import Retention
from tests.timing import deadline


async def test_complete_characters_go_in_at_once_and_a_split_one_waits_for_its_rest() -> None:
    ret = Retention(1024)
    calls: list[int] = []
    pipe = OutputPipe(ret, flush_delay=60.0, on_output=lambda: calls.append(ret.end))
    pipe.feed(b"ab\xe2\x82")  # "ab" + the first two bytes of the euro sign
    assert ret.read(0, 100) == (0, b"ab")
    pipe.feed(b"\xac!")
    assert ret.read(0, 100) == (0, "ab€!".encode())
    assert calls == [2, 6]
    pipe.close()


async def test_a_held_tail_is_flushed_after_the_delay() -> None:
    ret = Retention(1024)
    flushed = asyncio.Event()
    pipe = OutputPipe(ret, flush_delay=0.01, on_output=flushed.set)
    pipe.feed(b"\xf0\x9f")
    assert ret.end == 0
    async with deadline(5):
        await flushed.wait()
    assert ret.read(0, 10) == (0, b"\xf0\x9f")


async def test_invalid_bytes_are_never_held() -> None:
    ret = Retention(1024)
    pipe = OutputPipe(ret, flush_delay=60.0, on_output=lambda: None)
    pipe.feed(b"\xff\xfe\x80")
    assert ret.read(0, 10) == (0, b"\xff\xfe\x80")
    pipe.close()


async def test_close_flushes_what_is_held() -> None:
    ret = Retention(1024)
    pipe = OutputPipe(ret, flush_delay=60.0, on_output=lambda: None)
    pipe.feed(b"x\xe2")
    pipe.close()
    assert ret.read(0, 10) == (0, b"x\xe2")


async def test_idle_clock_reports_idle_after_silence_and_running_on_activity() -> None:
    changes: list[bool] = []
    changed = asyncio.Event()

    def on_change(idle: bool) -> None:
        changes.append(idle)
        changed.set()

    clock = IdleClock(0.02, on_change)
    clock.start()
    async with deadline(5):
        await changed.wait()
    assert changes == [True]
    clock.activity()
    assert changes == [True, False]
    changed.clear()
    async with deadline(5):
        await changed.wait()
    assert changes == [True, False, True]
    clock.stop()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0, ExitStatus(0)),
        (3 << 8, ExitStatus(3)),
        (signal.SIGINT, ExitStatus(130, "SIGINT")),
        (signal.SIGKILL, ExitStatus(137, "SIGKILL")),
        (signal.SIGTERM | 0x80, ExitStatus(143, "SIGTERM")),  # with a core dump flag
    ],
)
def test_exit_status_maps_signals_to_128_plus_n(status: int, expected: ExitStatus) -> None:
    assert ExitStatus.from_wait_status(status) == expected


def test_child_environment_sets_term_and_drops_secrets() -> None:
    env = child_env(
        {"PATH": os.defpath, "TERM": "dumb", "AGENT_SIDECAR_TOKEN": "t", "X": "1"},
        ("AGENT_SIDECAR_TOKEN",),
    )
    assert env == {"PATH": os.defpath, "TERM": "xterm-256color", "X": "1"}
