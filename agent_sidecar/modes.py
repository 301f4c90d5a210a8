"""The terminal modes a command has switched on, read from its output.

A full-screen program turns modes on with escape sequences (alternate screen, hidden
cursor, mouse reporting, bracketed paste, application keypad, the kitty keyboard
protocol) and turns them off again when it exits cleanly. When it is killed, the local
terminal is left in them: ``run`` then writes :meth:`TerminalModes.restore_sequence`.
The sidecar also needs to know whether the program asked for bracketed paste (DECSET
2004) to submit a command line the way the program expects (see ``steering``).

The tracker sees every byte of output in order; a sequence split across two reads is
completed from a short carried tail.
"""

from __future__ import annotations

import re
from typing import Final

#: ``CSI ? Pm h|l`` (DEC private modes), ``CSI > flags u`` / ``CSI < n u`` (kitty
#: keyboard protocol push/pop), ``CSI > 4 ; n m`` (xterm modifyOtherKeys), ``ESC =`` /
#: ``ESC >`` (keypad) and ``ESC c`` (full reset).
_SEQUENCE: Final = re.compile(
    rb"\x1b(?:\[\?([0-9;]*)([hl])|\[>([0-9;]*)u|\[<([0-9]*)u|\[>4(?:;([0-9]*))?m|([=>c]))"
)
#: Where a sequence of _SEQUENCE can start.
_START: Final = re.compile(rb"\x1b(?:\[[?<>]|[=>c])")
#: Where a sequence can start in a chunk without ``?``, ``<``, ``>`` or ``=`` (every other
#: sequence has one of them; colour output has an ESC every few bytes but rarely these).
_RESET: Final = re.compile(rb"\x1bc")
#: An escape sequence cut off at the end of a read is at most this long.
_MAX_CARRY: Final = 32
_INCOMPLETE: Final = re.compile(rb"\x1b(?:\[[?<>]?[0-9;]*)?$")

ALT_SCREENS: Final = (1049, 1047, 47)
MOUSE_MODES: Final = (1000, 1002, 1003, 1005, 1006, 1015, 1016)
CURSOR_VISIBLE: Final = 25
BRACKETED_PASTE: Final = 2004
APP_CURSOR_KEYS: Final = 1
FOCUS_EVENTS: Final = 1004
#: The modes of a fresh terminal (and after a full reset) that are tracked.
_DEFAULT_SET: Final = frozenset({CURSOR_VISIBLE})
_TRACKED: Final = frozenset(
    (*ALT_SCREENS, *MOUSE_MODES, CURSOR_VISIBLE, BRACKETED_PASTE, APP_CURSOR_KEYS, FOCUS_EVENTS)
)


class TerminalModes:
    """What the output has switched on so far (only the modes worth undoing)."""

    def __init__(self) -> None:
        self._set: set[int] = set()
        self.keypad_application = False
        self.kitty_keyboard_depth = 0
        self.modify_other_keys = False
        self._carry = b""
        self._reset()

    def _reset(self) -> None:
        self._set = set(_DEFAULT_SET)
        self.keypad_application = False
        self.kitty_keyboard_depth = 0
        self.modify_other_keys = False

    @property
    def bracketed_paste(self) -> bool:
        return BRACKETED_PASTE in self._set

    @property
    def alternate_screen(self) -> bool:
        return any(mode in self._set for mode in ALT_SCREENS)

    def is_set(self, mode: int) -> bool:
        return mode in self._set

    def feed(self, data: bytes) -> None:
        """Follow the modes through one chunk of output."""
        if self._carry:
            data = self._carry + data
            self._carry = b""
        elif b"\x1b" not in data:
            return
        # Most escapes are colours (CSI ... m): one quick search for where ours can start,
        # quicker still when only a reset can be there (a search for each ESC costs), and
        # none when a reset would change nothing (plain output under default modes).
        if b"?" in data or b"<" in data or b">" in data or b"=" in data:
            first = _START.search(data)
        elif self._default():
            first = None
        else:
            first = _RESET.search(data)
        if first is not None:
            for match in _SEQUENCE.finditer(data, first.start()):
                self._apply(match)
        tail = data[-_MAX_CARRY:]
        cut = tail.rfind(b"\x1b")
        if cut >= 0 and _INCOMPLETE.match(tail, cut):
            self._carry = tail[cut:]

    def _default(self) -> bool:
        """Everything as :meth:`_reset` leaves it (a full reset would be a no-op)."""
        return (
            not self.keypad_application
            and not self.kitty_keyboard_depth
            and not self.modify_other_keys
            and self._set == _DEFAULT_SET
        )

    def _apply(self, match: re.Match[bytes]) -> None:
        dec, action, push, pop, other_keys, esc = match.groups()
        if dec is not None:
            on = action == b"h"
            for part in dec.split(b";"):
                if part.isdigit() and int(part) in _TRACKED:
                    if on:
                        self._set.add(int(part))
                    else:
                        self._set.discard(int(part))
        elif push is not None:
            self.kitty_keyboard_depth += 1
        elif pop is not None:
            count = int(pop) if pop else 1
            self.kitty_keyboard_depth = max(0, self.kitty_keyboard_depth - count)
        elif esc == b"=":
            self.keypad_application = True
        elif esc == b">":
            self.keypad_application = False
        elif esc == b"c":
            self._reset()  # RIS: everything back to its default
        else:  # modifyOtherKeys: CSI > 4 ; n m sets level n, CSI > 4 m resets
            self.modify_other_keys = bool(other_keys) and other_keys != b"0"

    def restore_sequence(self) -> bytes:
        """Bytes that take a terminal back to normal from whatever the command left on.

        The alternate screen is left only when the command entered it (leaving it also
        restores a saved cursor position, which would move the cursor otherwise); the
        other resets are harmless when already off, so they are always written.
        """
        out = [b"\x1b[0m"]
        for mode in ALT_SCREENS:
            if mode in self._set:
                out.append(b"\x1b[?%dl" % mode)
        if self.kitty_keyboard_depth:
            out.append(b"\x1b[<%du" % self.kitty_keyboard_depth)
        if self.modify_other_keys:
            out.append(b"\x1b[>4m")
        out.append(b"".join(b"\x1b[?%dl" % mode for mode in MOUSE_MODES))
        out.append(b"\x1b[?%dl\x1b[?%dl\x1b[?%dl" % (FOCUS_EVENTS, BRACKETED_PASTE,
                                                    APP_CURSOR_KEYS))
        out.append(b"\x1b>\x1b[?25h")
        return b"".join(out)
