"""A real HTTP server that receives notifications, for tests of ``relay.notify``.

``receiver`` (a fixture) runs an aiohttp app on a free port through ``aiohttp_server``;
every request lands in ``Receiver.requests`` (an asyncio queue) as a :class:`Received`.
``answers`` are the statuses of the next requests, in order (200 once they run out);
``hang`` makes every request wait until the test ends (a receiver that never answers).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests.timing import deadline


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    answers: list[int] = field(default_factory=list)
    hang: bool = False
    requests: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)
    count: int = 0
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.count += 1
        self.requests.put_nowait(
            Received(request.path_qs, dict(request.headers), await request.read())
        )
        if self.hang:
            await self._release.wait()
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status, text="ok")

    async def next(self, timeout: float = 5.0) -> Received:
        async with deadline(timeout):
            return await self.requests.get()

    def release(self) -> None:
        self._release.set()


@pytest.fixture
def make_receiver(aiohttp_server: Any) -> Callable[..., Awaitable[Receiver]]:
    async def make(**fields: Any) -> Receiver:
        receiver = Receiver(**fields)
        app = web.Application()
        app.router.add_post("/{tail:.*}", receiver.handle)
        server = await aiohttp_server(app)
        receiver.url = str(server.make_url("/hook/SECRET-TOKEN-1234"))
        return receiver

    return make
