"""The relay's listening socket, with a cap on connections still without a request head.

aiohttp's keep-alive timer bounds how long a connection may take to send its first
request head (``RelayConfig.header_timeout``, set in ``relay.server``); this module
bounds how many may be doing so at once (``RelayConfig.max_pending_connections``), so a
few hundred idle or half-open sockets (slowloris) cannot exhaust the relay::

    PendingSite     web.BaseSite: listens with PendingHeads(runner.server) as the
                    protocol factory (public API: loop.create_server)
    PendingHeads    the factory: wraps each of aiohttp's protocols in a PendingConnection,
                    keeps the pending ones oldest first; a new one past the cap closes
                    the oldest; counts and logs (at most once a minute) what it closed
    PendingConnection   forwards every callback to aiohttp's protocol and looks for the
                    end of the first head (``\\r\\n\\r\\n``); once seen, it hands the
                    transport to aiohttp's protocol (``transport.set_protocol``) and is
                    off the byte path for good

Only the first head counts: a keep-alive connection idling between requests is not
pending (the keep-alive timeout bounds it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import cast

from aiohttp import web

log = logging.getLogger(__name__)

HEAD_END = b"\r\n\r\n"
#: Closes after the first of a burst are only counted for this long, then logged again.
LOG_INTERVAL = 60.0


class PendingConnection(asyncio.Protocol):
    """One connection that has not sent a complete request head yet."""

    __slots__ = ("heads", "inner", "tail", "transport")

    def __init__(self, heads: PendingHeads, inner: asyncio.Protocol) -> None:
        self.heads = heads
        self.inner = inner
        #: The last bytes seen, in case the head's end spans two reads.
        self.tail = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not always a subclass of asyncio.Transport
        # (uvloop's is not): no isinstance check.
        self.transport = cast(asyncio.Transport, transport)
        self.inner.connection_made(transport)
        self.heads.opened(self)

    def data_received(self, data: bytes) -> None:
        seen = self.tail + data[:3] if self.tail else b""
        if HEAD_END in seen or HEAD_END in data:
            self.heads.finished(self)
            assert self.transport is not None
            self.transport.set_protocol(self.inner)  # off the byte path from here on
        else:
            self.tail = (self.tail + data[-3:])[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.heads.finished(self)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class PendingHeads:
    """A protocol factory around ``factory`` that keeps at most ``limit`` connections
    without a complete request head; ``on_drop`` is called once per connection closed."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        limit: int,
        *,
        on_drop: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        log_interval: float = LOG_INTERVAL,
    ) -> None:
        if limit < 1:
            raise ValueError(f"the pending connection limit must be positive, got {limit}")
        self.factory = factory
        self.limit = limit
        self.on_drop = on_drop
        self.clock = clock
        self.log_interval = log_interval
        #: Oldest first (dicts keep insertion order).
        self.pending: dict[PendingConnection, None] = {}
        self.dropped = 0
        self._unlogged = 0
        self._logged_at: float | None = None

    def __call__(self) -> PendingConnection:
        return PendingConnection(self, self.factory())

    def opened(self, conn: PendingConnection) -> None:
        while len(self.pending) >= self.limit:
            oldest = next(iter(self.pending))
            del self.pending[oldest]
            oldest.close()
            self._dropped()
        self.pending[conn] = None

    def finished(self, conn: PendingConnection) -> None:
        self.pending.pop(conn, None)

    def _dropped(self) -> None:
        self.dropped += 1
        self._unlogged += 1
        if self.on_drop is not None:
            self.on_drop()
        now = self.clock()
        if self._logged_at is not None and now - self._logged_at < self.log_interval:
            return
        log.warning(
            "closed %d connection(s) that had not sent a complete request head: %d were "
            "already waiting (max_pending_connections); further closes in the next %.0f s "
            "are only counted (agent_relay_connections_dropped_pending_total)",
            self._unlogged, self.limit, self.log_interval,
        )
        self._unlogged = 0
        self._logged_at = now


class PendingSite(web.BaseSite):
    """A TCP site like ``web.TCPSite`` whose connections go through :class:`PendingHeads`."""

    __slots__ = ("heads", "host", "listener", "wanted_port")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        limit: int,
        on_drop: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(runner)
        server = runner.server
        assert server is not None  # BaseSite refuses a runner before setup()
        self.heads = PendingHeads(server, limit, on_drop=on_drop)
        self.host = host
        self.wanted_port = port
        self.listener: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port once started (the real one after binding port 0)."""
        if self.listener is None or not self.listener.sockets:
            return self.wanted_port
        return int(self.listener.sockets[0].getsockname()[1])

    @property
    def name(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self.listener = await loop.create_server(self.heads, self.host, self.wanted_port)

    async def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
        await super().stop()
