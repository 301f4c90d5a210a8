"""Relay liveness, the sweeper and forget timers shared by all relays.

Each relay keeps ``{p}:relay:{rid}:alive`` set with a TTL (``liveness_ttl``), refreshed
three times per TTL. A relay that dies without cleanup stops refreshing; once its key
has expired, the sweeper of any relay finds the agents that ``{p}:live`` still assigns
to it and turns each into ``disconnected`` (``relay.redis.state.SWEEP_DEAD_LUA`` checks
both conditions atomically, so it happens once). Only the relay holding
``{p}:lock:sweep`` (``SET NX PX``, one sweep interval long) sweeps in a given interval,
so N relays do not all scan.

Worst case from a hard stop to ``disconnected`` everywhere: ``liveness_ttl`` +
``sweep_interval`` + one pub/sub hop (defaults 10 s + 2 s, inside the contract's 15 s
dead-peer window).

The sweeper also forgets agents whose time in ``{p}:forget`` has come (``forget_after``
after they exited or disconnected), for agents whose relay is gone; the relay that
scheduled a forget also keeps a local timer, so forgetting is as punctual as with one
relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from relay.redis.bus import REDIS_DOWN
from relay.redis.keys import Keys
from relay.redis.state import AgentStore

log = logging.getLogger(__name__)


class Liveness:
    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        relay_id: str,
        store: AgentStore,
        *,
        ttl: float,
        sweep_interval: float,
        forget_after: float,
        clock: Callable[[], float],
        on_down: Callable[[], None],
        on_roundtrip: Callable[[float], None] | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._relay_id = relay_id
        self._store = store
        self._ttl_ms = max(1, int(ttl * 1000))
        self._refresh = ttl / 3
        self._sweep_interval = sweep_interval
        self._forget_after = forget_after
        self._clock = clock
        self._on_down = on_down
        self._on_roundtrip = on_roundtrip
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"redis-liveness:{self._relay_id}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(*REDIS_DOWN):
            await self._client.delete(self._keys.alive(self._relay_id))

    async def beat(self) -> None:
        """Refresh this relay's alive key (raises when Redis is down); the round trip it
        took goes to ``on_roundtrip`` (the relay's Redis latency metric)."""
        started = time.perf_counter()
        await self._client.set(self._keys.alive(self._relay_id), "1", px=self._ttl_ms)
        if self._on_roundtrip is not None:
            self._on_roundtrip(time.perf_counter() - started)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = next_sweep = loop.time()
        while True:
            now = loop.time()
            try:
                if now >= next_beat:
                    await self.beat()
                    next_beat = now + self._refresh
                if now >= next_sweep:
                    next_sweep = now + self._sweep_interval
                    if await self._lock():
                        await self.sweep()
            except REDIS_DOWN as exc:
                log.debug("liveness: redis unreachable (%s)", type(exc).__name__)
                self._on_down()
                next_beat = now + min(self._refresh, 0.5)
            await asyncio.sleep(max(0.0, min(next_beat, next_sweep) - loop.time()))

    async def _lock(self) -> bool:
        ms = max(1, int(self._sweep_interval * 900))
        got = await self._client.set(self._keys.sweep_lock, self._relay_id, nx=True, px=ms)
        return bool(got)

    async def sweep(self) -> None:
        """Disconnect agents of dead relays; forget agents that are due."""
        live = await self._store.live()
        relays = sorted(set(live.values()))
        if relays:
            async with self._client.pipeline(transaction=False) as pipe:
                for rid in relays:
                    pipe.exists(self._keys.alive(rid))
                alive = dict(zip(relays, await pipe.execute(), strict=True))
            now = self._clock()
            for agent_id, rid in live.items():
                if not alive[rid] and await self._store.sweep_dead(
                    agent_id, rid, now, now + self._forget_after
                ):
                    log.info("agent %s: its relay %s is gone, marked disconnected", agent_id, rid)
        now = self._clock()
        for agent_id in await self._store.due(now):
            if await self._store.forget(agent_id, now, self._forget_after):
                log.info("forgot agent %s", agent_id)
