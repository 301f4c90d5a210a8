"""asciicast v2, sans I/O: the header, event lines, and a cast built from a timeline.

A cast is a header line ``{"version": 2, "width": W, "height": H, "timestamp": T, ...}``
then one JSON array per event: ``[seconds, "o", text]`` (output), ``[seconds, "r",
"COLSxROWS"]`` (resize), ``[seconds, "m", label]`` (marker). Seconds count from the
header's ``timestamp`` and never decrease. ``asciinema`` 2.x plays and cats these.

The relay keeps output bytes once (the scrollback); a recording in memory is only a
:class:`Timeline`: when the stream reached which offset, and the resizes and markers in
between. :func:`render` joins the two into a cast, so recording costs a tuple per chunk.
Output is decoded as UTF-8 across chunk boundaries; bytes that are not UTF-8 become
U+FFFD (a cast holds text).
"""

from __future__ import annotations

import codecs
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

VERSION: Final = 2
#: Output within this long after the previous output mark joins it (one event), so a
#: chatty agent costs at most 100 marks a second.
COALESCE_SECONDS: Final = 0.01
#: Marks kept per agent (about 90 bytes each: under 1 MiB per agent); older output
#: still in the scrollback is shown at the oldest kept mark's time.
MAX_MARKS: Final = 8192


def header(width: int, height: int, timestamp: int, title: str | None = None) -> str:
    head: dict[str, object] = {"version": VERSION, "width": width, "height": height,
                               "timestamp": timestamp}
    if title:
        head["title"] = title
    head["env"] = {"TERM": "xterm-256color"}
    return json.dumps(head, ensure_ascii=False)


def event(seconds: float, code: Literal["o", "r", "m"], text: str) -> str:
    return json.dumps([round(max(0.0, seconds), 6), code, text], ensure_ascii=False)


def size(cols: int, rows: int) -> str:
    return f"{cols}x{rows}"


@dataclass(frozen=True, slots=True)
class Mark:
    """One timeline entry at epoch ``time``: output up to ``end``, a resize, or a marker."""

    time: float
    kind: Literal["o", "r", "m"]
    end: int = 0
    cols: int = 0
    rows: int = 0
    label: str = ""


@dataclass(slots=True)
class Timeline:
    """What a relay saw of one agent's stream, bounded to ``max_marks`` entries."""

    started: float
    cols: int
    rows: int
    title: str | None = None
    max_marks: int = MAX_MARKS
    marks: deque[Mark] = field(default_factory=deque)
    #: size in effect before the oldest kept mark
    base_cols: int = 0
    base_rows: int = 0
    end: int | None = None
    #: the label of the last activity marker (a repeated report adds none)
    activity: str | None = None

    def __post_init__(self) -> None:
        self.base_cols, self.base_rows = self.cols, self.rows

    def _add(self, mark: Mark) -> None:
        self.marks.append(mark)
        while len(self.marks) > self.max_marks:
            old = self.marks.popleft()
            if old.kind == "r":
                self.base_cols, self.base_rows = old.cols, old.rows

    def output(self, now: float, end: int) -> None:
        if self.end is not None and end <= self.end:
            return
        self.end = end
        last = self.marks[-1] if self.marks else None
        if last is not None and last.kind == "o" and now - last.time < COALESCE_SECONDS:
            self.marks[-1] = Mark(last.time, "o", end=end)  # one event per 10 ms
        else:
            self._add(Mark(now, "o", end=end))

    def resize(self, now: float, cols: int, rows: int) -> bool:
        if (cols, rows) == (self.cols, self.rows):
            return False
        self.cols, self.rows = cols, rows
        self._add(Mark(now, "r", cols=cols, rows=rows))
        return True

    def marker(self, now: float, label: str) -> None:
        self._add(Mark(now, "m", label=label))


def render(timeline: Timeline, offset: int, data: bytes) -> Iterator[str]:
    """The cast of ``data`` (the retained stream from ``offset``) along ``timeline``.

    Bytes the timeline has no time for (older than its first mark, or newer than its
    last: received by another relay) appear at the nearest known time.
    """
    t0 = int(timeline.started)
    width, height = timeline.base_cols, timeline.base_rows
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    end = offset + len(data)
    pos = offset
    first = True
    last_t = 0.0
    for mark in timeline.marks:
        t = mark.time - t0
        last_t = max(last_t, t)
        if mark.kind == "o":
            upto = min(mark.end, end)
            if upto > pos:
                if first:
                    yield header(width, height, t0, timeline.title)
                    first = False
                text = decoder.decode(data[pos - offset: upto - offset])
                if text:
                    yield event(last_t, "o", text)
                pos = upto
            continue
        if first:
            if mark.kind == "r":
                width, height = mark.cols, mark.rows
                continue
            yield header(width, height, t0, timeline.title)
            first = False
        if mark.kind == "r":
            yield event(last_t, "r", size(mark.cols, mark.rows))
        else:
            yield event(last_t, "m", mark.label)
    if first:
        yield header(width, height, t0, timeline.title)
    rest = decoder.decode(data[pos - offset:], final=True) if pos < end else decoder.decode(
        b"", final=True)
    if rest:
        yield event(last_t, "o", rest)
