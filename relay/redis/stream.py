"""Agent output in Redis Streams: the idempotent append and the reads by byte offset.

Each agent's output is one stream whose entry ids are derived from byte offsets: the
entry holding bytes ``[o, e)`` has id ``<e>-0`` and fields ``o`` (its first offset) and
``d`` (the bytes). So

- "every entry with a byte at or after ``since``" is ``XRANGE key <since>-1 +`` and a
  reader that has everything before ``t`` continues with ``XREAD ... <t>-0``: a relay's
  read position *is* a byte offset;
- trimming to the newest ``capacity`` bytes is ``XTRIM MINID <start>-1`` (drops every
  entry that ends at or before ``start``);
- the append can compare a chunk with the stream's end without scanning.

The alternative, auto ids plus an offset field, needs a secondary index (or a scan) to
start a read at a byte offset and cannot trim by bytes in one command.

The append is one Lua script, atomic in Redis: it checks that the caller is the agent's
live connection, drops bytes below the end (a resend after failover), keeps the new
tail, and when the chunk starts above the end records a gap by discarding the older
entries (the scrollback has no holes; readers see an entry starting past their position
and announce ``terminal:gap``). One call may carry several consecutive chunks (the
append pipeline of ``relay.redis.pipeline`` sends what queued up during the previous
call): the checks apply to their whole range and each chunk becomes its own entry, so
readers get the chunks as the sidecar cut them. ``start`` is the oldest retained offset; the oldest
entry may begin below it (it is sliced on read), so Redis holds at most ``capacity``
bytes plus one chunk per agent. Offsets are Lua numbers: exact below 2**53 (8 PiB).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from relay.hub.scrollback import Chunk
from relay.redis.keys import Keys

# KEYS: record hash, stream.  ARGV: conn id ('' skips the check), offset, capacity,
# now, then the data as one or more consecutive pieces (one entry each).  Returns {-1}
# (not the live connection), {0, end} (nothing new) or
# {1, end, kept_offset, gap_from (-1: none), start}.
APPEND_LUA = """
local rec, stream = KEYS[1], KEYS[2]
if ARGV[1] ~= '' and redis.call('HGET', rec, 'conn') ~= ARGV[1] then
  return {-1}
end
local offset = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local e = tonumber(redis.call('HGET', rec, 'end') or '0')
local s = tonumber(redis.call('HGET', rec, 'start') or '0')
redis.call('HSET', rec, 'seen', ARGV[4])
local n = 0
for i = 5, #ARGV do n = n + #ARGV[i] end
if n == 0 or offset + n <= e then
  return {0, e}
end
local gap = -1
local kept = offset
if offset < e then
  kept = e
elseif offset > e then
  gap = e
  redis.call('DEL', stream)
  s = offset
end
local pos = offset
for i = 5, #ARGV do
  local piece = ARGV[i]
  local piece_end = pos + #piece
  if piece_end > kept then
    if pos < kept then
      piece = string.sub(piece, kept - pos + 1)
      pos = kept
    end
    redis.call('XADD', stream, string.format('%d-0', piece_end),
               'o', string.format('%d', pos), 'd', piece)
  end
  pos = piece_end
end
local new_end = offset + n
if new_end - s > capacity then
  s = new_end - capacity
  redis.call('XTRIM', stream, 'MINID', string.format('%d-1', s))
end
redis.call('HSET', rec, 'end', string.format('%d', new_end), 'start', string.format('%d', s))
return {1, new_end, kept, gap, s}
"""


@dataclass(frozen=True, slots=True)
class Appended:
    """What the append kept: ``data`` at ``offset`` (None: nothing new)."""

    end: int
    chunk: Chunk | None
    #: The stream's end before the gap when the chunk started above it; else None.
    gap_from: int | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An atomic read: the stream's ``start`` and ``end`` and the entries asked for."""

    start: int
    end: int
    entries: list[Chunk]


def entry_id(offset: int) -> str:
    """The id after which ``XREAD`` returns entries holding bytes at or after ``offset``."""
    return f"{offset}-0"


def first_id(since: int) -> str:
    """The ``XRANGE`` start that selects entries holding a byte at or after ``since``."""
    return f"{since}-1"


def parse_entry(fields: Any) -> Chunk:
    data = fields[b"d"]
    return Chunk(offset=int(fields[b"o"]), data=bytes(data))


def parse_entries(raw: Any) -> list[Chunk]:
    return [parse_entry(fields) for _id, fields in raw]


def slice_from(entries: list[Chunk], first: int) -> list[Chunk]:
    """The entries' bytes from ``first`` on, as chunks (the first one sliced)."""
    out: list[Chunk] = []
    for entry in entries:
        if entry.end <= first:
            continue
        if entry.offset < first:
            out.append(Chunk(first, entry.data[first - entry.offset:]))
        else:
            out.append(Chunk(entry.offset, entry.data))
    return out


class OutputStore:
    """Appends and reads agent output; one per hub, sharing the hub's client."""

    def __init__(self, client: aioredis.Redis, keys: Keys, capacity: int) -> None:
        self._client = client
        self._keys = keys
        self._capacity = capacity
        self._append = client.register_script(APPEND_LUA)

    async def append(
        self, agent_id: str, conn_id: str, offset: int, data: bytes | list[bytes],
        now: float,
    ) -> Appended | None:
        """Append idempotently; None when ``conn_id`` is not the live connection.

        ``data`` may be a list of consecutive pieces (bytes from ``offset`` on, in order):
        they are appended in one call as one entry each, so readers get the chunks as
        the sidecar cut them."""
        pieces = [data] if isinstance(data, bytes) else data
        res = await self._append(
            keys=[self._keys.agent(agent_id), self._keys.out(agent_id)],
            args=[conn_id, offset, self._capacity, repr(now), *pieces],
        )
        if not isinstance(data, bytes):
            data = b"".join(pieces)
        status = int(res[0])
        if status < 0:
            return None
        if status == 0:
            return Appended(end=int(res[1]), chunk=None, gap_from=None)
        kept_offset = int(res[2])
        gap = int(res[3])
        kept = data[kept_offset - offset:] if kept_offset > offset else data
        return Appended(
            end=int(res[1]), chunk=Chunk(kept_offset, kept), gap_from=None if gap < 0 else gap
        )

    async def snapshot(self, agent_id: str, since: int | None) -> Snapshot | None:
        """``start``, ``end`` and the entries holding bytes at or after ``since`` (None:
        all), read atomically; None when the agent is unknown."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hmget(self._keys.agent(agent_id), ["static", "start", "end"])
            pipe.xrange(self._keys.out(agent_id), "-" if since is None else first_id(since), "+")
            (static, start, end), raw = await pipe.execute()
        if static is None:
            return None
        return Snapshot(
            start=int(start or 0), end=int(end or 0), entries=parse_entries(raw)
        )

    async def entries_after(self, agent_id: str, position: int) -> list[Chunk]:
        """Entries holding bytes at or after ``position``."""
        raw = await self._client.xrange(self._keys.out(agent_id), first_id(position), "+")
        return parse_entries(raw)
