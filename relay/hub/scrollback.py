"""An agent's scrollback: a bounded ring of output chunks addressed by byte offset.

Chunks are stored as received (the relay never re-cuts them, contract section 5) and
always cover one contiguous range ``[start, end)``. A chunk that starts past ``end``
(the sidecar no longer had the missing bytes) discards what came before, so the ring
never has holes: ``start`` moves up to the new chunk and the gap is the caller's to
announce. When the ring holds more than ``capacity`` bytes the oldest are dropped; the
oldest chunk is sliced if needed, so exactly ``capacity`` bytes stay.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Chunk:
    offset: int
    data: bytes

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


@dataclass(frozen=True, slots=True)
class Appended:
    """What :meth:`Scrollback.append` kept: the new bytes and the gap before them."""

    chunk: Chunk | None
    #: ``(from, to)`` when the chunk started past the old end; else None.
    gap: tuple[int, int] | None
    #: True when the whole incoming chunk was kept unchanged.
    whole: bool


class Scrollback:
    """Retained output of one agent; offsets count bytes from the stream's beginning."""

    __slots__ = ("_chunks", "_size", "capacity", "end", "start")

    def __init__(self, capacity: int, end: int = 0) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self._chunks: deque[Chunk] = deque()
        self._size = 0
        self.start = end
        self.end = end

    @property
    def size(self) -> int:
        return self._size

    def append(self, offset: int, data: bytes) -> Appended:
        """Add a chunk received at ``offset``; bytes below ``end`` are duplicates."""
        if offset + len(data) <= self.end or not data:
            return Appended(None, None, whole=False)
        gap: tuple[int, int] | None = None
        whole = True
        if offset < self.end:
            data = data[self.end - offset:]
            offset = self.end
            whole = False
        elif offset > self.end:
            gap = (self.end, offset)
            self._chunks.clear()
            self._size = 0
            self.start = offset
        chunk = Chunk(offset, data)
        self._chunks.append(chunk)
        self._size += len(data)
        self.end = chunk.end
        self._evict()
        return Appended(chunk, gap, whole)

    def release(self) -> int:
        """Drop every retained chunk (``start`` moves to ``end``); the bytes freed."""
        freed = self._size
        self._chunks.clear()
        self._size = 0
        self.start = self.end
        return freed

    def _evict(self) -> None:
        # The oldest chunk may begin before ``start``: it is cut when read (chunks_from),
        # not copied here on every append that overflows (up to one chunk more memory).
        while self._size > self.capacity:
            oldest = self._chunks[0]
            excess = self._size - self.capacity
            kept = oldest.end - self.start
            if kept <= excess:
                self._chunks.popleft()
                self._size -= kept
                self.start = oldest.end
            else:
                self._size -= excess
                self.start += excess

    def chunks_from(self, since: int) -> list[Chunk]:
        """Retained chunks from ``max(since, start)`` to ``end``; the first one sliced
        when ``since`` falls inside it. Empty when ``since >= end``."""
        since = max(since, self.start)
        if since >= self.end:
            return []
        out: list[Chunk] = []
        for chunk in self._chunks:
            if chunk.end <= since:
                continue
            if chunk.offset < since:
                out.append(Chunk(since, chunk.data[since - chunk.offset:]))
            else:
                out.append(chunk)
        return out

    def read(self, since: int | None) -> tuple[int, bytes]:
        """``(first offset, bytes)`` from ``since`` (None: ``start``) to ``end``."""
        first = self.start if since is None else max(since, self.start)
        if first >= self.end:
            return (self.end if since is None else max(first, self.end), b"")
        return first, b"".join(c.data for c in self.chunks_from(first))
