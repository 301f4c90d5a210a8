"""Routes for the web dashboard: ``GET /`` and its static files.

Placeholder until the dashboard lands; ``relay.app.create_app`` calls :func:`add_routes`.
"""

from __future__ import annotations

from aiohttp import web

PLACEHOLDER = """<!doctype html><meta charset="utf-8"><title>agent-sidecar relay</title>
<p>The agent-sidecar relay is running. The web dashboard is not built yet.</p>"""


async def _index(request: web.Request) -> web.Response:
    return web.Response(text=PLACEHOLDER, content_type="text/html")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", _index)
