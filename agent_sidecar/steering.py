"""Input from dashboards to the command, in arrival order, in a form the command takes.

Three things make naive writes go wrong with the terminal agents people run:

- **Submitting a command line.** Ink (Claude Code, Gemini CLI) and crossterm (Codex)
  programs read the PTY in raw mode and take text and a carriage return that arrive in
  one read for a paste: the line lands in their input box and is never submitted. So in
  raw mode the text goes first (inside bracketed-paste markers when the program turned
  that mode on, and the agent takes a one-line paste well), the sidecar waits until
  the program has read it (the PTY's input queue is empty), waits the agent's gap
  (their paste detectors also look at timing), and only then writes the Enter. In
  cooked mode (a line-reading program) text and carriage return go in one write, as
  before: the kernel's line editor makes them one line anyway.
- **A resize right before a key.** A program redrawing for SIGWINCH may drop typeahead
  (``less`` did). Input that follows a resize waits until the program has answered the
  resize with output, or ``resize_hold`` at most. Two resizes close together need two
  answers: output that released the first hold does not release the second (the
  program may still be about to redraw, and flush, for the second signal).
- **Order.** Every write goes through one queue: a key typed after a command line
  reaches the program after that line's Enter, never between its text and its Enter.

When nothing is waiting, a write goes straight to the PTY's own write queue, so plain
keystrokes cost no task switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from .modes import TerminalModes
from .pty import MAX_QUEUED_INPUT, InputRefused, PtyChild

log = logging.getLogger(__name__)

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"


class SubmitFailed(Exception):
    """A command line's Enter was not written (the reason is the message)."""


Step = Callable[[], Awaitable[None]]


class Steering:
    """The one path from dashboards to the command's input."""

    def __init__(
        self,
        child: PtyChild,
        modes: TerminalModes,
        *,
        submit_gap: float,
        paste_gap: float | None = None,
        paste_single_line: bool = True,
        submit_timeout: float = 5.0,
        resize_hold: float = 0.3,
        poll_interval: float = 0.01,
    ) -> None:
        self._child = child
        self._modes = modes
        self.submit_gap = submit_gap
        self.paste_gap = submit_gap if paste_gap is None else paste_gap
        self.paste_single_line = paste_single_line
        self.submit_timeout = submit_timeout
        self.resize_hold = resize_hold
        self._poll = poll_interval
        self._loop = asyncio.get_running_loop()
        self._steps: deque[tuple[Step, asyncio.Future[None], int]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._output_seen = 0
        self._output = asyncio.Event()
        #: Bytes of steps not finished yet (counted against MAX_QUEUED_INPUT).
        self._waiting_bytes = 0
        #: The output count when the last resize hold ended: a later hold needs more.
        self._hold_answered = 0

    # ------------------------------------------------------------------ API

    def keys(self, data: bytes) -> asyncio.Future[None]:
        """Raw keystrokes (``terminal:input``), written as they are."""
        if self._idle():
            return self._child.send(data)
        return self._enqueue(lambda: self._child.send(data), len(data))

    def write(self, data: bytes) -> asyncio.Future[None]:
        """``command:request`` without submit: the bytes as they are, acked when written."""
        return self.keys(data)

    def submit(self, text: str) -> asyncio.Future[None]:
        """``command:request`` with submit: the line, then Enter once it was read."""
        data = text.encode("utf-8", "replace")
        fut = self._enqueue(lambda: self._submit(data), len(data) + 1)
        if not fut.done():
            # A step of its own, so that the ack does not wait for it: a command that
            # ends on that Enter has still been given the line.
            self._enqueue(lambda: self._settle(fut)).add_done_callback(_consume)
        return fut

    def resized(self) -> None:
        """The PTY was resized: input after this waits for the program's redraw."""
        seen = self._output_seen
        self._enqueue(lambda: self._hold_for_output(seen)).add_done_callback(_consume)

    def output(self) -> None:
        """The command wrote output (it reacted to something)."""
        self._output_seen += 1
        self._output.set()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        while self._steps:
            _, fut, _ = self._steps.popleft()
            if not fut.done():
                fut.set_exception(SubmitFailed("the command ended first"))

    # ------------------------------------------------------------------ queue

    def _idle(self) -> bool:
        return not self._steps and (self._worker is None or self._worker.done())

    def _enqueue(self, step: Step, size: int = 0) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = self._loop.create_future()
        backlog = self._child.queued_input + self._waiting_bytes
        if backlog and backlog + size > MAX_QUEUED_INPUT:
            fut.set_exception(InputRefused(
                f"the command has not read the {backlog} bytes of input already "
                f"queued; {size} more refused"
            ))
            return fut
        self._waiting_bytes += size
        self._steps.append((step, fut, size))
        if self._worker is None or self._worker.done():
            self._worker = self._loop.create_task(self._work())
        return fut

    async def _work(self) -> None:
        while self._steps:
            step, fut, size = self._steps[0]
            # From here its bytes count in the PTY's own queue.
            self._waiting_bytes -= size
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not fut.done():
                    fut.set_exception(exc)
            else:
                if not fut.done():
                    fut.set_result(None)
            finally:
                if self._steps and self._steps[0][1] is fut:
                    self._steps.popleft()

    # ------------------------------------------------------------------ steps

    async def _submit(self, data: bytes) -> None:
        child = self._child
        if child.canonical():
            await child.send(data + b"\r")
            return
        if data:
            multiline = b"\n" in data or b"\r" in data
            paste = self._modes.bracketed_paste and (self.paste_single_line or multiline)
            if paste:
                body = data.replace(PASTE_START, b"").replace(PASTE_END, b"")
                data = PASTE_START + body + PASTE_END
            await child.send(data)
            await self._until_read()
            await asyncio.sleep(self.paste_gap if paste else self.submit_gap)
        await child.send(b"\r")

    async def _settle(self, submitted: asyncio.Future[None]) -> None:
        """After a submitted line: keys that follow must not share the Enter's read (that
        is a paste again); a program busy with the line holds them back a second at most."""
        if submitted.cancelled() or submitted.exception() is not None:
            return
        with contextlib.suppress(SubmitFailed):
            await self._until_read(min(self.submit_timeout, 1.0))

    async def _until_read(self, timeout: float | None = None) -> None:
        """Wait until the program has read everything written to it so far."""
        limit = self.submit_timeout if timeout is None else timeout
        deadline = self._loop.time() + limit
        while True:
            unread = self._child.unread_input()
            if unread == 0:
                return
            if unread is None:
                if self._child.closed:
                    raise SubmitFailed("the command ended before it read the text")
                # The input queue cannot be asked here: give the program time instead.
                await asyncio.sleep(max(self.submit_gap, 0.2))
                return
            if self._loop.time() >= deadline:
                raise SubmitFailed(
                    f"the command did not read the text within {limit:g} s; "
                    "Enter was not sent"
                )
            await asyncio.sleep(self._poll)

    async def _hold_for_output(self, seen: int) -> None:
        deadline = self._loop.time() + self.resize_hold
        seen = max(seen, self._hold_answered)
        try:
            await self._until_output_after(seen, deadline)
        finally:
            self._hold_answered = self._output_seen

    async def _until_output_after(self, seen: int, deadline: float) -> None:
        while self._output_seen == seen:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return
            self._output.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._output.wait(), remaining)


def _consume(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.debug("a queued input step ended early: %s", fut.exception())
