"""Mirror the command's output to our stdout without ever blocking the event loop.

stdout may be a terminal, a file (``run -- cmd > log``), or a pipe whose reader stops
reading (``| less`` left on a page) or goes away (``| head``). A dedicated thread does
the blocking writes; the loop only appends to a bounded queue, once per pass of the loop
(the PTY reader hands over output a read at a time, and waking the thread for each read
made it and the loop take turns at the GIL for every few KB). When the queue is over
its bound (the reader is stalled) the oldest pending bytes are dropped, so the command
and the relay stream never wait for a local reader. A broken pipe stops the mirror, not
the command. The relay stream is unaffected by all of this.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import threading
from collections import deque

log = logging.getLogger(__name__)


class Mirror:
    """A non-blocking, bounded writer of bytes to a file descriptor (made in a running
    event loop, written to from it)."""

    def __init__(self, fd: int, max_pending: int = 4 * 1024 * 1024) -> None:
        self.fd = fd
        self.max_pending = max_pending
        self.dropped = 0
        self._loop = asyncio.get_running_loop()
        #: Written during this pass of the loop, handed to the thread at its end.
        self._batch: list[bytes] = []
        self._pending: deque[bytes] = deque()
        self._size = 0
        self._cond = threading.Condition()
        self._closing = False
        self._broken = False
        self._thread = threading.Thread(target=self._run, name="agent-sidecar-mirror", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._batch:
            self._loop.call_soon(self._hand_over)
        self._batch.append(data)

    def _hand_over(self) -> None:
        if not self._batch:
            return
        data = self._batch[0] if len(self._batch) == 1 else b"".join(self._batch)
        self._batch.clear()
        with self._cond:
            if self._broken or self._closing:
                return
            self._pending.append(data)
            self._size += len(data)
            while self._size > self.max_pending and len(self._pending) > 1:
                old = self._pending.popleft()
                self._size -= len(old)
                self.dropped += len(old)
            self._cond.notify()

    def close(self, timeout: float) -> None:
        """Write what is pending, waiting at most ``timeout`` seconds, then stop."""
        self._hand_over()
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        if self.dropped:
            log.info("mirror dropped %d bytes (stdout was not read fast enough)", self.dropped)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                data = b"".join(self._pending)
                self._pending.clear()
                self._size = 0
            view = memoryview(data)
            try:
                while view:
                    try:
                        n = os.write(self.fd, view)
                    except BlockingIOError:  # someone made the file non-blocking
                        select.select([], [self.fd], [])
                        continue
                    view = view[n:]
            except OSError as exc:
                log.info("stopped mirroring output to stdout: %s", exc.strerror)
                with self._cond:
                    self._broken = True
                    self._pending.clear()
                return
