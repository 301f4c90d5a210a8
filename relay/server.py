"""Run the relay: :func:`start_relay` for embedding and tests, :func:`serve` for the CLI."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from dataclasses import dataclass, field

from aiohttp import web

from relay.app import create_app
from relay.appkeys import NOTIFIER, OPS
from relay.config import RelayConfig
from relay.listener import PendingSite

log = logging.getLogger(__name__)


@dataclass
class RunningRelay:
    """A relay listening on ``url``; ``port`` is the real one after binding port 0."""

    url: str
    port: int
    app: web.Application
    _runner: web.AppRunner = field(repr=False)

    async def close(self) -> None:
        """Graceful: 1001 to every socket, then cleanup."""
        await self._runner.cleanup()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def start_relay(config: RelayConfig) -> RunningRelay:
    app = create_app(config)
    # aiohttp's keep-alive timer also runs from the moment a connection opens until its
    # first request head is complete: it is the header timeout (default: an hour).
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=config.shutdown_timeout,
        keepalive_timeout=config.header_timeout,
    )
    await runner.setup()
    try:
        # Like web.TCPSite, with at most max_pending_connections connections waiting for
        # their first request head (the oldest is closed past it): relay.listener.
        site = PendingSite(
            runner, config.host, config.port, limit=config.max_pending_connections,
            on_drop=app[OPS].metrics.pending_connection_dropped,
        )
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    port = site.port
    url = f"http://{_url_host(config.host)}:{port}"
    notifier = app[NOTIFIER]
    if notifier is not None and notifier.base_url is None:
        # Links in notifications: --public-url, else where this relay listens (by the
        # machine's name when it listens on every address).
        every = config.host in ("0.0.0.0", "::", "")  # noqa: S104 - comparing, not binding
        host = socket.getfqdn() if every else config.host
        notifier.base_url = f"http://{_url_host(host)}:{port}"
    return RunningRelay(url=url, port=port, app=app, _runner=runner)


async def serve(config: RelayConfig) -> int:
    """Start, print ``listening on URL`` to stderr, run until SIGTERM/SIGINT, close."""
    relay = await start_relay(config)
    print(f"listening on {relay.url}", file=sys.stderr, flush=True)
    log.info("relay listening on %s", relay.url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("relay shutting down")
        await relay.close()
    return 0
