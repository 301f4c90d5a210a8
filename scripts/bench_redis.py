#!/usr/bin/env python3
"""Latency and throughput of agent output: one relay (LocalHub) vs relays on Redis.

``measure()`` returns a dict of numbers (importable by ``scripts/bench``); run as a
script it prints them as JSON. It starts its own ``redis-server`` on a free port.

For each setup an agent sends chunks and a dashboard subscribed to it receives them:

- latency: one 100-byte chunk at a time, waiting for it at the dashboard (p50/p99, ms);
- throughput: ``--mib`` MiB in 4 KiB chunks sent back to back (MiB/s at the dashboard).

Setups: ``local`` (one relay, in-memory hub), ``redis_same`` (Redis hub, dashboard on
the agent's relay), ``redis_cross`` (Redis hub, dashboard on another relay).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay.auth import mint_token
from relay.config import RelayConfig
from relay.protocol import encode_binary_output
from relay.server import RunningRelay, start_relay

SECRET = b"bench-secret-that-is-long-enough-for-hs256-0123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _redis(port: int) -> asyncio.subprocess.Process:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    proc = await asyncio.create_subprocess_exec(
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return proc
        except OSError:
            await asyncio.sleep(0.02)
    raise SystemExit("redis-server did not start")


async def _ws(session: aiohttp.ClientSession, relay: RunningRelay, path: str,
              first: dict[str, Any]) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(f"{relay.url}{path}", max_msg_size=0)
    await ws.send_str(json.dumps(first))
    await ws.receive()  # welcome / connected
    return ws


async def _run(agent_relay: RunningRelay, dash_relay: RunningRelay, agent_id: str,
               samples: int, mib: float) -> dict[str, float]:
    async with aiohttp.ClientSession() as session:
        agent = await _ws(session, agent_relay, "/ws/agent", {
            "type": "agent:hello", "protocol": 1, "agent_id": agent_id, "name": agent_id,
            "host": "bench", "command": ["sh"], "pid": 1, "cols": 80, "rows": 24,
            "started_at": time.time(), "labels": {},
            "token": mint_token(SECRET, sub=agent_id, role="agent", ttl=600)})
        dash = await _ws(session, dash_relay, "/ws/dashboard", {
            "type": "dashboard:connect", "protocol": 1, "binary": True,
            "token": mint_token(SECRET, sub="bench", role="viewer", ttl=600)})
        await dash.send_str(json.dumps({"type": "subscribe", "agent_id": agent_id}))
        offset = 0
        got = 0

        async def received_up_to(end: int) -> None:
            nonlocal got
            while got < end:
                msg = await dash.receive()
                if msg.type is aiohttp.WSMsgType.BINARY:
                    got += len(msg.data) - 10 - len(agent_id)

        latencies = []
        payload = b"x" * 99 + b"\n"
        for _ in range(samples):
            t0 = time.perf_counter()
            await agent.send_bytes(encode_binary_output(agent_id, offset, payload))
            offset += len(payload)
            await received_up_to(offset)
            latencies.append((time.perf_counter() - t0) * 1000)
        chunk = b"y" * 4095 + b"\n"
        n = int(mib * 1024 * 1024 / len(chunk))
        t0 = time.perf_counter()
        for _ in range(n):
            await agent.send_bytes(encode_binary_output(agent_id, offset, chunk))
            offset += len(chunk)
        await received_up_to(offset)
        seconds = time.perf_counter() - t0
        await agent.close()
        await dash.close()
    latencies.sort()
    return {
        "latency_p50_ms": round(statistics.median(latencies), 3),
        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        "throughput_mib_s": round(n * len(chunk) / 1024 / 1024 / seconds, 1),
    }


async def measure_async(samples: int = 500, mib: float = 32.0) -> dict[str, float]:
    base = RelayConfig(port=0, jwt_secret=SECRET, scrollback_bytes=64 * 1024 * 1024,
                       slow_consumer_bytes=256 * 1024 * 1024, rate_limit=1e6)
    results: dict[str, float] = {}
    local = await start_relay(base)
    try:
        for k, v in (await _run(local, local, "bench-local", samples, mib)).items():
            results[f"local_{k}"] = v
    finally:
        await local.close()
    port = _free_port()
    redis = await _redis(port)
    try:
        config = RelayConfig(port=0, jwt_secret=SECRET, scrollback_bytes=64 * 1024 * 1024,
                             slow_consumer_bytes=256 * 1024 * 1024,
                             redis_url=f"redis://127.0.0.1:{port}/0")
        a = await start_relay(config)
        b = await start_relay(config)
        try:
            for name, dash_relay in (("redis_same", a), ("redis_cross", b)):
                result = await _run(a, dash_relay, f"bench-{name}", samples, mib)
                for k, v in result.items():
                    results[f"{name}_{k}"] = v
        finally:
            await a.close()
            await b.close()
    finally:
        redis.kill()
        await redis.wait()
    return results


def measure(samples: int = 500, mib: float = 32.0) -> dict[str, float]:
    """Run every setup; a flat dict of numbers."""
    return asyncio.run(measure_async(samples, mib))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--mib", type=float, default=32.0)
    args = parser.parse_args()
    print(json.dumps(measure(args.samples, args.mib), indent=2))


if __name__ == "__main__":
    main()
