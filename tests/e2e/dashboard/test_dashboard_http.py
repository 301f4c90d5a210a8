"""The dashboard's HTTP side (relay/dashboard.py): headers, allow-list, missing assets.

Synchronous tests with the app on a LoopThread: in this package the sync Playwright API
may hold the main thread's event loop, so no pytest-asyncio tests live here."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from relay.handlers.page import STATIC_DIR, VENDOR_FILES, add_routes, import_map_hash

from .harness import LoopThread


def static_copy(tmp_path: Path, with_vendor: bool) -> Path:
    root = tmp_path / "static"
    shutil.copytree(STATIC_DIR, root, ignore=shutil.ignore_patterns("vendor"))
    (root / "vendor").mkdir()
    if with_vendor:
        for name in VENDOR_FILES:
            (root / name).write_text("/* stand-in */\n")
    return root


@dataclass
class Resp:
    status: int
    headers: CIMultiDict[str]
    text: str

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0]


class Server:
    """``add_routes`` on a bare app, served on 127.0.0.1:0 from a LoopThread."""

    def __init__(self, loop: LoopThread, static_dir: Path) -> None:
        self.loop = loop
        app = web.Application()
        add_routes(app, static_dir)
        self.runner = web.AppRunner(app)

        async def start() -> int:
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            return int(self.runner.addresses[0][1])

        self.port = loop.run(start())

    def get(self, path: str, headers: dict[str, str] | None = None) -> Resp:
        async def fetch() -> Resp:
            async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{self.port}{path}", headers=headers or {}
            ) as r:
                return Resp(r.status, CIMultiDict(r.headers), await r.text())

        return self.loop.run(fetch())

    def close(self) -> None:
        self.loop.run(self.runner.cleanup())


@pytest.fixture
def serve(loop: LoopThread) -> Iterator[Callable[[Path], Server]]:
    servers: list[Server] = []

    def make(static_dir: Path) -> Server:
        servers.append(Server(loop, static_dir))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_index_has_a_strict_csp_that_allows_only_its_import_map(
    serve: Callable[[Path], Server], tmp_path: Path
) -> None:
    resp = serve(static_copy(tmp_path, with_vendor=True)).get("/")
    assert resp.status == 200
    html = resp.text
    csp = resp.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == f"'self' {import_map_hash(html)}"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in csp
    assert directives["connect-src"].startswith("'self' ws://127.0.0.1:")
    assert directives["require-trusted-types-for"] == "'script'"
    assert directives["frame-ancestors"] == "'none'"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in html  # only the import map and src= module scripts


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("/static/app.js", "text/javascript", "no-cache"),
        ("/static/js/terminal.mjs", "text/javascript", "no-cache"),
        ("/static/style.css", "text/css", "no-cache"),
        ("/static/vendor/xterm.mjs", "text/javascript", "public, max-age=86400"),
        ("/static/vendor/xterm.css", "text/css", "public, max-age=86400"),
    ],
)
def test_allow_listed_files_have_types_and_cache_headers(
    serve: Callable[[Path], Server], tmp_path: Path, path: str, content_type: str, cache: str
) -> None:
    client = serve(static_copy(tmp_path, with_vendor=True))
    resp = client.get(path)
    assert resp.status == 200
    assert resp.content_type == content_type
    assert resp.headers["Cache-Control"] == cache
    etag = resp.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status == 304


@pytest.mark.parametrize(
    "path",
    [
        "/static/",
        "/static/js/",
        "/static/vendor/",
        "/static/index.html",
        "/static/vendor/xterm.mjs.map",
        "/static/vendor/.lock-sha256",
        "/static/../dashboard.py",
        "/static/%2e%2e/dashboard.py",
        "/static/js/../../dashboard.py",
        "/static/nope.js",
    ],
)
def test_anything_not_allow_listed_is_404(
    serve: Callable[[Path], Server], tmp_path: Path, path: str
) -> None:
    root = static_copy(tmp_path, with_vendor=True)
    (root / "vendor" / "xterm.mjs.map").write_text("{}")
    (root / "dashboard.py").write_text("secret = 1")
    assert serve(root).get(path).status == 404


def test_missing_vendor_files_give_a_clear_page_and_a_log_line(
    serve: Callable[[Path], Server], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="relay.handlers.page")
    server = serve(static_copy(tmp_path, with_vendor=False))
    assert "scripts/fetch-assets" in caplog.text
    resp = server.get("/")
    assert resp.status == 503
    text = resp.text
    assert "scripts/fetch-assets" in text
    assert "vendor/xterm.mjs" in text
