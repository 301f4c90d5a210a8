"""judge(): what two process samples say (a table), and probe() on a real PTY."""

from __future__ import annotations

import pytest

from agent_sidecar.activity.process import ProcessSample, judge


def s(at: float, *, pgid: int = 10, front: bool = True, reading: bool = False,
      polling: bool = False, ticks: int = 0) -> ProcessSample:
    return ProcessSample(at, pgid, front, reading, polling, ticks, "x")


CASES = [
    # shell: at its prompt, reading the terminal
    (s(0), s(1, reading=True), True, "idle"),
    # shell: a job in front (sleep, a build) that does not read the terminal
    (s(0, pgid=20, front=False), s(1, pgid=20, front=False), True, "working"),
    # shell: a job in front that reads the terminal (read -p in a script, input())
    (s(0, pgid=20, front=False), s(1, pgid=20, front=False, reading=True), True, "waiting"),
    # a job computing
    (s(0, pgid=20, front=False, ticks=0), s(1, pgid=20, front=False, ticks=50), True, "working"),
    # a full-screen program waiting for keys in poll(): no opinion (the screen decides)
    (s(0, pgid=20, front=False), s(1, pgid=20, front=False, polling=True), True, None),
    # another program (not a shell) reading the terminal
    (None, s(1, reading=True), False, "waiting"),
    # another program in an event loop, quiet: no opinion
    (s(0), s(1, polling=True), False, None),
    # another program sleeping or blocked elsewhere (not on the terminal): working
    (s(0), s(1), False, "working"),
]


@pytest.mark.parametrize(("prev", "cur", "shell", "expected"), CASES)
def test_judge(prev: ProcessSample | None, cur: ProcessSample, shell: bool,
               expected: str | None) -> None:
    assert judge(prev, cur, shell) == expected
