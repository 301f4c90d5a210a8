"""Processes under test: the relay and sidecars from the real CLI; the viewer processes
of the 10-viewer scenarios (``viewer.py``, a pool kept across runs); /proc readers.

CPU is ``utime + stime`` of ``/proc/PID/stat`` (clock ticks, converted to seconds);
RSS is ``VmRSS`` of ``/proc/PID/status``. Logs go to files under the results
directory, never to pipes that could fill up and stall a process under test (a viewer's
stdout is a pipe: it writes two short lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PRODUCER = Path(__file__).resolve().with_name("producer.py")
SECRET = "bench-secret-0123456789-0123456789-0123456789"
_TICK = os.sysconf("SC_CLK_TCK")
#: The line a viewer process prints when it is subscribed and has the ready marker.
VIEWER_SENTINEL = "subscribed"
_LISTENING = re.compile(rb"listening on http://([^\s:]+):(\d+)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (its own, not its children's)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def minor_faults(pid: int) -> int:
    """Minor page faults of ``pid`` so far (fresh memory being touched)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rindex(b")") + 2:].split()[7])


def rss_bytes(pid: int, key: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(f"{key} not in /proc/{pid}/status")


def reset_peak_rss(pid: int) -> None:
    """Reset ``VmHWM`` (peak RSS) to the current RSS (``clear_refs`` 5)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def token(role: str, sub: str, agents: list[str] | None = None) -> str:
    from relay.auth import mint_token  # here: a viewer process (viewer.py) never mints

    return mint_token(SECRET, sub=sub, role=role, agents=agents, ttl=3600)  # type: ignore[arg-type]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("AGENT_SIDECAR_TOKEN", None)
    return env


@dataclass
class Proc:
    """A process under test and where its log goes."""

    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def faults(self) -> int:
        return minor_faults(self.pid)

    def rss(self) -> int:
        return rss_bytes(self.pid)

    async def stop(self, timeout: float = 5.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.popen.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        return self.popen.returncode

    async def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.popen.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.popen.poll()


@dataclass
class Relay(Proc):
    port: int = 0
    extra: list[str] = field(default_factory=list)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=REPO, env=_env()
        )


async def start_relay(log: Path, *extra: str) -> Relay:
    """``agent-sidecar relay --port 0`` with the bench's limits; waits for its URL."""
    argv = [
        sys.executable, "-m", "agent_sidecar", "relay", "--port", "0",
        "--jwt-secret", SECRET,
        # The bench types faster than a person and opens many connections per identity.
        "--rate-limit", "1000000", "--rate-burst", "1000000",
        "--max-connections-per-identity", "100000",
        *extra,
    ]
    popen = _spawn(argv, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        m = _LISTENING.search(log.read_bytes())
        if m:
            return Relay(popen=popen, log=log, port=int(m.group(2)), extra=list(extra))
        if popen.poll() is not None:
            break
        await asyncio.sleep(0.02)
    popen.kill()
    raise RuntimeError(f"relay did not start: see {log}")


def start_sidecar(relay: Relay, agent_id: str, command: list[str], log: Path,
                  extra: tuple[str, ...] = ()) -> Proc:
    """``agent-sidecar run --relay ... -- COMMAND`` (no mirror: nothing reads stdout)."""
    argv = [
        sys.executable, "-m", "agent_sidecar", "run",
        "--relay", relay.ws, "--token", token("agent", agent_id),
        "--agent-id", agent_id, "--no-mirror", "--idle-after", "60", *extra,
        "--", *command,
    ]
    return Proc(popen=_spawn(argv, log), log=log)


def producer(*args: str) -> list[str]:
    return [sys.executable, str(PRODUCER), *args]


@dataclass
class ViewerProc(Proc):
    """A dashboard process (``viewer.py``): a job on stdin; a sentinel line, then a
    result line on stdout.

    A plain ``Popen`` like the other processes, its stdout read on the loop (with
    ``asyncio.create_subprocess_exec`` the 3.11 child watcher once logged "Unknown child
    process": something reaped the viewer before it did).
    """

    stdout: asyncio.StreamReader | None = None
    pipe: asyncio.ReadTransport | None = None

    def follow(self, job: dict[str, Any]) -> None:
        """Start a job (a few hundred bytes: the pipe takes them without blocking)."""
        assert self.popen.stdin is not None
        self.popen.stdin.write(json.dumps(job).encode() + b"\n")
        self.popen.stdin.flush()

    async def _line(self) -> bytes:
        assert self.stdout is not None
        return (await self.stdout.readline()).strip()

    async def subscribed(self) -> None:
        """Wait for the sentinel: the viewer follows the agent and has its ready marker."""
        line = await self._line()
        if line != VIEWER_SENTINEL.encode():
            raise RuntimeError(f"viewer {self.pid} did not subscribe (see {self.log}):"
                               f" {line[:300]!r}")

    async def result(self) -> dict[str, Any]:
        line = await self._line()
        if not line:
            raise RuntimeError(f"viewer {self.pid} exited with {await self.wait(5)} and no"
                               f" result (see {self.log})")
        result: dict[str, Any] = json.loads(line)
        return result

    async def stop(self, timeout: float = 5.0) -> int | None:
        """Close stdin (the viewer exits after its job), then as :meth:`Proc.stop`."""
        with contextlib.suppress(OSError):
            assert self.popen.stdin is not None
            self.popen.stdin.close()
        await self.wait(timeout)
        code = await super().stop(timeout)
        if self.pipe is not None:
            self.pipe.close()
        return code


async def start_viewer(log: Path) -> ViewerProc:
    """``python -m benchlib.viewer`` (stderr appended to ``log``), waiting for jobs."""
    env = _env()
    env["PYTHONPATH"] = str(REPO / "scripts") + os.pathsep + env["PYTHONPATH"]
    with open(log, "ab") as err:
        popen = subprocess.Popen([sys.executable, "-m", "benchlib.viewer"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=err, cwd=REPO, env=env)
    reader = asyncio.StreamReader()
    pipe, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), popen.stdout)
    return ViewerProc(popen=popen, log=log, stdout=reader, pipe=pipe)


class ViewerPool:
    """Viewer processes that live across runs (started when first needed)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(b"")  # the viewers append to it
        self.procs: list[ViewerProc] = []

    async def get(self, count: int) -> list[ViewerProc]:
        while len(self.procs) < count:
            self.procs.append(await start_viewer(self.log))
        return self.procs[:count]

    async def close(self) -> None:
        """Stop every viewer (also after a failed run: the next run starts new ones)."""
        procs, self.procs = self.procs, []
        await asyncio.gather(*(p.stop() for p in procs))
