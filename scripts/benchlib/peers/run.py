"""``scripts/bench --peers``: ttyd, terminado and both of our modes in one run.

Each measurement starts its target afresh with the bench's producer as the command
(ttyd and terminado start the command when the client connects; ``agent-sidecar run``
starts it at once and the client replays it from offset 0), drives it through the
neutral client of :mod:`.clients`, then stops it. Targets take turns within each run,
so machine noise spreads over all of them alike. Numbers are medians over the runs.

Scenarios (the producer prints ``<<READY>>``, waits for a key, then writes):
- ``raw_MBps``: N bytes in raw tty mode, from the key to the last byte; exact bytes.
- ``cpu_ms_per_MB``: CPU of the serving processes during that burst (ttyd; the
  terminado server; our ``run`` with its embedded relay; relay + sidecar standalone).
- ``rtt_p50_us`` / ``rtt_p99_us``: one key, its echo back (the PTY echoes), typed at
  40 keys/s (under the relay's default input rate limit of 50/s, which the embedded
  relay keeps; a person types slower still).
- ``exit_complete_pct``: the command writes 16 MiB and exits at once: did every byte
  arrive?

``aiohttp-floor`` (:mod:`.floor_server`) is no product: one aiohttp WebSocket and one
PTY in Python, nothing else, driven by the ttyd client. It is what any design on
asyncio and aiohttp pays at the least on the machine at hand, i.e. how close to ttyd
such a design can come at all. ``asyncio-floor`` (:mod:`.asyncio_floor_server`) goes
one step lower: the same without aiohttp, its WebSocket written on an asyncio protocol,
i.e. what any server in Python on asyncio pays.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ..procs import REPO, cpu_seconds, start_relay, start_sidecar, token
from ..procs import producer as producer_argv
from ..producer import READY, expected_output
from ..report import percentile
from . import setup
from .clients import Client, OursClient, TerminadoClient, TtydClient

MIB = 1024 * 1024
TARGETS = ("ttyd", "terminado", "embedded", "standalone", "aiohttp-floor", "asyncio-floor")
#: Variants measured alongside when their module is installed: ``run`` with uvloop's
#: event loop forced on.
VARIANTS = {"embedded-uvloop": "uvloop"}
_UVLOOP_RUN = ("import runpy, sys, uvloop; uvloop.install(); sys.argv[0] = 'agent_sidecar'; "
               "runpy.run_module('agent_sidecar', run_name='__main__')")


def targets(baseline: Path | None) -> tuple[str, ...]:
    extra = tuple(name for name, module in VARIANTS.items()
                  if importlib.util.find_spec(module) is not None)
    return TARGETS + extra + (("embedded-base",) if baseline is not None else ())
_DASHBOARD = re.compile(rb"Dashboard: http://127\.0\.0\.1:(\d+)/#token=([A-Za-z0-9._-]+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


@dataclass
class Running:
    client: Client
    #: The processes that serve the terminal (their CPU is what is measured).
    pids: list[int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stops: list[Callable[[], Any]] = field(default_factory=list)

    def cpu(self) -> float:
        return sum(cpu_seconds(p) for p in self.pids)


@dataclass
class Peers:
    session: aiohttp.ClientSession
    logs: Path
    ttyd: Path
    terminado_python: Path
    #: Another checkout whose ``run`` is measured as ``embedded-base`` (before/after).
    baseline: Path | None = None
    serial: int = 0

    def _log(self, name: str) -> Path:
        self.serial += 1
        self.logs.mkdir(parents=True, exist_ok=True)
        return self.logs / f"peer-{name}-{self.serial}.log"

    def _spawn(self, argv: list[str], log: Path, repo: Path = REPO) -> subprocess.Popen[bytes]:
        # In ``repo``: ``python -m`` puts the working directory before PYTHONPATH, so a
        # baseline started here would import this checkout's code, not its own.
        env = dict(os.environ, PYTHONPATH=str(repo))
        env.pop("AGENT_SIDECAR_TOKEN", None)
        with open(log, "wb") as out:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    cwd=repo, env=env)

    @contextlib.asynccontextmanager
    async def start(self, target: str, command: list[str]) -> AsyncIterator[Running]:
        log = self._log(target)
        running: Running
        if target == "ttyd":
            port = _free_port()
            proc = self._spawn([str(self.ttyd), "-p", str(port), "-i", "lo", "-W", "-d", "1",
                                *command], log)
            await _wait_port(port, proc)
            running = Running(TtydClient(self.session, f"http://127.0.0.1:{port}"),
                              [proc.pid], [proc])
        elif target == "terminado":
            port = _free_port()
            server = Path(__file__).with_name("terminado_server.py")
            proc = self._spawn([str(self.terminado_python), str(server), str(port), "--",
                                *command], log)
            await _wait_port(port, proc)
            running = Running(TerminadoClient(self.session, f"http://127.0.0.1:{port}"),
                              [proc.pid], [proc])
        elif target in ("aiohttp-floor", "asyncio-floor"):
            port = _free_port()
            server = Path(__file__).with_name(
                "floor_server.py" if target == "aiohttp-floor" else "asyncio_floor_server.py")
            proc = self._spawn([sys.executable, str(server), str(port), "--", *command], log)
            await _wait_port(port, proc)
            running = Running(TtydClient(self.session, f"http://127.0.0.1:{port}"),
                              [proc.pid], [proc])
        elif target in ("embedded", "embedded-uvloop", "embedded-base"):
            port = _free_port()
            uv = target == "embedded-uvloop"
            launcher = ["-c", _UVLOOP_RUN] if uv else ["-m", "agent_sidecar"]
            proc = self._spawn([sys.executable, *launcher, "run", "--port",
                                str(port), "--no-mirror", "--idle-after", "60", "--",
                                *command], log,
                               self.baseline if target == "embedded-base" and self.baseline
                               else REPO)
            tok = await _dashboard_token(log, proc)
            running = Running(OursClient(self.session, f"http://127.0.0.1:{port}", tok),
                              [proc.pid], [proc])
        else:
            relay = await start_relay(log)
            sidecar = start_sidecar(relay, f"peer-{self.serial}", command,
                                    self._log("standalone-sidecar"))
            running = Running(OursClient(self.session, relay.http, token("operator", "peer")),
                              [relay.pid, sidecar.pid], [sidecar.popen, relay.popen])
        try:
            await running.client.connect()
            yield running
        finally:
            await running.client.close()
            for proc in running.procs:
                if proc.poll() is None:
                    proc.terminate()
                try:
                    await asyncio.to_thread(proc.wait, 10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


async def _dashboard_token(log: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        m = _DASHBOARD.search(log.read_bytes())
        if m:
            return m.group(2).decode()
        if proc.poll() is not None:
            break
        await asyncio.sleep(0.02)
    raise RuntimeError(f"no Dashboard line from run: see {log}")


class Reader:
    """Counts a client's output; resolves waiters at byte counts."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.got = 0
        self.crc_from = 0
        self.crc = 0
        self.last_byte_at = time.perf_counter()
        self.closed = asyncio.Event()
        self._head = b""
        self._waiters: list[tuple[int, asyncio.Future[float]]] = []
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for data in self.client.output():
                now = time.perf_counter()
                start = self.got
                self.got += len(data)
                self.last_byte_at = now
                if len(self._head) < len(READY):
                    self._head += data[: len(READY)]
                if self.got > self.crc_from:
                    self.crc = zlib.crc32(data[max(0, self.crc_from - start):], self.crc)
                keep = []
                for target, fut in self._waiters:
                    if self.got >= target and not fut.done():
                        fut.set_result(now)
                    elif not fut.done():
                        keep.append((target, fut))
                self._waiters = keep
        finally:
            self.closed.set()
            for _, fut in self._waiters:
                if not fut.done():
                    fut.set_exception(ConnectionError("the connection closed"))

    def reached(self, count: int) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if self.got >= count:
            fut.set_result(time.perf_counter())
        else:
            self._waiters.append((count, fut))
        return fut

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


