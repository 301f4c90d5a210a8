"""The output retention buffer: the newest bytes of the stream, addressed by offset.

Everything the PTY produced goes in; the relay link reads from any retained offset.
When full, the oldest bytes are dropped (the child is never blocked by a slow or absent
relay); a reader asking for a dropped offset gets the oldest retained byte instead, and
the relay records the gap.
"""

from __future__ import annotations


class Retention:
    """A byte window ``[start, end)`` of an output stream of at most ``capacity`` bytes."""

    __slots__ = ("_buf", "_start", "capacity", "dropped")

    def __init__(self, capacity: int, start: int = 0) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        self.capacity = capacity
        self._buf = bytearray()
        self._start = start
        #: Bytes dropped because the buffer was full (for logs and tests).
        self.dropped = 0

    @property
    def start(self) -> int:
        """Offset of the oldest retained byte."""
        return self._start

    @property
    def end(self) -> int:
        """Offset of the next byte to be appended (the stream's length so far)."""
        return self._start + len(self._buf)

    def __len__(self) -> int:
        return len(self._buf)

    def append(self, data: bytes) -> None:
        if not data:
            return
        if len(data) >= self.capacity:
            skip = len(data) - self.capacity
            self.dropped += len(self._buf) + skip
            self._start = self.end + skip
            self._buf = bytearray(data[skip:])
            return
        self._buf += data
        over = len(self._buf) - self.capacity
        if over > 0:
            # Deleting a prefix of a bytearray is amortised O(1) in CPython.
            del self._buf[:over]
            self._start += over
            self.dropped += over

    def read(self, offset: int, max_bytes: int) -> tuple[int, bytes]:
        """Up to ``max_bytes`` from ``offset`` on: ``(first_offset, data)``.

        ``first_offset`` is greater than ``offset`` when the bytes at ``offset`` were
        dropped. Past the end, the data is empty.
        """
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        first = max(offset, self._start)
        if first >= self.end:
            return self.end, b""
        i = first - self._start
        return first, bytes(self._buf[i : i + max_bytes])

    def shift(self, by: int) -> None:
        """Renumber every offset by ``by`` (done once, at the first ``agent:welcome``).

        The sidecar numbers its stream from the first ``resume_from``; bytes produced
        before that keep their order and move with the numbering.
        """
        if self._start + by < 0:
            raise ValueError(f"cannot shift offsets below 0 (start {self._start}, by {by})")
        self._start += by
