"""Notification escapes in the output: OSC 9, OSC 777 ``notify``, OSC 99, the bell, OSC 9;4.

``EscapeScanner.feed(data)`` is incremental (a sequence may be cut between two reads) and
cheap on chunks without ESC ] or BEL: two or three one-pass searches in C. It returns the events in
the chunk, at most ``max_events`` per chunk and one bell (a flood of escapes is bounded);
an OSC longer than ``max_osc`` bytes is dropped, and any ESC other than ``ESC \\`` inside
an OSC aborts it, as in xterm.

- ``OSC 9 ; text ST``: a notification (iTerm2, ConEmu, Windows Terminal).
- ``OSC 9 ; 4 ; st ; pr ST``: progress (ConEmu/Windows Terminal): st 0 clears, 1 normal,
  2 error, 3 indeterminate, 4 paused.
- ``OSC 777 ; notify ; title ; body ST``: a notification (urxvt, VTE, foot).
- ``OSC 99 ; metadata ; payload ST``: a notification (kitty); ``p=body`` chunks carry the
  body, others (and ``p=title``) the title.
- BEL (0x07) outside an OSC: the bell.

ST is ESC \\ or BEL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EscapeKind = Literal["notify", "progress", "bell"]


@dataclass(frozen=True, slots=True)
class EscapeEvent:
    kind: EscapeKind
    text: str | None = None
    #: Progress: 0 cleared, 1 normal, 2 error, 3 indeterminate, 4 paused.
    progress_state: int | None = None
    percent: int | None = None


class EscapeScanner:
    """Finds notification escapes across chunk boundaries."""

    def __init__(self, *, max_osc: int = 4096, max_events: int = 16) -> None:
        self._max_osc = max_osc
        self._max_events = max_events
        self._osc: bytearray | None = None  # inside an OSC: its bytes so far
        self._esc = False  # the last byte was ESC (outside or inside an OSC)
        self._overflow = False  # the OSC passed max_osc: skipped to its end
        self.dropped = 0

    def feed(self, data: bytes) -> list[EscapeEvent]:
        events: list[EscapeEvent] = []
        i, n = 0, len(data)
        if self._esc and n:  # the last chunk ended with ESC
            self._esc = False
            if self._osc is None:
                if data[0] == 0x5D:  # ESC ]
                    self._osc = bytearray()
                    i = 1
            elif data[0] == 0x5C:  # ESC \ ends the OSC
                self._finish(events)
                i = 1
            else:  # any other ESC inside an OSC aborts it (as xterm does)
                self._abort()
                if data[0] == 0x5D:
                    self._osc = bytearray()
                    i = 1
        j_bel = j_osc = -2  # -2: not searched yet; -1: none up to the end
        while i < n:
            if self._osc is None:
                # Outside an OSC only BEL and ESC ] matter: one-pass searches in C, each
                # result kept until passed (colour output has an ESC every few bytes).
                if j_bel != -1 and j_bel < i:
                    j_bel = data.find(b"\x07", i)
                if j_osc != -1 and j_osc < i:
                    j_osc = data.find(b"\x1b]", i) if b"]" in data else -1
                if j_bel < 0 and j_osc < 0:
                    self._esc = data.endswith(b"\x1b")
                    break
                if j_osc < 0 or (0 <= j_bel < j_osc):
                    # One bell per chunk says it all: a flood of them costs one search.
                    self._emit(events, EscapeEvent("bell"))
                    i = j_bel + 1
                    j_bel = -1
                    continue
                self._osc = bytearray()
                i = j_osc + 2
                continue
            # Inside an OSC: up to its terminator (BEL or ESC \).
            e_bel = data.find(b"\x07", i)
            e_esc = data.find(b"\x1b", i)
            ends = [j for j in (e_bel, e_esc) if j >= 0]
            if not ends:
                self._append(data[i:])
                break
            j = min(ends)
            self._append(data[i:j])
            if j == e_bel:
                self._finish(events)
                i = j + 1
                continue
            if j + 1 >= n:
                self._esc = True
                break
            if data[j + 1] == 0x5C:
                self._finish(events)
                i = j + 2
                continue
            self._abort()
            i = j  # the ESC starts something new: look at it outside the OSC
            j_osc = j_bel = -2
        return events

    def _abort(self) -> None:
        self._osc = None
        self._overflow = False

    def _append(self, part: bytes) -> None:
        if self._osc is None or self._overflow:
            return
        if len(self._osc) + len(part) > self._max_osc:
            self._overflow = True  # too long to be a notification: skipped to its end
            self.dropped += 1
            return
        self._osc += part

    def _finish(self, events: list[EscapeEvent]) -> None:
        body, self._osc = self._osc, None
        overflow, self._overflow = self._overflow, False
        if body is None or overflow:
            return
        event = parse_osc(bytes(body))
        if event is not None:
            self._emit(events, event)

    def _emit(self, events: list[EscapeEvent], event: EscapeEvent) -> None:
        if len(events) < self._max_events:
            events.append(event)
        else:
            self.dropped += 1


def parse_osc(body: bytes) -> EscapeEvent | None:
    """The event an OSC body (between ``ESC ]`` and ST) carries, if it is one of ours."""
    text = body.decode("utf-8", "replace")
    code, _, rest = text.partition(";")
    if code == "9":
        if rest.startswith("4;") or rest == "4":
            parts = rest.split(";")
            state = _int(parts[1]) if len(parts) > 1 else 0
            percent = _int(parts[2]) if len(parts) > 2 else None
            return EscapeEvent("progress", progress_state=state or 0, percent=percent)
        if rest and not (rest[0].isdigit() and (len(rest) <= 2 or rest[1:2] == ";")):
            return EscapeEvent("notify", text=rest)
        return None  # OSC 9;N;...: ConEmu's other functions
    if code == "777":
        kind, _, payload = rest.partition(";")
        if kind != "notify":
            return None
        title, _, message = payload.partition(";")
        return EscapeEvent("notify", text=_join(title, message))
    if code == "99":
        meta, _, payload = rest.partition(";")
        keys = dict(item.partition("=")[::2] for item in meta.split(":") if item)
        if not payload or keys.get("d") == "0" or keys.get("p", "title") not in ("title", "body"):
            return None  # more chunks to come, or not text (icons, buttons, queries)
        return EscapeEvent("notify", text=payload)
    return None


def _join(title: str, message: str) -> str:
    title, message = title.strip(), message.strip()
    if title and message:
        return f"{title}: {message}"
    return title or message


def _int(word: str) -> int | None:
    try:
        return int(word)
    except ValueError:
        return None
