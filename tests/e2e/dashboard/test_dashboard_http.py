"""The dashboard's HTTP side (relay/dashboard.py): headers, allow-list, missing assets."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from relay.dashboard import STATIC_DIR, VENDOR_FILES, add_routes, import_map_hash


def static_copy(tmp_path: Path, with_vendor: bool) -> Path:
    root = tmp_path / "static"
    shutil.copytree(STATIC_DIR, root, ignore=shutil.ignore_patterns("vendor"))
    (root / "vendor").mkdir()
    if with_vendor:
        for name in VENDOR_FILES:
            (root / name).write_text("/* stand-in */\n")
    return root


async def client_for(aiohttp_client: Any, static_dir: Path) -> Any:
    app = web.Application()
    add_routes(app, static_dir)
    return await aiohttp_client(app)


async def test_index_has_a_strict_csp_that_allows_only_its_import_map(aiohttp_client, tmp_path):
    client = await client_for(aiohttp_client, static_copy(tmp_path, with_vendor=True))
    resp = await client.get("/")
    assert resp.status == 200
    html = await resp.text()
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
async def test_allow_listed_files_have_types_and_cache_headers(
    aiohttp_client, tmp_path, path, content_type, cache
):
    client = await client_for(aiohttp_client, static_copy(tmp_path, with_vendor=True))
    resp = await client.get(path)
    assert resp.status == 200
    assert resp.content_type == content_type
    assert resp.headers["Cache-Control"] == cache
    etag = resp.headers["ETag"]
    again = await client.get(path, headers={"If-None-Match": etag})
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
async def test_anything_not_allow_listed_is_404(aiohttp_client, tmp_path, path):
    root = static_copy(tmp_path, with_vendor=True)
    (root / "vendor" / "xterm.mjs.map").write_text("{}")
    (root / "dashboard.py").write_text("secret = 1")
    client = await client_for(aiohttp_client, root)
    resp = await client.get(path)
    assert resp.status == 404


async def test_missing_vendor_files_give_a_clear_page_and_a_log_line(
    aiohttp_client, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="relay.dashboard")
    client = await client_for(aiohttp_client, static_copy(tmp_path, with_vendor=False))
    assert "scripts/fetch-assets" in caplog.text
    resp = await client.get("/")
    assert resp.status == 503
    text = await resp.text()
    assert "scripts/fetch-assets" in text
    assert "vendor/xterm.mjs" in text
