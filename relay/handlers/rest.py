"""The HTTP API: ``/healthz``, ``/api/agents``, ``/api/agents/{id}``, ``.../output``.

Every ``/api`` route takes ``Authorization: Bearer <jwt>`` (never a query-string token)
with role viewer or above, and answers errors as JSON ``{"error": CODE, "message": ...}``:
401 without a valid token, 403 for the agent role or an id outside the token's
``agents`` (whether or not it exists), 404 for an unknown id in scope, 400 for a bad
``since``.
"""

from __future__ import annotations

import logging

from aiohttp import web

from relay.appkeys import CONFIG, HUB
from relay.auth import AuthError, Claims, verify
from relay.handlers.endpoint import bearer_token
from relay.protocol import MAX_OFFSET, agent_info_dict, is_agent_id

log = logging.getLogger(__name__)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = web.json_response({"error": code, "message": message}, status=status)
        if status == 401:
            self.response.headers["WWW-Authenticate"] = 'Bearer realm="agent-relay"'


def _claims(request: web.Request) -> Claims:
    token = bearer_token(request)
    if token is None:
        raise _Refused(401, "unauthenticated", "send Authorization: Bearer <token>")
    try:
        claims = verify(token, request.app[CONFIG])
    except AuthError as exc:
        log.info("REST %s from %s: auth failed: %s", request.path, request.remote, exc)
        raise _Refused(401, "unauthenticated", str(exc)) from None
    if not claims.is_dashboard:
        raise _Refused(403, "forbidden", f"role {claims.role} may not read the API")
    return claims


def _agent_id(request: web.Request) -> str:
    """The path's agent id, whole (a look-alike such as ``ab-1%0A`` is a 400)."""
    agent_id = request.match_info["agent_id"]
    if not is_agent_id(agent_id):
        raise _Refused(400, "invalid_message", f"invalid agent id {agent_id[:140]!r}")
    return agent_id


def _in_scope(claims: Claims, agent_id: str) -> None:
    if not claims.may_see(agent_id):
        raise _Refused(403, "forbidden", f"agent '{agent_id}' is outside this token's scope")


def _unknown(agent_id: str) -> _Refused:
    return _Refused(404, "unknown_agent", f"unknown agent '{agent_id}'")


def _since(request: web.Request) -> int | None:
    raw = request.query.get("since")
    if raw is None:
        return None
    if not raw.isdecimal() or int(raw) > MAX_OFFSET:
        raise _Refused(
            400, "invalid_message", f"since must be a non-negative integer, got {raw[:40]!r}"
        )
    return int(raw)


async def healthz(request: web.Request) -> web.Response:
    if await request.app[HUB].healthy():
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "degraded"}, status=503)


async def list_agents(request: web.Request) -> web.Response:
    try:
        claims = _claims(request)
    except _Refused as refused:
        return refused.response
    agents = await request.app[HUB].list_agents(claims)
    return web.json_response({"agents": [agent_info_dict(a) for a in agents]})


async def get_agent(request: web.Request) -> web.Response:
    try:
        claims = _claims(request)
        agent_id = _agent_id(request)
        _in_scope(claims, agent_id)
        info = await request.app[HUB].get_agent(agent_id)
        if info is None:
            raise _unknown(agent_id)
    except _Refused as refused:
        return refused.response
    return web.json_response(agent_info_dict(info))


async def get_output(request: web.Request) -> web.Response:
    try:
        claims = _claims(request)
        agent_id = _agent_id(request)
        since = _since(request)
        _in_scope(claims, agent_id)
        out = await request.app[HUB].read_output(agent_id, since)
        if out is None:
            raise _unknown(agent_id)
    except _Refused as refused:
        return refused.response
    return web.Response(
        body=out.data,
        content_type="application/octet-stream",
        headers={"X-Output-Offset": str(out.offset), "X-Output-End": str(out.end)},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/agents", list_agents)
    app.router.add_get("/api/agents/{agent_id}", get_agent)
    app.router.add_get("/api/agents/{agent_id}/output", get_output)
