"""Dashboards in their own process (``python -m benchlib.viewer``), as browsers are.

The fan-out scenario keeps ten of these (a :class:`~benchlib.procs.ViewerPool`), so that
the viewers' own CPU (WebSocket parsing, CRC) is spread over processes the way separate
browsers spread it, instead of one bench process that falls behind and gets closed with
4503 as a slow consumer. The processes live for the whole bench run (a browser that
opens the dashboard again): starting ten interpreters per run would cost more time than
the burst they measure.

Each line on stdin is one job, a JSON object: ``url`` (the relay's ``ws://host:port``),
``token`` (on stdin: never on a command line), ``agent_id``, ``name``, ``start``,
``total`` and ``timeout`` (seconds for each wait). For each job the viewer opens a new
``/ws/dashboard`` connection, waits for the agent, subscribes with ``since=0`` and reads
until the stream reaches ``start`` (the producer's ready marker). Then it prints
:data:`~benchlib.procs.VIEWER_SENTINEL`: from here on the bench may start the burst.
It reads on until the stream reaches ``total`` or the relay closes it, prints one JSON
result line and closes the connection. Offsets (no gap, no duplicate) and the CRC-32 of
the bytes from ``start`` on are checked by :class:`~benchlib.clients.Dashboard`, as
in-process. The process exits when stdin closes.

``done_at`` is ``time.perf_counter()``, which is ``CLOCK_MONOTONIC`` on Linux and so
comparable with the bench's clock; ``cpu_s`` is this process's CPU time from the
sentinel to the end of the stream (connect and subscribe excluded). Logs go to stderr.
"""

from __future__ import annotations

import asyncio
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
            async with asyncio.timeout(wait):
                out["done_at"] = await board.reached(total)
        except (ConnectionError, TimeoutError, RuntimeError, aiohttp.ClientError) as e:
            out["error"] = f"{type(e).__name__}: {e}"
        out.update(
            cpu_s=time.process_time() - cpu0, end=board.end, received=board.received,
            frames=board.frames, order_errors=board.order_errors, crc=board.crc,
            close_code=board.close_code, errors=board.errors[:3],
        )
        print(json.dumps(out), flush=True)
        await board.close()


def main() -> int:
    for line in sys.stdin:
        if line.strip():
            asyncio.run(follow(json.loads(line)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
