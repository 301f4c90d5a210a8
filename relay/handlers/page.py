"""Routes for the web dashboard: ``GET /`` and the files under ``/static/``.

Only the files named in :data:`OWN_FILES` and :data:`VENDOR_FILES` are served: the URL
path is looked up in a table, never joined onto a directory, so there is no listing and
no traversal. Our own files are revalidated on every load (``no-cache`` + ETag); the
vendored xterm.js files change only when ``scripts/fetch-assets`` pins a new version,
so browsers may keep them for a day.

The page carries a strict Content-Security-Policy: scripts only from this origin plus
the one inline import map (allowed by its hash), no ``eval``, Trusted Types enforced
(so no string ever reaches ``innerHTML``), connections only to this origin and its
WebSocket. xterm.js injects ``<style>`` elements for its cell metrics, so
``style-src`` must allow inline styles; style cannot run code.

When the vendored files are missing (a fresh checkout), ``/`` answers 503 with a page
that names the command that fetches them, and startup logs the same.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import web

logger = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).resolve().parent.parent / "static"
FETCH_COMMAND: Final = "scripts/fetch-assets"

_NO_CACHE: Final = "no-cache"
_VENDOR_CACHE: Final = "public, max-age=86400"
_JS: Final = "text/javascript; charset=utf-8"
_CSS: Final = "text/css; charset=utf-8"


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One servable file: where it lives, what it is, how long it may be cached."""

    relpath: str
    content_type: str
    cache_control: str


def _own(relpath: str, content_type: str) -> StaticFile:
    return StaticFile(relpath, content_type, _NO_CACHE)


def _vendor(relpath: str, content_type: str) -> StaticFile:
    return StaticFile(relpath, content_type, _VENDOR_CACHE)


#: Our own files, keyed by the path after ``/static/``.
OWN_FILES: Final[dict[str, StaticFile]] = {
    f.relpath: f
    for f in (
        _own("style.css", _CSS),
        _own("app.js", _JS),
        _own("favicon.svg", "image/svg+xml"),
        _own("js/connection.mjs", _JS),
        _own("js/fleet.mjs", _JS),
        _own("js/terminal.mjs", _JS),
        _own("js/output.mjs", _JS),
        _own("js/peek.mjs", _JS),
        _own("js/dom.mjs", _JS),
        _own("js/session.mjs", _JS),
        _own("js/attention.mjs", _JS),
        _own("js/answer.mjs", _JS),
        _own("js/search.mjs", _JS),
        _own("js/keybar.mjs", _JS),
        _own("js/pacer.mjs", _JS),
        _own("js/presence.mjs", _JS),
        _own("js/viewport.mjs", _JS),
        _own("js/workspace.mjs", _JS),
        _own("js/touchscroll.mjs", _JS),
    )
}

#: Third-party files copied by ``scripts/fetch-assets`` (gitignored).
VENDOR_FILES: Final[dict[str, StaticFile]] = {
    f.relpath: f
    for f in (
        _vendor("vendor/xterm.mjs", _JS),
        _vendor("vendor/addon-fit.mjs", _JS),
        _vendor("vendor/addon-search.mjs", _JS),
        _vendor("vendor/addon-web-links.mjs", _JS),
        _vendor("vendor/xterm.css", _CSS),
        _vendor("vendor/LICENSE.xterm", "text/plain; charset=utf-8"),
        _vendor("vendor/LICENSE.addon-fit", "text/plain; charset=utf-8"),
        _vendor("vendor/LICENSE.addon-search", "text/plain; charset=utf-8"),
        _vendor("vendor/LICENSE.addon-web-links", "text/plain; charset=utf-8"),
    )
}

_IMPORT_MAP_RE: Final = re.compile(
    r'<script type="importmap">(.*?)</script>', re.DOTALL
)
_HOST_RE: Final = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")

MISSING_ASSETS_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agent-sidecar: dashboard assets missing</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="background:#0f1115;color:#d7dae0;font:15px/1.5 system-ui,sans-serif;padding:2rem">
<h1 style="font-size:1.2rem">The dashboard's terminal files are not installed</h1>
<p>The relay is running, but the vendored xterm.js files are missing from
<code>relay/static/vendor/</code>. From the repository root, run:</p>
<pre style="background:#1a1d23;padding:.8rem 1rem;border-radius:6px">{command}</pre>
<p>then reload this page (the relay does not need a restart).</p>
<p>Missing: {missing}</p>
</body></html>"""


def missing_vendor_files(static_dir: Path = STATIC_DIR) -> list[str]:
    """Vendored files that the page needs and that are not on disk."""
    return [name for name in VENDOR_FILES if not (static_dir / name).is_file()]


def import_map_hash(index_html: str) -> str | None:
    """The CSP source (``'sha256-...'``) that allows the page's inline import map."""
    match = _IMPORT_MAP_RE.search(index_html)
    if match is None:
        return None
    digest = hashlib.sha256(match.group(1).encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(script_hash: str | None, host: str | None) -> str:
    """The page's CSP. ``host`` (the request's Host) adds explicit ws:/wss: sources,
    for browsers that do not yet treat ``'self'`` as covering WebSockets."""
    scripts = "'self'" + (f" {script_hash}" if script_hash else "")
    connect = "'self'"
    if host and _HOST_RE.match(host):
        connect += f" ws://{host} wss://{host}"
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        )
    )


_COMMON_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _Dashboard:
    """Request handlers bound to one static directory (tests may point elsewhere)."""

    def __init__(self, static_dir: Path) -> None:
        self.static_dir = static_dir
        self.files = {**OWN_FILES, **VENDOR_FILES}

    def _index_html(self) -> str:
        return (self.static_dir / "index.html").read_text(encoding="utf-8")

    async def index(self, request: web.Request) -> web.Response:
        missing = missing_vendor_files(self.static_dir)
        if missing:
            page = MISSING_ASSETS_PAGE.format(
                command=FETCH_COMMAND, missing=", ".join(sorted(missing))
            )
            return web.Response(
                status=503,
                text=page,
                content_type="text/html",
                headers={
                    **_COMMON_HEADERS,
                    "Cache-Control": "no-store",
                    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                },
            )
        html = self._index_html()
        csp = content_security_policy(import_map_hash(html), request.host)
        return web.Response(
            text=html,
            content_type="text/html",
            headers={
                **_COMMON_HEADERS,
                "Cache-Control": _NO_CACHE,
                "Content-Security-Policy": csp,
                "X-Frame-Options": "DENY",
            },
        )

    async def static(self, request: web.Request) -> web.StreamResponse:
        entry = self.files.get(request.match_info["path"])
        if entry is None:
            raise web.HTTPNotFound()
        path = self.static_dir / entry.relpath
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(
            path,
            headers={
                **_COMMON_HEADERS,
                "Content-Type": entry.content_type,
                "Cache-Control": entry.cache_control,
            },
        )


def add_routes(app: web.Application, static_dir: Path = STATIC_DIR) -> None:
    """``GET /`` (the page) and ``GET /static/{path}`` (allow-listed files)."""
    dashboard = _Dashboard(static_dir)
    missing = missing_vendor_files(static_dir)
    if missing:
        logger.warning(
            "dashboard: vendored xterm.js files are missing (%s); "
            "run %s from the repository root, / answers 503 until then",
            ", ".join(sorted(missing)),
            FETCH_COMMAND,
        )
    app.router.add_get("/", dashboard.index)
    app.router.add_get("/static/{path:.+}", dashboard.static)
