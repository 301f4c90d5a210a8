"""A bare aiohttp WebSocket server: the floor the relay is compared with (own process).

``/echo`` sends every message back (loopback WebSocket round trip). ``/src`` and
``/dst``: every binary message received on a ``/src`` connection is sent as it is to
every ``/dst`` connection (a one-hop relay with no protocol, no queue, no scrollback).
Prints ``listening on PORT`` on stderr. Standalone: imports only aiohttp.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import WSMsgType, web

DST: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("dst", set)


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=0, compress=False)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def src(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=0, compress=False)
    await ws.prepare(request)
    dst = request.app[DST]
    async for msg in ws:
        if msg.type is WSMsgType.BINARY:
            for peer in list(dst):
                await peer.send_bytes(msg.data)
        elif msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)  # a sync point for the sender
    return ws


async def dst(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=0, compress=False)
    await ws.prepare(request)
    request.app[DST].add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        request.app[DST].discard(ws)
    return ws


async def main() -> None:
    app = web.Application()
    app[DST] = set()
    app.router.add_get("/echo", echo)
    app.router.add_get("/src", src)
    app.router.add_get("/dst", dst)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"listening on {runner.addresses[0][1]}", file=sys.stderr, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
