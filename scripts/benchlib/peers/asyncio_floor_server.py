"""The least a terminal server on bare asyncio does, for the bench: ``... PORT -- CMD...``.

Below :mod:`.floor_server`: no aiohttp at all, the WebSocket written here on an
``asyncio.Protocol`` (the handshake, masked client frames, unmasked server frames, ping
and close; no fragmentation, no extensions). It answers "how close to ttyd can any
server written in Python on asyncio come on this machine", so a goal below it is a goal
for another language, not for our code. Same wire as ttyd (a JSON hello, then
``b"0" + bytes`` both ways) so the bench's ttyd client drives it; the command starts
when the hello comes; the connection closes when the command's output ends. The PTY is
read while the socket takes what is written (``pause_writing`` stops the reading).

Not a product and not a WebSocket library: it trusts its one client.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import hashlib
import os
import pty
import signal
import struct
import sys

READ_SIZE = 65536
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _spawn(command: list[str]) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on the PTY's slave side
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    os.set_blocking(fd, False)
    return pid, fd


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def _unmask(mask: bytes, data: bytes) -> bytes:
    n = len(data)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "little")
    return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")


class TerminalProtocol(asyncio.Protocol):
    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False
        self.pid = 0
        self.fd = -1
        self.reading = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4:]
            key = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:]
                       if line.lower().startswith("sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Protocol: tty\r\n"
                + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode())
            self.upgraded = True
        while self._one_frame():
            pass

    def _one_frame(self) -> bool:
        buf = self.buf
        if len(buf) < 2:
            return False
        opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
        at = 2
        if n == 126:
            if len(buf) < 4:
                return False
            n, at = struct.unpack_from("!H", buf, 2)[0], 4
        elif n == 127:
            if len(buf) < 10:
                return False
            n, at = struct.unpack_from("!Q", buf, 2)[0], 10
        if len(buf) < at + 4 + n:
            return False
        payload = _unmask(buf[at:at + 4], buf[at + 4:at + 4 + n])
        self.buf = buf[at + 4 + n:]
        self._message(opcode, payload)
        return True

    def _message(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == 0x8:  # close
            self.transport.write(_frame(0x8, payload[:2]))
            self.transport.close()
        elif opcode == 0x9:  # ping
            self.transport.write(_frame(0xA, payload))
        elif self.fd < 0:  # the hello: start the command
            self.pid, self.fd = _spawn(self.command)
            self._read(True)
        elif payload[:1] == b"0":
            os.write(self.fd, payload[1:])  # keystrokes: a few bytes, the PTY takes them

    def _read(self, on: bool) -> None:
        if self.fd < 0 or on == self.reading:
            return
        self.reading = on
        if on:
            self.loop.add_reader(self.fd, self._readable)
        else:
            self.loop.remove_reader(self.fd)

    def _readable(self) -> None:
        assert self.transport is not None
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO: no process holds the slave side any more
            if exc.errno != errno.EIO:
                raise
            data = b""
        if data:
            self.transport.write(_frame(0x2, b"0" + data))
            return
        self._read(False)
        self.transport.write(_frame(0x8, struct.pack("!H", 1000)))
        self.transport.close()

    def pause_writing(self) -> None:
        self._read(False)

    def resume_writing(self) -> None:
        self._read(True)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.fd < 0:
            return
        self._read(False)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        os.close(self.fd)
        self.fd = -1
        self.loop.run_in_executor(None, os.waitpid, self.pid, 0)


async def main() -> None:
    port = int(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1:]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: TerminalProtocol(command), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
