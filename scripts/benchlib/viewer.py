"""Dashboards in their own process (``python -m benchlib.viewer``), as browsers are.

The 10-viewer scenarios (fan-out, stall, print-and-exit) keep ten of these (a
:class:`~benchlib.procs.ViewerPool`), so that the viewers' own CPU (WebSocket parsing,
CRC) is spread over processes the way separate browsers spread it, instead of one bench
process that falls behind and gets closed with 4503 as a slow consumer. The processes
live for the whole bench run (a browser that opens the dashboard again): starting ten
interpreters per run would cost more time than the burst they measure.

Each line on stdin is one job, a JSON object: ``url`` (the relay's ``ws://host:port``),
``token`` (on stdin: never on a command line), ``agent_id``, ``name``, ``start``,
``total``, ``timeout`` (seconds for each wait) and optionally ``exit_grace``. For each
job the viewer opens a new ``/ws/dashboard`` connection, waits for the agent, subscribes
with ``since=0`` and reads until the stream reaches ``start`` (the producer's ready
marker). Then it prints :data:`~benchlib.procs.VIEWER_SENTINEL`: from here on the bench
may start the burst. It reads on until the stream reaches ``total`` or the relay closes
it; with ``exit_grace`` (a command that exits after its output), once the agent's
``exited`` status has come it waits at most that many seconds more for ``total``, so
that a lost tail costs seconds, not ``timeout``. Then it prints one JSON result line and
closes the connection. Offsets (no gap, no duplicate) and the CRC-32 of the bytes from
``start`` on are checked by :class:`~benchlib.clients.Dashboard`, as in-process. The
process exits when stdin closes.

``done_at`` (the stream reached ``total``) and ``exited_at`` (the ``exited`` status
came; with ``exit_grace`` only) are ``time.perf_counter()``, which is
``CLOCK_MONOTONIC`` on Linux and so comparable with the bench's clock; ``cpu_s`` is this
process's CPU time from the sentinel to the end of the stream (connect and subscribe
excluded). Logs go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import aiohttp

from .clients import Dashboard
from .procs import VIEWER_SENTINEL


async def follow(job: dict[str, Any]) -> None:
    """One job: the sentinel, then the result line (printed before closing)."""
    name, agent_id, wait = str(job["name"]), str(job["agent_id"]), float(job["timeout"])
    start, total = int(job["start"]), int(job["total"])
    grace = None if job.get("exit_grace") is None else float(job["exit_grace"])
    out: dict[str, Any] = {"viewer": name, "done_at": None, "error": None}
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        board = Dashboard(session, str(job["url"]), binary=True, sub=name, token=job["token"])
        cpu0 = time.process_time()
        try:
            await board.connect()
            await board.wait_agent(agent_id, wait)
            board.check_from = start
            await board.subscribe(agent_id, 0)
            async with asyncio.timeout(wait):
                await board.reached(start)
            cpu0 = time.process_time()
            print(VIEWER_SENTINEL, flush=True)
            if grace is None:
                async with asyncio.timeout(wait):
                    out["done_at"] = await board.reached(total)
            else:
                out["exited_at"] = None
                out["done_at"] = await _until_exit(board, agent_id, total, wait, grace, out)
        except (ConnectionError, TimeoutError, RuntimeError, aiohttp.ClientError) as e:
            out["error"] = f"{type(e).__name__}: {e}"
        out.update(
            cpu_s=time.process_time() - cpu0, end=board.end, received=board.received,
            frames=board.frames, order_errors=board.order_errors, crc=board.crc,
            close_code=board.close_code, errors=board.errors[:3],
        )
        print(json.dumps(out), flush=True)
        await board.close()


async def _until_exit(board: Dashboard, agent_id: str, total: int, wait: float,
                      grace: float, out: dict[str, Any]) -> float:
    """The time the stream reached ``total``; ``out["exited_at"]`` set when the agent's
    ``exited`` status comes (before or after); at most ``grace`` s after that status."""
    done = board.reached(total)
    exited = asyncio.ensure_future(board.wait_exited(agent_id, wait))
    try:
        async with asyncio.timeout(wait) as deadline:
            await asyncio.wait({done, exited}, return_when=asyncio.FIRST_COMPLETED)
            if exited.done() and not exited.exception():
                out["exited_at"] = time.perf_counter()
                if not done.done():
                    deadline.reschedule(asyncio.get_running_loop().time() + grace)
            t: float = await done
        if out["exited_at"] is None:  # all bytes came before the status: wait for it too
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await exited
                out["exited_at"] = time.perf_counter()
        return t
    finally:
        exited.cancel()


def main() -> int:
    for line in sys.stdin:
        if line.strip():
            asyncio.run(follow(json.loads(line)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
