"""The idempotent append script (``relay.redis.stream.APPEND_LUA``) against a real Redis.

fakeredis cannot run Lua without ``lupa``, so these use the private ``redis_server``.
Each case: an append sequence, then the stream's bytes, ``start`` and ``end``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from relay.redis.keys import Keys
from relay.redis.stream import OutputStore
from tests.redis_server import RedisServer, redis_server, stream_entries

__all__ = ["redis_server"]

pytestmark = pytest.mark.redis

KEYS = Keys("t")


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    c = redis_server.client()
    await c.hset(KEYS.agent("a"), mapping={"static": "{}", "conn": "c1", "end": 0, "start": 0})
    yield c
    await c.aclose()


async def _bytes(store: OutputStore) -> tuple[int, int, bytes]:
    snap = await store.snapshot("a", None)
    assert snap is not None
    data = b"".join(e.data for e in snap.entries)
    first = snap.entries[0].offset if snap.entries else snap.start
    return snap.start, snap.end, data[snap.start - first:]


async def test_contiguous_chunks_are_kept_whole(client: aioredis.Redis) -> None:
    store = OutputStore(client, KEYS, capacity=100)
    one = await store.append("a", "c1", 0, b"abc", 1.0)
    two = await store.append("a", "c1", 3, b"de", 1.0)
    assert one is not None
    assert one.chunk is not None
    assert one.chunk.data == b"abc"
    assert two is not None
    assert two.end == 5
    assert two.gap_from is None
    assert await _bytes(store) == (0, 5, b"abcde")


async def test_a_duplicate_is_dropped_and_an_overlap_keeps_only_the_new_tail(
    client: aioredis.Redis,
) -> None:
    store = OutputStore(client, KEYS, capacity=100)
    await store.append("a", "c1", 0, b"abc", 1.0)
    dup = await store.append("a", "c1", 0, b"abc", 1.0)
    assert dup is not None
    assert dup.chunk is None
    assert dup.end == 3
    inner = await store.append("a", "c1", 1, b"b", 1.0)
    assert inner is not None
    assert inner.chunk is None
    overlap = await store.append("a", "c1", 2, b"cdef", 1.0)
    assert overlap is not None
    assert overlap.chunk is not None
    assert (overlap.chunk.offset, overlap.chunk.data) == (3, b"def")
    assert await _bytes(store) == (0, 6, b"abcdef")


async def test_a_chunk_above_the_end_records_a_gap_and_drops_the_older_bytes(
    client: aioredis.Redis,
) -> None:
    store = OutputStore(client, KEYS, capacity=100)
    await store.append("a", "c1", 0, b"abc", 1.0)
    gap = await store.append("a", "c1", 10, b"xyz", 1.0)
    assert gap is not None
    assert gap.gap_from == 3
    assert gap.end == 13
    assert await _bytes(store) == (10, 13, b"xyz")
    # a late resend of what came before the gap changes nothing
    late = await store.append("a", "c1", 3, b"defghij", 1.0)
    assert late is not None
    assert late.chunk is None


async def test_the_stream_is_trimmed_to_capacity_by_bytes(client: aioredis.Redis) -> None:
    store = OutputStore(client, KEYS, capacity=10)
    for i in range(10):
        await store.append("a", "c1", i * 4, f"{i:03d}|".encode(), 1.0)
    start, end, data = await _bytes(store)
    assert (start, end) == (30, 40)
    assert data == b"".join(f"{i:03d}|".encode() for i in range(10))[30:]
    # Redis keeps whole entries: at most capacity plus one chunk.
    assert await client.xlen(KEYS.out("a")) <= 4
    since = await store.snapshot("a", 35)
    assert since is not None
    assert since.entries[0].end > 35


async def test_only_the_live_connection_may_append(client: aioredis.Redis) -> None:
    store = OutputStore(client, KEYS, capacity=100)
    assert await store.append("a", "stale", 0, b"abc", 1.0) is None
    assert await _bytes(store) == (0, 0, b"")


def test_make_hub_without_redis_url_does_not_import_redis() -> None:
    code = (
        "import sys\n"
        "from relay.app import create_app\n"
        "from relay.config import RelayConfig\n"
        "create_app(RelayConfig(jwt_secret=b'x' * 32))\n"
        "assert 'redis' not in sys.modules, 'redis imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_pieces_in_one_call_become_one_entry_each_and_keep_only_the_new_tail(
    client: aioredis.Redis,
) -> None:
    store = OutputStore(client, KEYS, capacity=100)
    await store.append("a", "c1", 0, [b"ab", b"cd"], 1.0)
    overlap = await store.append("a", "c1", 1, [b"bc", b"def", b"gh"], 1.0)
    assert overlap is not None
    assert overlap.chunk is not None
    assert (overlap.chunk.offset, overlap.chunk.data) == (4, b"efgh")
    assert await _bytes(store) == (0, 8, b"abcdefgh")
    entries = await stream_entries(client, KEYS.out("a"))
    assert [(e[0], e[1][b"d"]) for e in entries] == [
        (b"2-0", b"ab"), (b"4-0", b"cd"), (b"6-0", b"ef"), (b"8-0", b"gh")
    ]
    dup = await store.append("a", "c1", 2, [b"cd", b"ef"], 1.0)
    assert dup is not None
    assert dup.chunk is None
    gap = await store.append("a", "c1", 10, [b"xy", b"z"], 1.0)
    assert gap is not None
    assert gap.gap_from == 8
    assert await _bytes(store) == (10, 13, b"xyz")
