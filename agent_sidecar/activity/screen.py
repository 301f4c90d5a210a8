"""A model of the terminal screen (pyte), fed off the hot path.

``push(data)`` is all the PTY reader pays: the chunk goes into a bounded queue. The
screen is brought up to date by ``catch_up()``, which the caller runs once output has
settled (``settle`` seconds without output) or, during steady small output such as a
spinner, every ``max_lag`` seconds. During a burst (more than ``burst_bytes`` queued)
nothing is rendered until the burst ends; past ``max_pending`` bytes the oldest queued
output is dropped, and the next catch-up starts from a blank screen and renders only the
newest ``tail_bytes`` (it skips to the latest screen instead of replaying the burst).

pyte renders about 1 MB/s here: the bounds keep one catch-up under ~60 ms, and the
caller gives it a budget (``catch_up(limit)``) so that repeated catch-ups, such as a
stream paused again and again by a slow relay, cost a bounded share of the CPU.
"""

from __future__ import annotations

import copy
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import pyte
from pyte.screens import wcwidth

log = logging.getLogger(__name__)


class TolerantScreen(pyte.Screen):
    """pyte's screen, tolerant of what pyte 0.8.2 does not know.

    ``CSI > Ps m`` (xterm's modifyOtherKeys, sent by vim) reaches
    ``select_graphic_rendition`` with ``private=True``, which it does not accept.
    """

    def __init__(self, columns: int, lines: int) -> None:
        super().__init__(columns, lines)
        self._main: tuple[dict[int, Any], Any] | None = None

    def select_graphic_rendition(self, *attrs: int, private: bool = False) -> None:
        if not private:
            super().select_graphic_rendition(*attrs)

    # The alternate screen (pyte has none): full-screen programs (vim, less, top) draw on
    # it, and what was on the main screen comes back when they exit.
    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private") and _ALT_MODES.intersection(modes) and self._main is None:
            saved = {y: copy.copy(line) for y, line in self.buffer.items()}
            self._main = (saved, copy.copy(self.cursor))
            self.erase_in_display(2)
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        super().reset_mode(*modes, **kwargs)
        if kwargs.get("private") and _ALT_MODES.intersection(modes) and self._main is not None:
            saved, cursor = self._main
            self._main = None
            self.buffer.clear()
            self.buffer.update(saved)
            self.cursor = cursor
            self.dirty.update(range(self.lines))

    def reset(self) -> None:
        super().reset()
        self._main = None

    @property
    def on_alternate(self) -> bool:
        return self._main is not None

    def enter_alternate(self) -> None:
        """As after ``CSI ? 1049 h`` with a blank main screen saved."""
        self._main = ({}, copy.copy(self.cursor))


_ALT_MODES = frozenset({47, 1047, 1049})


def _render_row(screen: pyte.Screen, y: int) -> str:
    """Row ``y`` as ``screen.display[y]`` has it, without trailing blanks."""
    line = screen.buffer[y]
    out = []
    wide = False
    for x in range(screen.columns):
        if wide:  # the stub after a wide character
            wide = False
            continue
        char = line[x].data
        # pyte leaves an empty cell where a wide character was half overwritten (its
        # own display raises IndexError there): it shows as nothing.
        wide = bool(char) and wcwidth(char[0]) == 2
        out.append(char)
    return "".join(out).rstrip()


@dataclass(frozen=True, slots=True)
class ScreenView:
    """What is on the screen: lines without trailing blanks, and the cursor."""

    lines: tuple[str, ...]
    cursor_row: int
    cursor_col: int
    cols: int
    rows: int

    def cursor_line(self) -> str:
        return self.lines[self.cursor_row] if 0 <= self.cursor_row < len(self.lines) else ""

    def before_cursor(self) -> str:
        """The cursor line up to the cursor (what a prompt asked, not what was typed after)."""
        return self.cursor_line()[: self.cursor_col]

    def last_text_row(self) -> int:
        for i in range(len(self.lines) - 1, -1, -1):
            if self.lines[i].strip():
                return i
        return -1


class ScreenModel:
    """pyte's screen behind a bounded, coalescing queue."""

    def __init__(
        self,
        cols: int,
        rows: int,
        *,
        max_pending: int = 64 * 1024,
        tail_bytes: int = 32 * 1024,
        burst_bytes: int = 16 * 1024,
    ) -> None:
        self._screen = TolerantScreen(cols, rows)
        self._stream = pyte.ByteStream(self._screen)
        #: Each row as :meth:`view` last rendered it (without trailing blanks).
        self._rows: list[str] = []
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._max_pending = max_pending
        self._tail_bytes = tail_bytes
        self._burst_bytes = burst_bytes
        self._behind = False
        self.version = 0  # counts catch-ups that changed something
        self.skipped_bytes = 0
        self.failures = 0

    # The hot path: one append, one addition, rarely a drop.
    def push(self, data: bytes) -> None:
        self._queue.append(data)
        self._queued += len(data)
        while self._queued > self._max_pending and len(self._queue) > 1:
            dropped = self._queue.popleft()
            self._queued -= len(dropped)
            self.skipped_bytes += len(dropped)
            self._behind = True

    @property
    def pending(self) -> int:
        return self._queued

    def in_burst(self) -> bool:
        return self._behind or self._queued > self._burst_bytes

    def catch_up(self, limit: int | None = None) -> bool:
        """Render what is queued (at most the newest ``limit`` bytes, skipping to the
        latest screen when more is queued); True if anything was rendered."""
        if not self._queue:
            return False
        if limit is not None:
            while self._queued > max(limit, 1) and len(self._queue) > 1:
                dropped = self._queue.popleft()
                self._queued -= len(dropped)
                self.skipped_bytes += len(dropped)
                self._behind = True
        data = b"".join(self._queue)
        self._queue.clear()
        self._queued = 0
        if self._behind:
            self._behind = False
            alternate = self._screen.on_alternate
            self._screen.reset()
            if alternate:  # still on the alternate screen: what comes back after is blank
                self._screen.enter_alternate()
            self._stream = pyte.ByteStream(self._screen)
            data = data[-self._tail_bytes :]
        try:
            self._stream.feed(data)
        except Exception:  # an emulator bug must never stop the agent: start afresh
            log.warning("the screen model failed on %d bytes of output; reset", len(data))
            self.failures += 1
            self._screen.reset()
            self._stream = pyte.ByteStream(self._screen)
        self.version += 1
        return True

    def resize(self, cols: int, rows: int) -> None:
        self.catch_up()
        self._screen.resize(rows, cols)

    def view(self) -> ScreenView:
        """The screen now. Only the rows pyte marked dirty since the last view are
        rendered again (``Screen.display`` renders every cell, ~1.5 ms for 80x24)."""
        s = self._screen
        rows = self._rows
        if len(rows) != s.lines:
            rows = self._rows = [""] * s.lines
            s.dirty.update(range(s.lines))
        for y in s.dirty:
            if y < s.lines:
                rows[y] = _render_row(s, y)
        s.dirty.clear()
        return ScreenView(
            lines=tuple(rows),
            cursor_row=s.cursor.y,
            cursor_col=s.cursor.x,
            cols=s.columns,
            rows=s.lines,
        )
