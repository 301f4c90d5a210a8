"""The least a terminal server on aiohttp does, for the bench: ``floor_server.py PORT -- CMD...``.

What any design on Python's asyncio and aiohttp pays at the least on this machine: one
WebSocket, one PTY, nothing else (no relay, no scrollback, no offsets, no auth). It
speaks ttyd's wire protocol, so the bench's ttyd client drives it: a JSON hello first,
input frames ``b"0" + bytes``, output frames ``b"0" + bytes``. Like ttyd it starts the
command when a client connects and closes the connection once the command's output
ends. The PTY is read until it is empty, each read sent before the next (aiohttp's
send waits while the socket is full, which holds the reading: back-pressure).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import pty
import signal
import sys
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

READ_SIZE = 65536


def _spawn(command: list[str]) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on the PTY's slave side
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    os.set_blocking(fd, False)
    return pid, fd


async def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


async def _pump(ws: web.WebSocketResponse, fd: int) -> None:
    """PTY -> WebSocket until the output ends, then close."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            await _readable(loop, fd)
            continue
        except OSError as exc:  # EIO: no process holds the slave side any more
            if exc.errno != errno.EIO:
                raise
            break
        if not data:
            break
        await ws.send_bytes(b"0" + data)
    await ws.close()


def handler(command: list[str]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=("tty",), max_msg_size=0, compress=False)
        await ws.prepare(request)
        await ws.receive()  # the hello (size and token: ignored)
        pid, fd = _spawn(command)
        pump = asyncio.create_task(_pump(ws, fd))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.BINARY and msg.data[:1] == b"0":
                    os.write(fd, msg.data[1:])  # keystrokes: a few bytes, the PTY takes them
        finally:
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            os.close(fd)
            await asyncio.get_running_loop().run_in_executor(None, os.waitpid, pid, 0)
        return ws

    return serve


def main() -> None:
    port = int(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1:]
    app = web.Application()
    app.router.add_get("/ws", handler(command))
    web.run_app(app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
