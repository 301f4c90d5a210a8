"""The scenarios: each starts its own relay (``agent-sidecar relay``) and sidecars
(``agent-sidecar run``), drives them from dashboards, and returns the numbers of one
run. The dashboards are in this process, except the ten viewers of the fan-out, stall
and print-and-exit scenarios: each is its own process (``viewer.py``), as browsers are,
so that the bench is not their bottleneck.

A scenario's agent prints :data:`READY` and waits for a keystroke ("go", sent by a
dashboard as ``terminal:input``), so every dashboard is subscribed before the burst and
the clock starts with the keystroke. Every dashboard checks offsets (no gap, no
duplicate) and the CRC-32 of what it got against the expected bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from .clients import Dashboard, StalledDashboard
from .procs import (
    Proc,
    Relay,
    ViewerPool,
    ViewerProc,
    cpu_seconds,
    reset_peak_rss,
    rss_bytes,
    start_relay,
    start_sidecar,
    token,
)
from .procs import producer as producer_argv
from .producer import READY, expected_output, payload

MIB = 1024 * 1024


@dataclass
class Ctx:
    session: aiohttp.ClientSession
    logs: Path
    run: int = 0
    #: Record py-spy profiles of the relay and the sidecar during each burst.
    profile: bool = False
    #: The 10-viewer scenarios' viewer processes (kept across runs; closed by the caller).
    viewers: ViewerPool | None = None

    def next_id(self, name: str) -> str:
        self.run += 1
        return f"bench-{name}-{self.run}"


@contextlib.asynccontextmanager
async def relay_for(ctx: Ctx, name: str, *extra: str) -> AsyncIterator[Relay]:
    relay = await start_relay(ctx.logs / f"relay-{name}-{ctx.run}.log", *extra)
    try:
        yield relay
    finally:
        await relay.stop()


async def _dashboards(ctx: Ctx, relay: Relay, count: int, binary: bool = True) -> list[Dashboard]:
    boards = [Dashboard(ctx.session, relay.ws, binary=binary, sub=f"bench-viewer-{i}")
              for i in range(count)]
    await asyncio.gather(*(b.connect() for b in boards))
    return boards


async def _close_all(boards: list[Dashboard]) -> None:
    await asyncio.gather(*(b.close() for b in boards))


class RssSampler:
    """Peak RSS of a process during a window, sampled every 5 ms (plus VmHWM)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.base = rss_bytes(pid)
        self.peak = self.base
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        reset_peak_rss(self.pid)
        self.base = rss_bytes(self.pid)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(OSError, LookupError):
                self.peak = max(self.peak, rss_bytes(self.pid))
            await asyncio.sleep(0.005)

    async def stop(self) -> int:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(OSError, LookupError):
            self.peak = max(self.peak, rss_bytes(self.pid, "VmHWM"))
        return self.peak - self.base


class Window:
    """CPU, page faults and peak RSS of the relay and the sidecar (and py-spy profiles
    with ``--profile``) over one burst, from :meth:`start` to :meth:`stop`."""

    def __init__(self, ctx: Ctx, relay: Relay, sidecar: Proc, agent_id: str) -> None:
        self.ctx, self.relay, self.sidecar, self.agent_id = ctx, relay, sidecar, agent_id
        self.sampler = RssSampler(relay.pid)
        self.spies: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        self.sampler.start()
        if self.ctx.profile:
            self.spies = [profiler(p, self.ctx.logs / f"profile-{who}-{self.agent_id}.txt")
                          for who, p in (("relay", self.relay), ("sidecar", self.sidecar))]
        self.relay_cpu0, self.side_cpu0 = self.relay.cpu(), self.sidecar.cpu()
        self.relay_flt0, self.side_flt0 = self.relay.faults(), self.sidecar.faults()
        self.bench_cpu0 = cpu_seconds(os.getpid())
        self.t0 = time.perf_counter()

    def end(self) -> None:
        """The burst is over: read the counters (the processes may exit next)."""
        self.t_end = time.perf_counter()
        self.relay_cpu = self.relay.cpu() - self.relay_cpu0
        self.side_cpu = self.sidecar.cpu() - self.side_cpu0
        self.relay_flt = self.relay.faults() - self.relay_flt0
        self.side_flt = self.sidecar.faults() - self.side_flt0
        self.bench_cpu = cpu_seconds(os.getpid()) - self.bench_cpu0

    async def stop(self) -> None:
        for spy in self.spies:
            spy.send_signal(signal.SIGINT)
            spy.wait()
        self.rss_growth = await self.sampler.stop()

    def numbers(self, mb: float) -> dict[str, Any]:
        return {
            "bench_cpu_pct": 100 * self.bench_cpu / (self.t_end - self.t0),
            "relay_cpu_ms_per_MB": self.relay_cpu * 1000 / mb,
            "sidecar_cpu_ms_per_MB": self.side_cpu * 1000 / mb,
            "relay_rss_growth_MB": self.rss_growth / 1e6,
            "relay_faults_per_MB": self.relay_flt / mb,
            "sidecar_faults_per_MB": self.side_flt / mb,
        }


