"""The operations routes: ``/metrics``, ``GET /api/audit``, ``GET /api/agents/{id}/cast``.

Authentication as the rest of the API (``Authorization: Bearer``, never the query
string), errors as JSON ``{"error": CODE, "message": ...}``:

- ``/metrics`` on the relay's port: admin tokens only (401 without a valid token, 403
  for other roles). With ``--metrics-listen HOST:PORT`` the same metrics are also served,
  without a token, on a listener of their own (:class:`MetricsListener`) for a
  Prometheus on a private network.
- ``/api/audit``: admin tokens only; query ``agent``, ``sub``, ``since``, ``until`` (epoch
  seconds) and ``limit`` (1-1000, default 100); ``{"records": [...]}``, newest first.
  An admin token with ``agents`` sees only records of agents it may see.
- ``/api/agents/{id}/cast``: viewer or above within the token's ``agents``, 404 for an
  unknown agent (one with a file in ``--record-dir`` is known);
  ``application/x-asciicast``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Final, TypeAlias

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from relay.appkeys import CONFIG, CONNECTIONS, HUB, OPS
from relay.auth import AuthError, Claims, verify
from relay.handlers.endpoint import bearer_token
from relay.ops.audit import MAX_LIMIT, AuditQuery
from relay.ops.cast import Timeline, render

log = logging.getLogger(__name__)

CAST_TYPE: Final = "application/x-asciicast"
#: A cast rendered from the scrollback is written in pieces of about this many characters.
STREAM_BATCH: Final = 64 * 1024


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = web.json_response({"error": code, "message": message}, status=status)
        if status == 401:
            self.response.headers["WWW-Authenticate"] = 'Bearer realm="agent-relay"'


class _Everything:
    def may_see(self, agent_id: str) -> bool:
        return True


def _claims(request: web.Request, *, admin: bool) -> Claims:
    token = bearer_token(request)
    if token is None:
        raise _Refused(401, "unauthenticated", "send Authorization: Bearer <token>")
    try:
        claims = verify(token, request.app[CONFIG])
    except AuthError as exc:
        log.info("%s from %s: auth failed: %s", request.path, request.remote, exc)
        raise _Refused(401, "unauthenticated", str(exc)) from None
    if admin and claims.role != "admin":
        raise _Refused(403, "forbidden", f"role {claims.role} may not read {request.path}")
    if not claims.is_dashboard:
        raise _Refused(403, "forbidden", f"role {claims.role} may not read the API")
    return claims


async def _refresh(app: web.Application) -> None:
    agents = await app[HUB].list_agents(_Everything())
    app[OPS].metrics.refresh(
        app[CONNECTIONS].by_kind(),
        ((a.state, a.activity.state if a.activity is not None else None) for a in agents),
    )


Handler: TypeAlias = Callable[[web.Request], Awaitable[web.StreamResponse]]


def metrics_handler(app: web.Application) -> Handler:
    """``/metrics`` of ``app``'s registry, gauges refreshed first; no authentication."""
    expose = make_aiohttp_handler(app[OPS].metrics.registry)

    async def handler(request: web.Request) -> web.StreamResponse:
        await _refresh(app)
        response: web.StreamResponse = await expose(request)
        return response

    return handler


async def metrics(request: web.Request) -> web.StreamResponse:
    try:
        _claims(request, admin=True)
    except _Refused as refused:
        return refused.response
    return await metrics_handler(request.app)(request)


def _number(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise _Refused(400, "invalid_message",
                       f"{name} must be a non-negative number, got {raw[:40]!r}")
    return value


async def audit(request: web.Request) -> web.Response:
    try:
        claims = _claims(request, admin=True)
        limit = _number(request, "limit")
        if limit is not None and not 1 <= limit <= MAX_LIMIT:
            raise _Refused(400, "invalid_message", f"limit must be 1-{MAX_LIMIT}")
        query = AuditQuery(
            agent_id=request.query.get("agent"), sub=request.query.get("sub"),
            since=_number(request, "since"), until=_number(request, "until"),
            limit=int(limit) if limit is not None else 100, scope=claims,
        )
    except _Refused as refused:
        return refused.response
    records = await request.app[OPS].audit.query(query)
    return web.json_response(
        {"records": [r.to_dict() for r in records]}
    )


async def cast(request: web.Request) -> web.StreamResponse:
    agent_id = request.match_info["agent_id"]
    try:
        claims = _claims(request, admin=False)
        if not claims.may_see(agent_id):
            raise _Refused(403, "forbidden", f"agent '{agent_id}' is outside this token's scope")
    except _Refused as refused:
        return refused.response
    ops = request.app[OPS]
    headers = {"Content-Disposition": f'attachment; filename="{agent_id}.cast"'}
    path = ops.recorder.file_of(agent_id)
    if path is not None:
        return web.FileResponse(path, headers={**headers, "Content-Type": CAST_TYPE})
    hub = request.app[HUB]
    out = await hub.read_output(agent_id, None)
    info = await hub.get_agent(agent_id)
    if out is None or info is None:
        return web.json_response(
            {"error": "unknown_agent", "message": f"unknown agent '{agent_id}'"}, status=404
        )
    timeline = ops.recorder.timeline(agent_id) or Timeline(
        started=info.started_at, cols=info.cols, rows=info.rows, title=info.name
    )
    response = web.StreamResponse(headers={**headers, "Content-Type": CAST_TYPE})
    await response.prepare(request)
    batch: list[str] = []
    size = 0
    for line in render(timeline, out.offset, out.data):
        batch.append(line)
        size += len(line)
        if size >= STREAM_BATCH:
            await response.write(("\n".join(batch) + "\n").encode())
            batch, size = [], 0
    if batch:
        await response.write(("\n".join(batch) + "\n").encode())
    await response.write_eof()
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/audit", audit)
    app.router.add_get("/api/agents/{agent_id}/cast", cast)


class MetricsListener:
    """``/metrics`` without a token on its own address (``--metrics-listen``)."""

    def __init__(self, relay_app: web.Application, host: str, port: int) -> None:
        self._app = web.Application()
        self._app.router.add_get("/metrics", metrics_handler(relay_app))
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, handle_signals=False, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self._host, self._port).start()
        except BaseException:
            await self._runner.cleanup()
            raise
        self.port = int(self._runner.addresses[0][1])
        log.info("metrics listening on %s:%d", self._host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
