"""``create_app(config)``: the relay as an aiohttp application.

Routes: ``/ws/agent``, ``/ws/dashboard``, ``/healthz``, ``/api/agents``,
``/api/agents/{id}``, ``/api/agents/{id}/output``, the operations routes (``/metrics``,
``/api/audit``, ``/api/agents/{id}/cast``: ``relay.ops.http``) and the dashboard's
(``GET /``). State lives in typed keys (``app[HUB]``, ``app[CONFIG]``,
``app[CONNECTIONS]``, ``app[OPS]``). On
shutdown every socket is closed with 1001 before the hub is released.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from relay.appkeys import CONFIG, CONNECTIONS, HUB, NOTIFIER, OPS
from relay.config import RelayConfig
from relay.handlers import page, rest
from relay.handlers.agent import handle_agent
from relay.handlers.connections import Connections
from relay.handlers.dashboard import handle_dashboard
from relay.hub.factory import make_hub
from relay.hub.interface import Hub
from relay.notify import make_notifier
from relay.ops import http as ops_http
from relay.ops.hooks import Ops
from relay.protocol import CloseCode

SHUTDOWN_REASON = "relay shutting down"


def create_app(config: RelayConfig, hub: Hub | None = None) -> web.Application:
    """The relay application; ``hub`` defaults to ``make_hub(config)`` (Redis or local),
    observed by the notifier when the config names notification channels."""
    app = web.Application()
    app[CONFIG] = config
    app[OPS] = ops = Ops(config)
    notifier = make_notifier(config, ops.metrics)
    app[NOTIFIER] = notifier
    observe = notifier.observe if notifier is not None else None
    app[HUB] = (
        hub if hub is not None
        else make_hub(config, on_change=observe, on_redis_roundtrip=ops.metrics.redis_roundtrip)
    )
    app[CONNECTIONS] = Connections(config.max_connections_per_identity)
    app.router.add_get("/ws/agent", handle_agent)
    app.router.add_get("/ws/dashboard", handle_dashboard)
    rest.add_routes(app)
    ops_http.add_routes(app)
    page.add_routes(app)
    app.cleanup_ctx.append(_notifier_lifetime)  # first: it sees the hub's first change
    app.cleanup_ctx.append(_hub_lifetime)
    app.cleanup_ctx.append(_ops_lifetime)
    app.on_shutdown.append(_close_sockets)
    return app


async def _notifier_lifetime(app: web.Application) -> AsyncIterator[None]:
    notifier = app[NOTIFIER]
    if notifier is None:
        yield
        return
    await notifier.start()
    yield
    await notifier.close()


async def _hub_lifetime(app: web.Application) -> AsyncIterator[None]:
    await app[HUB].start()
    yield
    await app[HUB].close()


async def _ops_lifetime(app: web.Application) -> AsyncIterator[None]:
    ops = app[OPS]
    await ops.start()
    listen = app[CONFIG].ops.metrics_listen
    listener = ops_http.MetricsListener(app, *listen) if listen is not None else None
    try:
        if listener is not None:
            await listener.start()
            ops.metrics_port = listener.port
        yield
    finally:
        if listener is not None:
            await listener.close()
        await ops.close()


async def _close_sockets(app: web.Application) -> None:
    await app[CONNECTIONS].close_all(
        CloseCode.GOING_AWAY, SHUTDOWN_REASON, app[CONFIG].shutdown_timeout
    )
