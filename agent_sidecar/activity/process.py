"""The process: who holds the terminal, whether it waits on it, whether it computes.

``probe(master_fd, shell_pid)`` reads ``tcgetpgrp`` and ``/proc`` (Linux); ``judge``
turns two samples into a claim. Both are cheap (a few small file reads) and run once a
second at most, never per chunk.

- The foreground process group is the shell's own: the shell is in charge.
- A process of the foreground group blocked in ``read`` on the terminal (``/proc/PID/
  syscall``: syscall 0 on an fd that is a tty; else ``wchan`` ``n_tty_read``/
  ``wait_woken``) is waiting for a person to type.
- Its CPU time (utime + stime, ``/proc/PID/stat``) moving between samples: it computes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .model import State

_READ_SYSCALLS = frozenset({0, 17, 19, 295})  # read, pread64, readv, preadv
#: poll, select, pselect6, ppoll, epoll_wait, epoll_pwait, epoll_pwait2: an event loop
#: (a TUI or an agent waiting for keys or the network; the screen tells which).
_POLL_SYSCALLS = frozenset({7, 23, 270, 271, 232, 281, 441})


@dataclass(frozen=True, slots=True)
class ProcessSample:
    at: float
    foreground_pgid: int | None
    shell_in_front: bool  # the command itself (a shell, or the program) holds the terminal
    reading_tty: bool  # a foreground process is blocked reading the terminal
    polling: bool  # a foreground process waits in poll/select (a TUI waiting for keys)
    cpu_ticks: int  # CPU time of the foreground group, clock ticks
    name: str | None  # the foreground leader's comm


def probe(
    master_fd: int, child_pid: int, at: float, *, proc: str = "/proc"
) -> ProcessSample | None:
    """A sample of the PTY's foreground group, or None when it cannot be read."""
    try:
        pgid = os.tcgetpgrp(master_fd)
    except OSError:
        return None
    pids = _group(pgid, child_pid, proc)
    if not pids:
        return None
    reading = polling = False
    ticks = 0
    for pid in pids:
        stat = _read(f"{proc}/{pid}/stat")
        if stat is None:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        ticks += int(fields[11]) + int(fields[12])
        if fields[0] not in ("S", "D"):
            continue
        kind = _blocked_on(pid, proc)
        reading = reading or kind == "read"
        polling = polling or kind == "poll"
    comm = _read(f"{proc}/{pgid}/comm")
    return ProcessSample(at, pgid, pgid == child_pid, reading, polling, ticks,
                         comm.strip() if comm else None)


def _group(pgid: int, root: int, proc: str) -> list[int]:
    """Processes of group ``pgid`` among ``root`` and its descendants (through
    ``/proc/PID/task/TID/children``, never a scan of all of /proc), at most 32."""
    out: list[int] = []
    todo = [root]
    seen = 0
    while todo and seen < 256 and len(out) < 32:
        pid = todo.pop()
        seen += 1
        stat = _read(f"{proc}/{pid}/stat")
        if stat is None:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid):
            out.append(pid)
        for tid in _listdir(f"{proc}/{pid}/task"):
            children = _read(f"{proc}/{pid}/task/{tid}/children")
            if children:
                todo.extend(int(c) for c in children.split())
    if pgid in out:  # the leader first
        out.remove(pgid)
        out.insert(0, pgid)
    return out


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _blocked_on(pid: int, proc: str) -> str | None:
    syscall = _read(f"{proc}/{pid}/syscall")
    if syscall and syscall.split()[0].isdigit():
        parts = syscall.split()
        nr = int(parts[0])
        if nr in _READ_SYSCALLS and len(parts) > 1:
            fd = int(parts[1], 16)
            return "read" if _is_tty(pid, fd, proc) else "other"
        if nr in _POLL_SYSCALLS:
            return "poll"
        return "other"
    wchan = _read(f"{proc}/{pid}/wchan") or ""
    if wchan in ("n_tty_read", "wait_woken"):
        return "read"
    if wchan in ("do_select", "do_sys_poll", "core_sys_select"):
        return "poll"
    return "other"


def _is_tty(pid: int, fd: int, proc: str) -> bool:
    try:
        target = os.readlink(f"{proc}/{pid}/fd/{fd}")
    except OSError:
        return False
    return target.startswith(("/dev/pts/", "/dev/tty"))


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(4096)
    except OSError:
        return None


#: CPU ticks per second above which the foreground group counts as computing.
BUSY_TICKS_PER_SECOND = 5


def judge(prev: ProcessSample | None, cur: ProcessSample, shell: bool) -> State | None:
    """What two samples say: ``idle`` (the shell waits at its prompt), ``waiting`` (a
    program waits on the terminal), ``working`` (a program runs, not waiting on the
    terminal), or None (no opinion: the program is the agent itself, an event loop)."""
    busy = False
    if prev is not None and prev.foreground_pgid == cur.foreground_pgid and cur.at > prev.at:
        rate = (cur.cpu_ticks - prev.cpu_ticks) / (cur.at - prev.at)
        busy = rate >= BUSY_TICKS_PER_SECOND
    if shell and cur.shell_in_front:
        if busy:
            return "working"
        return "idle" if cur.reading_tty or cur.polling else None
    if cur.reading_tty and not busy:
        return "waiting"
    if busy:
        return "working"
    if not cur.polling:
        return "working"  # a job (sleep, a build) that neither reads nor runs an event loop
    return None
