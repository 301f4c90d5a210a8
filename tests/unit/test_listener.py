"""relay.listener's bookkeeping without sockets: where a request head ends (also split
across reads), which connection a full cap closes, and how often that is logged.
The socket behaviour is in tests/integration/test_pending_connections.py."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import pytest

from relay.listener import PendingConnection, PendingHeads


class Inner(asyncio.Protocol):
    """Stands in for aiohttp's protocol: records what reaches it."""

    def __init__(self) -> None:
        self.data = b""
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.data += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


class Transport(asyncio.Transport):
    """Records ``set_protocol`` and ``close``; a closed one tells its protocol."""

    def __init__(self) -> None:
        super().__init__()
        self.protocol: asyncio.BaseProtocol | None = None
        self.closed = False

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol

    def close(self) -> None:
        self.closed = True
        self.get_protocol().connection_lost(None)


def _connect(heads: PendingHeads) -> tuple[PendingConnection, Transport]:
    conn = heads()
    transport = Transport()
    transport.protocol = conn
    conn.connection_made(transport)
    return conn, transport


@pytest.mark.parametrize(
    "chunks",
    [
        [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"],
        [b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY"],
        [b"GET / HTTP/1.1\r\nHost: x\r\n", b"\r\n"],
        [b"GET / HTTP/1.1\r\nHost: x\r\n\r", b"\n"],
        [b"GET / HTTP/1.1\r\nHost: x\r", b"\n\r\n"],
        [b"GET / HTTP/1.1\r\nHost: x", b"\r", b"\n", b"\r", b"\n"],
    ],
)
def test_a_connection_stops_pending_at_the_end_of_its_head(chunks: list[bytes]) -> None:
    heads = PendingHeads(Inner, limit=4)
    conn, transport = _connect(heads)
    for chunk in chunks[:-1]:
        conn.data_received(chunk)
        assert conn in heads.pending
    conn.data_received(chunks[-1])
    assert conn not in heads.pending
    assert transport.protocol is conn.inner  # the wrapper left the byte path
    assert isinstance(conn.inner, Inner)
    assert conn.inner.data == b"".join(chunks)


@pytest.mark.parametrize(
    "chunks", [[b"GET / HTTP/1.1\r\n"], [b"GET / HTTP/1.1\r\n\r", b"X\n"], [b"\r\n\r", b"\r"]]
)
def test_a_connection_without_the_end_of_a_head_stays_pending(chunks: list[bytes]) -> None:
    heads = PendingHeads(Inner, limit=4)
    conn, transport = _connect(heads)
    for chunk in chunks:
        conn.data_received(chunk)
    assert conn in heads.pending
    assert transport.protocol is conn


def test_past_the_limit_the_oldest_pending_connection_is_closed() -> None:
    drops: list[None] = []
    heads = PendingHeads(Inner, limit=2, on_drop=lambda: drops.append(None))
    first, first_t = _connect(heads)
    done, done_t = _connect(heads)
    done.data_received(b"GET / HTTP/1.1\r\n\r\n")
    second, second_t = _connect(heads)
    assert not first_t.closed  # the one that sent its head freed a place
    third, third_t = _connect(heads)
    assert (first_t.closed, done_t.closed, second_t.closed, third_t.closed) == (
        True, False, False, False,
    )
    assert list(heads.pending) == [second, third]
    assert isinstance(first.inner, Inner)
    assert first.inner.lost
    assert len(drops) == heads.dropped == 1


def test_a_connection_lost_while_pending_frees_its_place() -> None:
    heads = PendingHeads(Inner, limit=1)
    conn, _ = _connect(heads)
    conn.connection_lost(None)
    assert not heads.pending
    assert isinstance(conn.inner, Inner)
    assert conn.inner.lost


def test_closes_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    heads = PendingHeads(Inner, limit=1, clock=lambda: now[0], log_interval=60.0)
    with caplog.at_level(logging.WARNING, logger="relay.listener"):
        for _ in range(5):
            _connect(heads)
        assert len(caplog.records) == 1
        now[0] += 60.0
        _connect(heads)
        _connect(heads)
    assert heads.dropped == 6
    assert [r.args[0] for r in caplog.records] == [1, 4]  # type: ignore[index]


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        PendingHeads(Inner, limit=0)


class ForeignTransport:
    """A stream transport that is not a subclass of asyncio.Transport (as uvloop's)."""

    def __init__(self) -> None:
        self.protocol: asyncio.BaseProtocol | None = None

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol


def test_a_transport_of_another_event_loop_is_taken() -> None:
    heads = PendingHeads(Inner, limit=4)
    conn = heads()
    transport = ForeignTransport()
    conn.connection_made(cast(asyncio.BaseTransport, transport))
    conn.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert transport.protocol is conn.inner  # handed over once the head was complete
