"""Physical limits of this machine, measured in the same run as the scenarios.

- PTY read: a child writes the payload to its terminal (raw or cooked) and this process
  reads the master side with a plain blocking ``os.read(fd, 65536)`` loop.
- WebSocket echo: a bare aiohttp server in its own process sends each message back.
- One-hop relay: the same bare server forwards binary frames from one connection to
  another; its CPU per MB is the floor for any aiohttp-based relay.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from .procs import REPO, cpu_seconds, producer
from .producer import expected_output, payload

HOP = Path(__file__).resolve().with_name("hop.py")


def pty_read(n: int, mode: str) -> dict[str, Any]:
    """MB/s a plain reader gets from a PTY whose child writes ``n`` bytes."""
    want = len(expected_output(n, mode))
    master, slave = os.openpty()
    child = subprocess.Popen(
        producer("print", str(n), mode), stdin=slave, stdout=slave, stderr=slave,
        start_new_session=True, cwd=REPO,
    )
    os.close(slave)
    got = 0
    reads = 0
    t0 = 0.0
    try:
        while got < want:
            try:
                data = os.read(master, 65536)
            except OSError as exc:
                if exc.errno == errno.EIO:
                    break
                raise
            if not data:
                break
            if reads == 0:
                t0 = time.perf_counter()
            got += len(data)
            reads += 1
        elapsed = time.perf_counter() - t0
    finally:
        os.close(master)
        child.wait()
    if got < want:
        raise RuntimeError(f"pty read: got {got} of {want} bytes")
    return {"MBps": got / elapsed / 1e6, "avg_read": got / reads}


class HopServer:
    """hop.py in its own process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    async def __aenter__(self) -> HopServer:
        self.proc = subprocess.Popen(
            [sys.executable, str(HOP)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO,
        )
        assert self.proc.stderr is not None
        line = await asyncio.to_thread(self.proc.stderr.readline)
        m = re.search(rb"listening on (\d+)", line)
        if m is None:
            raise RuntimeError(f"hop server did not start: {line!r}")
        self.port = int(m.group(1))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()


async def ws_echo(session: aiohttp.ClientSession, samples: int) -> dict[str, Any]:
    """Round trips of a one-byte text message through a bare aiohttp echo server."""
    async with HopServer() as hop:
        ws = await session.ws_connect(f"ws://127.0.0.1:{hop.port}/echo")
        times: list[float] = []
        for i in range(samples + samples // 10):
            t = time.perf_counter()
            await ws.send_str("x")
            await ws.receive()
            if i >= samples // 10:
                times.append(time.perf_counter() - t)
        await ws.close()
    return {"samples_us": [t * 1e6 for t in times]}


async def one_hop(session: aiohttp.ClientSession, n: int) -> dict[str, Any]:
    """CPU ms per MB of a bare aiohttp process forwarding 256 KiB binary frames."""
    frame = payload(256 * 1024)
    count = max(1, n // len(frame))
    async with HopServer() as hop:
        assert hop.proc is not None
        dst = await session.ws_connect(f"ws://127.0.0.1:{hop.port}/dst", max_msg_size=0)
        src = await session.ws_connect(f"ws://127.0.0.1:{hop.port}/src", max_msg_size=0)
        await src.send_str("sync")  # /dst registered before /src answered this
        await src.receive()
        total = count * len(frame)

        async def drain() -> None:
            got = 0
            while got < total:
                msg = await dst.receive()
                got += len(msg.data)

        reader = asyncio.create_task(drain())
        c0 = cpu_seconds(hop.proc.pid)
        t0 = time.perf_counter()
        for _ in range(count):
            await src.send_bytes(frame)
        await reader
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(hop.proc.pid) - c0
        await src.close()
        await dst.close()
    mb = total / 1e6
    return {"cpu_ms_per_MB": cpu * 1000 / mb, "MBps": mb / elapsed}
