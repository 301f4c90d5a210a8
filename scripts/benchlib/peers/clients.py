"""One neutral client, three wire protocols.

Every target is driven through the same three calls: :meth:`Client.connect`,
:meth:`Client.send` (keystrokes) and :meth:`Client.output` (an async iterator over the
terminal's output bytes that ends when the connection does). The scenarios in
:mod:`.run` only use those, so every target is measured by the same loop:

- ``ttyd``: ``/ws`` with subprotocol ``tty``; a JSON hello with the size; input is
  ``"0" + bytes``; output frames are ``b"0" + bytes`` (other kinds are ignored).
- ``terminado``: ``/websocket``; JSON arrays ``["stdin", text]`` / ``["stdout", text]``.
- ours: ``/ws/dashboard`` with ``binary: true``; ``subscribe`` from offset 0; input as
  ``terminal:input``; output from the binary frames (offset-checked).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self) -> None:
        raise NotImplementedError

    async def send(self, data: bytes) -> None:
        raise NotImplementedError

    def _output(self, msg: aiohttp.WSMessage) -> bytes | None:
        raise NotImplementedError

    async def output(self) -> AsyncIterator[bytes]:
        assert self.ws is not None
        async for msg in self.ws:
            data = self._output(msg)
            if data:
                yield data

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()


class TtydClient(Client):
    async def connect(self) -> None:
        self.ws = await self.session.ws_connect(
            self.url + "/ws", protocols=("tty",), max_msg_size=0
        )
        hello = {"AuthToken": "", "columns": 80, "rows": 24}
        await self.ws.send_bytes(json.dumps(hello).encode())

    async def send(self, data: bytes) -> None:
        assert self.ws is not None
        await self.ws.send_bytes(b"0" + data)

    def _output(self, msg: aiohttp.WSMessage) -> bytes | None:
        if msg.type is aiohttp.WSMsgType.BINARY and msg.data[:1] == b"0":
            return bytes(msg.data[1:])
        return None


class TerminadoClient(Client):
    async def connect(self) -> None:
        self.ws = await self.session.ws_connect(self.url + "/websocket", max_msg_size=0)

    async def send(self, data: bytes) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(["stdin", data.decode()]))

    def _output(self, msg: aiohttp.WSMessage) -> bytes | None:
        if msg.type is aiohttp.WSMsgType.TEXT:
            kind, *rest = json.loads(msg.data)
            if kind == "stdout":
                return str(rest[0]).encode()
        return None


class OursClient(Client):
    """A dashboard following one agent (the only one on its relay) from offset 0."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        super().__init__(session, url)
        self._token = token
        self.agent_id = ""
        self._end = 0
        self.order_errors = 0

    async def connect(self) -> None:
        self.ws = await self.session.ws_connect(self.url + "/ws/dashboard", max_msg_size=0)
        await self.ws.send_str(json.dumps({
            "type": "dashboard:connect", "protocol": 1, "token": self._token, "binary": True,
        }))
        while not self.agent_id:
            msg: dict[str, Any] = json.loads((await self.ws.receive(timeout=30)).data)
            if msg["type"] == "dashboard:connected" and msg["agents"]:
                self.agent_id = msg["agents"][0]["agent_id"]
            elif msg["type"] == "agent:status":
                self.agent_id = msg["agent"]["agent_id"]
        await self.ws.send_str(json.dumps(
            {"type": "subscribe", "agent_id": self.agent_id, "since": 0}
        ))

    async def send(self, data: bytes) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(
            {"type": "terminal:input", "agent_id": self.agent_id, "data": data.decode()}
        ))

    def _output(self, msg: aiohttp.WSMessage) -> bytes | None:
        if msg.type is not aiohttp.WSMsgType.BINARY:
            return None
        data: bytes = msg.data
        n = data[1]
        offset = int.from_bytes(data[2 + n:10 + n], "big")
        if offset != self._end:
            self.order_errors += 1
        payload = data[10 + n:]
        self._end = offset + len(payload)
        return payload