async def burst(
    ctx: Ctx, *, nbytes: int, mode: str, viewers: int = 1, binary: bool = True,
    sidecar_args: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One agent writes ``nbytes`` after "go"; ``viewers`` dashboards in this process
    follow it (the throughput scenario: one viewer). ``sidecar_args`` go to ``run``."""
    expected = expected_output(nbytes, mode)
    want_crc = zlib.crc32(expected)
    start = len(READY)
    total = start + len(expected)
    agent_id = ctx.next_id(f"burst-{mode}")
    async with relay_for(ctx, "burst") as relay:
        boards = await _dashboards(ctx, relay, viewers, binary)
        sidecar = start_sidecar(relay, agent_id, producer_argv("burst", str(nbytes), mode),
                                ctx.logs / f"sidecar-{agent_id}.log", sidecar_args)
        try:
            await asyncio.gather(*(b.wait_agent(agent_id) for b in boards))
            for b in boards:
                b.check_from = start
                await b.subscribe(agent_id, 0)
            await asyncio.gather(*(b.reached(start) for b in boards))
            window = Window(ctx, relay, sidecar, agent_id)
            done = [b.reached(total) for b in boards]
            window.start()
            await boards[0].type_keys(agent_id, "\r")
            async with asyncio.timeout(120):
                results = await asyncio.gather(*done, return_exceptions=True)
            window.end()
            await window.stop()
            code = await sidecar.wait(30)
        finally:
            await sidecar.stop()
            await _close_all(boards)
    mb = len(expected) / 1e6
    times = [t for t in results if isinstance(t, float)]
    per_viewer = [mb / (t - window.t0) for t in times]
    def ok(b: Dashboard) -> bool:
        return b.crc == want_crc and b.order_errors == 0 and b.end == total

    exact = all(ok(b) for b in boards)
    return {
        "problems": [
            {"viewer": i, "crc_ok": b.crc == want_crc, "order_errors": b.order_errors,
             "end_minus_total": (b.end or 0) - total, "close_code": b.close_code,
             "errors": b.errors[:3]}
            for i, b in enumerate(boards) if not ok(b)
        ],
        "MB": mb,
        "per_viewer_MBps": per_viewer,
        "MBps": min(per_viewer) if len(times) == viewers else 0.0,
        "viewers_closed": [b.close_code for b in boards if b.close_code is not None],
        **window.numbers(mb),
        "exact": exact,
        "sidecar_exit": code,
        "frames_per_viewer": boards[0].frames,
    }


@contextlib.asynccontextmanager
async def _viewer_jobs(ctx: Ctx, relay: Relay, agent_id: str, count: int, *, start: int,
                       total: int, **job: Any) -> AsyncIterator[list[ViewerProc]]:
    """``count`` viewer processes of ``ctx.viewers`` (started at the first run, then
    kept), each given a job (:mod:`~benchlib.viewer`: follow ``agent_id`` from offset 0
    to ``total``, the sentinel at ``start``; ``job`` adds ``timeout``, ``exit_grace``).
    If the body fails, the pool is closed: a viewer may be mid-job, the next run starts
    new ones."""
    if ctx.viewers is None:
        ctx.viewers = ViewerPool(ctx.logs / "viewers.log")
    try:
        procs = await ctx.viewers.get(count)
        for i, p in enumerate(procs):
            name = f"bench-viewer-{i}"
            p.follow({"url": relay.ws, "token": token("viewer", name), "name": name,
                      "agent_id": agent_id, "start": start, "total": total, **job})
        yield procs
    except BaseException:
        await ctx.viewers.close()
        raise


def _judge(results: list[dict[str, Any]], want_crc: int, total: int) -> Iterator[dict[str, Any]]:
    """Mark each viewer's result ``crc_ok`` and ``exact`` (every byte, once, in order);
    yield the problems of those that are not."""
    for r in results:
        r["crc_ok"] = r["crc"] == want_crc
        r["exact"] = r["crc_ok"] and r["order_errors"] == 0 and r["end"] == total
        if not r["exact"]:
            yield {"viewer": r["viewer"], "crc_ok": r["crc_ok"],
                   "order_errors": r["order_errors"], "end_minus_total": (r["end"] or 0) - total,
                   "close_code": r["close_code"], "error": r["error"], "errors": r["errors"]}


async def fanout(ctx: Ctx, *, nbytes: int, viewers: int, stalled: bool = False,
                 ) -> dict[str, Any]:
    """One agent writes ``nbytes`` (raw tty) after "go"; ``viewers`` dashboards follow it,
    each in its own process (``viewer.py``), as separate browsers would. With
    ``stalled``, one more dashboard (a raw socket in this process: it costs nothing)
    subscribes and never reads; the relay should close it with 4503.

    The keystroke comes from a control dashboard in this process that subscribes to
    nothing, once every viewer has printed its sentinel (subscribed, marker received).
    The viewer processes are ``ctx.viewers``, started at the first run and kept.
    """
    expected = expected_output(nbytes, "raw")
    want_crc = zlib.crc32(expected)
    start = len(READY)
    total = start + len(expected)
    agent_id = ctx.next_id("fanout")
    async with relay_for(ctx, "fanout") as relay:
        (control,) = await _dashboards(ctx, relay, 1)
        sidecar = start_sidecar(relay, agent_id, producer_argv("burst", str(nbytes), "raw"),
                                ctx.logs / f"sidecar-{agent_id}.log")
        stall: StalledDashboard | None = None
        try:
            async with _viewer_jobs(ctx, relay, agent_id, viewers, start=start, total=total,
                                    timeout=120) as procs:
                await control.wait_agent(agent_id)
                async with asyncio.timeout(60):
                    await asyncio.gather(*(p.subscribed() for p in procs))
                if stalled:
                    stall = StalledDashboard(relay)
                    await asyncio.to_thread(stall.connect)
                    stall.send({"type": "subscribe", "agent_id": agent_id, "since": 0})
                window = Window(ctx, relay, sidecar, agent_id)
                window.start()
                await control.type_keys(agent_id, "\r")
                async with asyncio.timeout(150):
                    results = await asyncio.gather(*(p.result() for p in procs))
                window.end()
                await window.stop()
                code = await sidecar.wait(30)
                stall_code = None
                if stall is not None:
                    stall_code = await asyncio.to_thread(stall.drain_close_code, 10.0)
        finally:
            if stall is not None:
                stall.close()
            await sidecar.stop()
            await control.close()
    mb = len(expected) / 1e6
    problems = list(_judge(results, want_crc, total))
    times = [r["done_at"] for r in results if r["done_at"] is not None]
    per_viewer = [mb / (t - window.t0) for t in times]
    return {
        "problems": problems,
        "MB": mb,
        "per_viewer_MBps": per_viewer,
        "MBps": min(per_viewer) if len(times) == viewers else 0.0,
        "viewers_exact": sum(r["exact"] for r in results),
        "viewers_closed": [r["close_code"] for r in results if r["close_code"] is not None],
        "viewer_cpu_ms_per_MB": [r["cpu_s"] * 1000 / mb for r in results],
        **window.numbers(mb),
        "exact": all(r["exact"] for r in results),
        "sidecar_exit": code,
        "stalled_close_code": stall_code,
        "frames_per_viewer": results[0]["frames"],
    }


def profiler(proc: Proc, out: Path) -> subprocess.Popen[bytes]:
    """``py-spy record`` of ``proc`` until SIGINT: collapsed stacks of the thread holding
    the GIL (on-CPU Python time), sampled without pausing the process."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(
        [exe, "record", "--nonblocking", "--gil", "--format", "raw", "--rate", "500",
         "-o", str(out), "--pid", str(proc.pid)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


async def exit_burst(ctx: Ctx, *, nbytes: int, viewers: int) -> dict[str, Any]:
    """A command prints ``nbytes`` and exits at once: does every dashboard get every byte?

    ``viewers`` dashboards, each in its own process (``viewer.py``, as in
    :func:`fanout`), subscribe and print their sentinel; then a control dashboard in this
    process types the keystroke. Each viewer reads until the stream reaches the end of
    the output (at most 10 s after the agent's ``exited`` status) and reports CRC,
    offsets and close code. ``completion_s``: keystroke to the slowest viewer's last byte.
    """
    expected = expected_output(nbytes, "cooked")
    want_crc = zlib.crc32(expected)
    start = len(READY)
    total = start + len(expected)
    agent_id = ctx.next_id("exit")
    async with relay_for(ctx, "exit") as relay:
        (control,) = await _dashboards(ctx, relay, 1)
        sidecar = start_sidecar(relay, agent_id, producer_argv("burst", str(nbytes), "cooked"),
                                ctx.logs / f"sidecar-{agent_id}.log")
        try:
            async with _viewer_jobs(ctx, relay, agent_id, viewers, start=start, total=total,
                                    timeout=60, exit_grace=10) as procs:
                await control.wait_agent(agent_id)
                async with asyncio.timeout(60):
                    await asyncio.gather(*(p.subscribed() for p in procs))
                t0 = time.perf_counter()
                await control.type_keys(agent_id, "\r")
                async with asyncio.timeout(90):
                    results = await asyncio.gather(*(p.result() for p in procs))
                code = await sidecar.wait(30)
        finally:
            await sidecar.stop()
            await control.close()
    problems = list(_judge(results, want_crc, total))
    times = [r["done_at"] for r in results if r["done_at"] is not None]
    return {
        "viewers_complete": sum(r["exact"] for r in results),
        "viewers": viewers,
        "all_complete": not problems,
        "sidecar_exit": code,
        "problems": problems,
        "viewers_closed": [r["close_code"] for r in results if r["close_code"] is not None],
        "viewers_saw_exit": sum(r["exited_at"] is not None for r in results),
        "completion_s": max(times) - t0 if len(times) == viewers else None,
    }


async def keystroke_rtt(ctx: Ctx, *, samples: int) -> dict[str, Any]:
    """Dashboard -> relay -> sidecar -> PTY (kernel echo) -> sidecar -> relay -> dashboard."""
    agent_id = ctx.next_id("rtt")
    async with relay_for(ctx, "rtt") as relay:
        (board,) = await _dashboards(ctx, relay, 1)
        sidecar = start_sidecar(relay, agent_id, producer_argv("echo"),
                                ctx.logs / f"sidecar-{agent_id}.log")
        try:
            await board.wait_agent(agent_id)
            await board.subscribe(agent_id, 0)
            pos = len(READY)
            await board.reached(pos)
            times: list[float] = []
            warm = samples // 10
            for i in range(samples + warm):
                pos += 1
                fut = board.reached(pos)
                t = time.perf_counter()
                await board.type_keys(agent_id, "x")
                async with asyncio.timeout(5):
                    got = await fut
                if i >= warm:
                    times.append(got - t)
        finally:
            await sidecar.stop()
            await board.close()
    return {"samples_us": [t * 1e6 for t in times]}


async def late_joiner(ctx: Ctx, *, nbytes: int) -> dict[str, Any]:
    """8 MiB already in the scrollback: how long until a new dashboard has all of it?"""
    agent_id = ctx.next_id("late")
    expected = payload(nbytes)
    want_crc = zlib.crc32(expected)
    out: dict[str, Any] = {}
    async with relay_for(ctx, "late") as relay:
        (watcher,) = await _dashboards(ctx, relay, 1)
        sidecar = start_sidecar(relay, agent_id,
                                producer_argv("print", str(nbytes), "raw", "--stay"),
                                ctx.logs / f"sidecar-{agent_id}.log")
        try:
            await watcher.wait_agent(agent_id)
            await watcher.subscribe(agent_id, 0)
            async with asyncio.timeout(60):
                await watcher.reached(nbytes)
            for binary in (True, False):
                t_connect = time.perf_counter()
                (late,) = await _dashboards(ctx, relay, 1, binary=binary)
                t0 = time.perf_counter()
                fut = late.reached(nbytes)
                await late.subscribe(agent_id, None)
                async with asyncio.timeout(60):
                    t1 = await fut
                ok = late.crc == want_crc and late.order_errors == 0
                await late.close()
                key = "binary" if binary else "json"
                out[f"{key}_s"] = t1 - t0
                out[f"{key}_with_connect_s"] = t1 - t_connect
                out[f"{key}_exact"] = ok
        finally:
            await sidecar.stop()
            await watcher.close()
    return out


# ---------------------------------------------------------------------- scale


class _Raw:
    """A bare connection for the scale test: reads and discards (answers pings)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        with contextlib.suppress(Exception):
            async for _ in self.ws:
                pass

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.ws.close()


async def scale(ctx: Ctx, *, agents: int, dashboards: int) -> dict[str, Any]:
    """``agents`` protocol-level agents and ``dashboards`` dashboards on one relay."""
    gate = asyncio.Semaphore(64)
    conns: list[_Raw] = []
    async with relay_for(ctx, "scale") as relay:
        await asyncio.sleep(0.5)
        idle = relay.rss()
        ids = [f"bench-scale-{i}" for i in range(agents)]
        agent_tokens = [token("agent", a) for a in ids]
        dash_tokens = [token("viewer", f"bench-viewer-{i}") for i in range(dashboards)]

        async def agent(i: int) -> None:
            async with gate:
                ws = await ctx.session.ws_connect(relay.ws + "/ws/agent", max_msg_size=0)
                await ws.send_str(json.dumps({
                    "type": "agent:hello", "protocol": 1, "token": agent_tokens[i],
                    "agent_id": ids[i], "name": ids[i], "host": "bench",
                    "command": ["bench"], "pid": 1000 + i, "cols": 80, "rows": 24,
                    "started_at": time.time(), "labels": {},
                }))
                msg = await ws.receive(timeout=60)
                if '"agent:welcome"' not in str(msg.data):
                    raise RuntimeError(f"agent {i}: {msg.data!r}"[:200])
                conns.append(_Raw(ws))

        async def dashboard(i: int) -> None:
            async with gate:
                ws = await ctx.session.ws_connect(relay.ws + "/ws/dashboard", max_msg_size=0)
                await ws.send_str(json.dumps({
                    "type": "dashboard:connect", "protocol": 1, "token": dash_tokens[i],
                }))
                msg = await ws.receive(timeout=60)
                if not str(msg.data).startswith('{"type":"dashboard:connected"'):
                    raise RuntimeError(f"dashboard {i}: {str(msg.data)[:200]}")
                await ws.send_str(json.dumps({"type": "subscribe", "agent_id": ids[i % agents]}))
                conns.append(_Raw(ws))

        try:
            t0 = time.perf_counter()
            await asyncio.gather(*(agent(i) for i in range(agents)))
            t_agents = time.perf_counter() - t0
            await asyncio.sleep(0.5)
            with_agents = relay.rss()
            t0 = time.perf_counter()
            await asyncio.gather(*(dashboard(i) for i in range(dashboards)))
            t_dash = time.perf_counter() - t0
            await asyncio.sleep(0.5)
            with_all = relay.rss()
        finally:
            await asyncio.gather(*(c.close() for c in conns))
    return {
        "idle_rss_MB": idle / 1e6,
        "agent_rss_KB": (with_agents - idle) / agents / 1e3,
        "dashboard_rss_KB": (with_all - with_agents) / dashboards / 1e3,
        "total_rss_MB": with_all / 1e6,
        "connect_agents_s": t_agents,
        "connect_dashboards_s": t_dash,
    }


__all__ = ["Ctx", "Proc", "burst", "exit_burst", "fanout", "keystroke_rtt", "late_joiner", "scale"]
