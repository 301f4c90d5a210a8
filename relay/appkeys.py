"""Typed application state of the relay (``app[HUB]`` and friends); no module globals."""

from __future__ import annotations

from aiohttp import web

from relay.config import RelayConfig
from relay.handlers.connections import Connections
from relay.hub.interface import Hub
from relay.notify.notifier import Notifier
from relay.ops.hooks import Ops

CONFIG: web.AppKey[RelayConfig] = web.AppKey("config", RelayConfig)
HUB: web.AppKey[Hub] = web.AppKey("hub")
CONNECTIONS: web.AppKey[Connections] = web.AppKey("connections", Connections)
NOTIFIER: web.AppKey[Notifier | None] = web.AppKey("notifier")
OPS: web.AppKey[Ops] = web.AppKey("ops", Ops)
