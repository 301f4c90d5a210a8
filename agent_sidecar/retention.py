"""The output retention buffer: the newest bytes of the stream, addressed by offset.

Everything the PTY produced goes in; the relay link reads from any retained offset.
When full, the oldest bytes are dropped (the child is never blocked by a slow or absent
relay); a reader asking for a dropped offset gets the oldest retained byte instead, and
the relay records the gap.

Storage is a ring: until the stream first exceeds ``capacity`` the bytes sit in a
growing ``bytearray``; from then on that buffer is exactly ``capacity`` long and new
bytes overwrite the oldest in place. An append is one copy into the ring and a read one
copy out of it, whatever the fill level (a ``bytearray`` whose prefix is deleted is
moved to a fresh allocation every time it grows: 8 MiB copied per MiB appended).
"""

from __future__ import annotations


class Retention:
    """A byte window ``[start, end)`` of an output stream of at most ``capacity`` bytes."""

    __slots__ = ("_buf", "_end", "_origin", "_ring", "_start", "capacity", "dropped")

    def __init__(self, capacity: int, start: int = 0) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        self.capacity = capacity
        self._buf = bytearray()
        #: Ring mode: ``_buf`` has ``capacity`` bytes and offset ``o`` lives at
        #: ``(o - _origin) % capacity``. Linear mode: offset ``o`` at ``o - _start``.
        self._ring = False
        self._origin = start
        self._start = start
        self._end = start
        #: Bytes dropped because the buffer was full (for logs and tests).
        self.dropped = 0

    @property
    def start(self) -> int:
        """Offset of the oldest retained byte."""
        return self._start

    @property
    def end(self) -> int:
        """Offset of the next byte to be appended (the stream's length so far)."""
        return self._end

    def __len__(self) -> int:
        return self._end - self._start

    def append(self, data: bytes) -> None:
        n = len(data)
        if not n:
            return
        cap = self.capacity
        if not self._ring:
            if len(self._buf) + n <= cap:
                self._buf += data
                self._end += n
                return
            self._to_ring()
        if n >= cap:
            self.dropped += (self._end - self._start) + (n - cap)
            self._buf[:] = memoryview(data)[n - cap:]
            self._end += n
            self._start = self._origin = self._end - cap
            return
        i = (self._end - self._origin) % cap
        first = min(n, cap - i)
        self._buf[i : i + first] = data if first == n else memoryview(data)[:first]
        if first < n:
            self._buf[: n - first] = memoryview(data)[first:]
        self._end += n
        over = self._end - self._start - cap
        if over > 0:
            self._start += over
            self.dropped += over

    def _to_ring(self) -> None:
        """Switch to ring mode: the buffer becomes exactly ``capacity`` bytes long."""
        self._buf.extend(bytes(self.capacity - len(self._buf)))
        self._origin = self._start
        self._ring = True

    def span(self, offset: int, max_bytes: int) -> tuple[int, int]:
        """What :meth:`read` would return, without the bytes: ``(first_offset, length)``."""
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        first = max(offset, self._start)
        if first >= self._end:
            return self._end, 0
        return first, min(max_bytes, self._end - first)

    def read(self, offset: int, max_bytes: int, prefix: bytes = b"") -> tuple[int, bytes]:
        """Up to ``max_bytes`` from ``offset`` on: ``(first_offset, data)``.

        ``first_offset`` is greater than ``offset`` when the bytes at ``offset`` were
        dropped. Past the end, the data is empty. ``prefix`` goes before the data in the
        same copy (a frame header: no second copy of the data to prepend it).
        """
        first, n = self.span(offset, max_bytes)
        if not n:
            return first, prefix
        with memoryview(self._buf) as view:
            parts: tuple[memoryview, ...]
            if not self._ring:
                i = first - self._start
                parts = (view[i : i + n],)
            else:
                cap = self.capacity
                i = (first - self._origin) % cap
                if i + n <= cap:
                    parts = (view[i : i + n],)
                else:
                    parts = (view[i:], view[: n - (cap - i)])
            if not prefix and len(parts) == 1:
                return first, bytes(parts[0])
            return first, b"".join((prefix, *parts))

    def shift(self, by: int) -> None:
        """Renumber every offset by ``by`` (done once, at the first ``agent:welcome``).

        The sidecar numbers its stream from the first ``resume_from``; bytes produced
        before that keep their order and move with the numbering.
        """
        if self._start + by < 0:
            raise ValueError(f"cannot shift offsets below 0 (start {self._start}, by {by})")
        self._start += by
        self._end += by
        self._origin += by
