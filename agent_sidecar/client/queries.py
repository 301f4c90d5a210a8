"""Escape sequences rewritten in a byte stream: terminal queries taken out of replayed
output, and the agent's alternate-screen switches kept from leaving ``attach``'s own.

A program asks its terminal things by printing escape sequences (cursor position
``ESC[6n``, device attributes ``ESC[c``, colours ``ESC]11;?BEL``, the keyboard protocol
``ESC[?u``...), and the terminal answers by *typing* the reply. When ``attach`` replays
old output into a real terminal, that terminal answers questions asked minutes ago, and
the answers would be typed into the agent as if the user had typed them. The web
dashboard drops such replies during its replay; a real terminal cannot tell replies from
keys, so ``attach`` removes the questions from the replay instead (live output passes
untouched: a live question deserves its answer).

``attach`` itself runs on the alternate screen, so that a detach gives the user's screen
back as it was. An agent that switches the alternate screen on and off (vim, less, top)
would switch *that* screen off when it quits, and the rest of the session would be drawn
over the user's own screen. :func:`alt_screen_as_clear` turns those switches into what the
agent can see of them: a cleared screen (with the cursor saved and restored, for 1049).

:class:`EscapeFilter` is fed bytes in any chunking and applies a rewrite to every complete
CSI, OSC and DCS sequence; it holds back a sequence cut by a chunk boundary (at most
:data:`MAX_HELD` bytes) until it is complete. :class:`QueryFilter` drops the queries.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: A CSI, OSC or DCS sequence, complete.
_SEQUENCE = re.compile(
    rb"\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"  # CSI params intermediates final
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC ... BEL or ST
    rb"|\x1bP[^\x1b]*\x1b\\",  # DCS ... ST
)
#: The CSI queries: DSR (``n``), DA1/DA2/DA3 (``c``), XTVERSION (``>q``), DECRQM
#: (``$p``), the kitty keyboard query (``?u``) and XTWINOPS reports (``t``).
_CSI_QUERY = re.compile(rb"\x1b\[(?:[\x30-\x3f]*[nc]|>[0-9;]*q|[?]?[0-9;]*\$p|\?u|[0-9;]*t)\Z")
#: OSC colour and palette queries (``ESC]10;?``, ``ESC]4;1;?``), DCS DECRQSS (``$q``) and
#: XTGETTCAP (``+q``).
_OSC_QUERY = re.compile(rb"\x1b\][0-9;]*\?")
_DCS_QUERY = re.compile(rb"\x1bP[$+]q")

MAX_HELD = 512


def is_query(sequence: bytes) -> bool:
    """True for a complete escape sequence that asks the terminal for an answer."""
    if sequence.startswith(b"\x1b["):
        return _CSI_QUERY.match(sequence) is not None
    if sequence.startswith(b"\x1b]"):
        return _OSC_QUERY.match(sequence) is not None
    return _DCS_QUERY.match(sequence) is not None


def drop_query(sequence: bytes) -> bytes:
    return b"" if is_query(sequence) else sequence


_ALT_SCREEN = {
    b"\x1b[?1049h": b"\x1b7\x1b[H\x1b[2J",
    b"\x1b[?1049l": b"\x1b[H\x1b[2J\x1b8",
    b"\x1b[?1047h": b"\x1b[H\x1b[2J",
    b"\x1b[?1047l": b"\x1b[H\x1b[2J",
    b"\x1b[?47h": b"\x1b[H\x1b[2J",
    b"\x1b[?47l": b"\x1b[H\x1b[2J",
}


def alt_screen_as_clear(sequence: bytes) -> bytes:
    """An alternate-screen switch as a cleared screen; anything else unchanged."""
    return _ALT_SCREEN.get(sequence, sequence)


def _incomplete_tail(data: bytes) -> int:
    """Where a trailing, still incomplete CSI/OSC/DCS sequence starts, else len(data)."""
    start = data.rfind(b"\x1b")
    if start < 0 or len(data) - start > MAX_HELD:
        return len(data)
    tail = data[start:]
    if len(tail) == 1:
        return start
    if tail[1:2] not in (b"[", b"]", b"P"):
        return len(data)  # a two-byte escape, or the ST ending an OSC/DCS: complete
    return len(data) if _SEQUENCE.match(tail) else start


class EscapeFilter:
    """Applies ``rewrite`` to every complete CSI, OSC and DCS sequence of a byte stream."""

    def __init__(self, rewrite: Callable[[bytes], bytes]) -> None:
        self._rewrite = rewrite
        self._held = b""

    def _apply(self, data: bytes) -> bytes:
        return _SEQUENCE.sub(lambda m: self._rewrite(m.group()), data)

    def feed(self, data: bytes) -> bytes:
        data = self._held + data
        # An OSC/DCS whose ESC-backslash terminator is split leaves "...ESC" at the end:
        # hold from the sequence's own start, found by the last ESC that opens one.
        cut = _incomplete_tail(data)
        opener = max(data.rfind(b"\x1b]"), data.rfind(b"\x1bP"))
        if (
            opener >= 0
            and len(data) - opener <= MAX_HELD
            and _SEQUENCE.match(data, opener) is None
        ):
            cut = min(cut, opener)
        self._held = data[cut:]
        return self._apply(data[:cut])

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return self._apply(held)


class QueryFilter(EscapeFilter):
    """Removes terminal queries from a byte stream (replayed output)."""

    def __init__(self) -> None:
        super().__init__(drop_query)
