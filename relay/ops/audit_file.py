"""The audit file: one JSON line per record, appended, rotated by size.

``FILE`` grows until the next line would pass ``max_bytes``; then ``FILE.N-1`` becomes
``FILE.N`` (the oldest is removed), ..., ``FILE`` becomes ``FILE.1`` and a new ``FILE``
starts. With ``backups`` 0 the file is truncated instead. Each line is written whole and
flushed, so a reader (``tail -F``, a log shipper) never sees half a record; the file is
created with mode 0600 (it holds commands people typed).

Writes are synchronous: a record is a few hundred bytes and control actions are rate
limited per connection, so the loop never waits long for the page cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO


class RotatingFile:
    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        self.path = path
        self._max = max_bytes
        self._backups = backups
        self._file: IO[bytes] | None = None
        self._size = 0

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "ab")
        self._size = os.fstat(fd).st_size

    def write_line(self, line: str) -> None:
        data = line.encode("utf-8", "surrogatepass") + b"\n"
        if self._file is None:
            self.open()
        if self._size and self._size + len(data) > self._max:
            self._rotate()
        assert self._file is not None
        self._file.write(data)
        self._file.flush()
        self._size += len(data)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _rotate(self) -> None:
        self.close()
        if self._backups > 0:
            for n in range(self._backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{n}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self.open()