async def throughput(peers: Peers, target: str, nbytes: int) -> dict[str, Any]:
    expected = expected_output(nbytes, "raw")
    total = len(READY) + len(expected)
    # --stay: the command outlives the burst, so a peer that closes the connection when
    # the command exits (ttyd, terminado) is measured for throughput, not for its exit.
    argv = producer_argv("burst", str(nbytes), "raw", "--stay")
    async with peers.start(target, argv) as run:
        reader = Reader(run.client)
        reader.crc_from = len(READY)
        await asyncio.wait_for(reader.reached(len(READY)), 30)
        done = reader.reached(total)
        cpu0, t0 = run.cpu(), time.perf_counter()
        await run.client.send(b"\r")
        t1 = await asyncio.wait_for(done, 120)
        cpu = run.cpu() - cpu0
        await reader.stop()
    mb = len(expected) / 1e6
    return {"MBps": mb / (t1 - t0), "cpu_ms_per_MB": cpu * 1000 / mb,
            "exact": reader.crc == zlib.crc32(expected)}


async def rtt(peers: Peers, target: str, samples: int) -> dict[str, Any]:
    async with peers.start(target, producer_argv("echo")) as run:
        reader = Reader(run.client)
        await asyncio.wait_for(reader.reached(len(READY)), 30)
        pos = reader.got
        times: list[float] = []
        warm = samples // 10
        for i in range(samples + warm):
            pos += 1
            fut = reader.reached(pos)
            t = time.perf_counter()
            await run.client.send(b"x")
            got = await asyncio.wait_for(fut, 5)
            if i >= warm:
                times.append(got - t)
            await asyncio.sleep(max(0.0, 0.025 - (time.perf_counter() - t)))
        await reader.stop()
    us = [t * 1e6 for t in times]
    return {"p50_us": percentile(us, 0.5), "p99_us": percentile(us, 0.99)}


