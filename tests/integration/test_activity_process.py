"""probe() on a real PTY: the shell at its prompt, a job that sleeps, a job that reads."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest
from ptyprocess import PtyProcess

from agent_sidecar.activity.process import ProcessSample, probe
from tests.timing import scaled

WAIT = scaled(10.0)


@pytest.fixture
def shell() -> Iterator[PtyProcess]:
    proc = PtyProcess.spawn(["bash", "--norc", "--noprofile"],
                            env={"PATH": os.environ["PATH"], "PS1": "$ ", "TERM": "dumb"})
    yield proc
    proc.terminate(force=True)


def until(proc: PtyProcess, ok: Callable[[ProcessSample], bool]) -> ProcessSample:
    """The first sample that satisfies ``ok`` (polled: a process state has no event)."""
    deadline = time.monotonic() + WAIT
    last = None
    while time.monotonic() < deadline:
        sample = probe(proc.fd, proc.pid, time.time())
        if sample is not None and ok(sample):
            return sample
        last = sample
        time.sleep(0.02)
    raise AssertionError(f"no such sample; the last was {last}")


def test_the_shell_at_its_prompt_holds_the_terminal_and_waits_for_keys(shell: PtyProcess) -> None:
    sample = until(shell, lambda s: s.shell_in_front and (s.reading_tty or s.polling))
    assert sample.foreground_pgid == shell.pid


def test_a_sleeping_job_is_in_front_and_does_not_read(shell: PtyProcess) -> None:
    shell.write(b"sleep 30\r")
    sample = until(shell, lambda s: not s.shell_in_front and s.name == "sleep")
    assert not sample.reading_tty
    assert not sample.polling


def test_a_job_reading_the_terminal_is_seen_reading(shell: PtyProcess) -> None:
    shell.write(b"python3 -c 'input()'\r")
    sample = until(shell, lambda s: not s.shell_in_front and s.reading_tty)
    assert sample.name is not None
    assert sample.name.startswith("python")