async def exit_tail(peers: Peers, target: str, nbytes: int, quiet: float = 5.0) -> dict[str, Any]:
    expected = expected_output(nbytes, "raw")
    total = len(READY) + len(expected)
    async with peers.start(target, producer_argv("burst", str(nbytes), "raw")) as run:
        reader = Reader(run.client)
        await asyncio.wait_for(reader.reached(len(READY)), 30)
        done = reader.reached(total)
        await run.client.send(b"\r")
        # Until every byte came, the connection closed, or nothing came for `quiet` s.
        while not done.done() and not reader.closed.is_set():
            if time.perf_counter() - reader.last_byte_at > quiet:
                break
            # A peer that closes the connection when the command exits (ttyd, terminado)
            # fails `done` if bytes are missing: that is a result, not a bench error.
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(asyncio.shield(done), 0.5)
        got = reader.got
        await reader.stop()
    return {"complete": got >= total, "fraction": min(1.0, got / total)}


async def measure(quick: bool, runs: int, logs: Path, note: Callable[[str, Any], None],
                  baseline: Path | None = None) -> dict[str, dict[str, list[float]]]:
    root = REPO / "bench-results" / "peers"
    peers_ttyd = await asyncio.to_thread(setup.ttyd, root)
    peers_python = await asyncio.to_thread(setup.terminado_python, root)
    nbytes = (16 if quick else 64) * MIB
    samples = 200 if quick else 400
    names = targets(baseline)
    values: dict[str, dict[str, list[float]]] = {t: {} for t in names}

    def add(target: str, key: str, value: float) -> None:
        values[target].setdefault(key, []).append(value)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        peers = Peers(session, logs, peers_ttyd, peers_python, baseline)
        for i in range(runs):
            for target in names:
                t = await throughput(peers, target, nbytes)
                note(f"peers {target} throughput", t)
                add(target, "raw_MBps", t["MBps"] if t["exact"] else 0.0)
                add(target, "cpu_ms_per_MB", t["cpu_ms_per_MB"])
                r = await rtt(peers, target, samples)
                note(f"peers {target} rtt", r)
                add(target, "rtt_p50_us", r["p50_us"])
                add(target, "rtt_p99_us", r["p99_us"])
                e = await exit_tail(peers, target, 16 * MIB)
                note(f"peers {target} exit", e)
                add(target, "exit_complete_pct", 100.0 if e["complete"] else 0.0)
            print(f"peers: run {i + 1} of {runs} done", file=sys.stderr, flush=True)
    return values


#: (metric, ours, peer, goal ratio, "<=" or ">=") from the issue on one-hop embedding.
GOALS = [
    ("rtt_p50_us", "embedded", "ttyd", 1.5, "<="),
    ("rtt_p50_us", "standalone", "ttyd", 2.0, "<="),
    ("rtt_p99_us", "embedded", "terminado", 0.8, "<="),
    ("rtt_p99_us", "standalone", "terminado", 1.0, "<="),
    ("raw_MBps", "embedded", "ttyd", 1.0, ">="),
    ("cpu_ms_per_MB", "embedded", "ttyd", 1.5, "<="),
]
UNITS = {"raw_MBps": "MB/s", "cpu_ms_per_MB": "ms/MB", "rtt_p50_us": "us",
         "rtt_p99_us": "us", "exit_complete_pct": "% runs"}


def table(values: dict[str, dict[str, list[float]]]) -> str:
    def med(target: str, key: str) -> float:
        return statistics.median(values[target][key])

    def cell(target: str, key: str) -> str:
        v = values[target][key]
        return f"{statistics.median(v):.4g} ({min(v):.3g}-{max(v):.3g})"

    names = [t for t in values if values[t]]
    lines = ["| metric | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for key, unit in UNITS.items():
        lines.append(f"| {key} ({unit}) | " + " | ".join(cell(t, key) for t in names) + " |")
    lines += ["", "| goal | ratio | met |", "|---|---|---|"]
    goals = list(GOALS)
    goals += [(k, variant, peer, g, op) for k, ours, peer, g, op in GOALS
              for variant in names if variant.startswith(f"{ours}-")]
    for key, ours, peer, goal, op in goals:
        ratio = med(ours, key) / med(peer, key)
        met = ratio <= goal if op == "<=" else ratio >= goal
        lines.append(f"| {key}: {ours} {op} {goal}x {peer} | {ratio:.2f}x | "
                     f"{'yes' if met else 'NO'} |")
    return "\n".join(lines)
