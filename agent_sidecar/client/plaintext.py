"""Terminal output as plain text, for reading in a pipe, a file or a pager.

:class:`PlainText` is fed the raw bytes of an output stream in any chunking and returns
text: UTF-8 decoded (invalid bytes as U+FFFD); escape sequences removed (CSI, OSC, DCS
and the other string sequences, two- and three-byte escapes); a line ends at ``\\n``,
and text after a lone ``\\r`` (a progress bar redrawing its line) starts a new line;
other control characters dropped except tab. A sequence split across chunks is
handled: its start is remembered until it ends. Cursor movements become the space or
newline a reader needs between the words a full-screen program places (a move to
another row is a newline, a move along the row a space), but what the screen would show
is not reconstructed; use ``--raw`` and a terminal for that.
"""

from __future__ import annotations

import codecs
import enum
import re

ESC = "\x1b"
BEL = "\x07"
#: Text that needs no character-by-character look: printable characters (no C0/C1
#: control, no DEL), tabs and newlines (CR LF is made LF first).
_TEXT_RUN = re.compile(r"[^\x00-\x08\x0b-\x1f\x7f-\x9f]+")
#: A complete CSI sequence: parameters, intermediates, final byte.
_CSI = re.compile(r"\x1b\[([\x30-\x3f]*)[\x20-\x2f]*([\x40-\x7e])")
#: Escape sequences longer than this are abandoned (treated as ended), so a stray ESC
#: cannot swallow the rest of the stream.
MAX_SEQUENCE_CHARS = 4096


class _State(enum.Enum):
    TEXT = enum.auto()
    ESC = enum.auto()  # after ESC
    ESC_INTERMEDIATE = enum.auto()  # ESC then 0x20-0x2F bytes, until a final byte
    CSI = enum.auto()  # ESC [ or 0x9B, until a final byte 0x40-0x7E
    STRING = enum.auto()  # OSC/DCS/SOS/PM/APC, until BEL (OSC) or ST (ESC \)
    STRING_ESC = enum.auto()  # ESC inside a string: ST if a backslash follows


class PlainText:
    """A streaming converter from terminal output bytes to plain text."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._state = _State.TEXT
        self._seq_len = 0
        #: A carriage return was the last control character: text after it starts a line.
        self._after_cr = False
        #: Nothing has been written on the current output line yet.
        self._line_start = True
        #: The parameters of the CSI sequence being read, and the row the last absolute
        #: cursor position named (None: unknown).
        self._params = ""
        self._row: int | None = None
        #: The last character written on the current line.
        self._last = ""

    def feed(self, data: bytes) -> str:
        return self._convert(self._decoder.decode(data))

    def flush(self) -> str:
        """The end of the stream: an incomplete character becomes U+FFFD."""
        return self._convert(self._decoder.decode(b"", final=True))

    def _convert(self, text: str) -> str:
        out: list[str] = []
        text = text.replace("\r\n", "\n")  # a CR LF split across chunks: see _text
        i, n = 0, len(text)
        while i < n:
            state = self._state
            if state is _State.TEXT:
                # Runs of printable text, tabs and line ends go out whole; lone
                # carriage returns, other controls and escapes one by one below.
                run = _TEXT_RUN.match(text, i)
                if run is not None:
                    self._text_run(run.group(), out)
                    i = run.end()
                    continue
                csi = _CSI.match(text, i)  # a whole CSI sequence in this chunk
                if csi is not None:
                    self._params = csi.group(1)
                    self._cursor_move(csi.group(2), out)
                    i = csi.end()
                    continue
                self._text(text[i], out)
                i += 1
                continue
            ch = text[i]
            i += 1
            self._seq_len += 1
            if self._seq_len > MAX_SEQUENCE_CHARS:
                self._state = _State.TEXT
                continue
            code = ord(ch)
            if state is _State.ESC:
                if ch == "[":
                    self._state = _State.CSI
                    self._params = ""
                elif ch in "]PX^_":
                    self._state = _State.STRING
                elif 0x20 <= code <= 0x2F:
                    self._state = _State.ESC_INTERMEDIATE
                else:
                    self._state = _State.TEXT  # a two-character escape (ESC 7, ESC M...)
            elif state is _State.ESC_INTERMEDIATE:
                if not 0x20 <= code <= 0x2F:
                    self._state = _State.TEXT
            elif state is _State.CSI:
                if 0x40 <= code <= 0x7E:
                    self._state = _State.TEXT
                    self._cursor_move(ch, out)
                else:
                    self._params += ch
            elif state is _State.STRING:
                if ch == BEL or ch == "\x9c":
                    self._state = _State.TEXT
                elif ch == ESC:
                    self._state = _State.STRING_ESC
            elif state is _State.STRING_ESC:
                self._state = _State.TEXT if ch == "\\" else _State.STRING
        return "".join(out)

    def _cursor_move(self, final: str, out: list[str]) -> None:
        """Where a program moves the cursor instead of writing spaces or newlines (the
        full-screen agents), write the space or newline a reader needs between words."""
        params = self._params
        if params[:1] in ("?", ">", "<", "=") or final not in "ABCEFGHdf":
            return
        numbers = [int(p) if p.isdigit() else 0 for p in params.split(";")]
        if final in "Hfd":
            row = numbers[0] or 1
            if row == self._row:
                self._space(out)
            else:
                self._newline(out)
            self._row = row
        elif final in "ABEF":
            self._newline(out)
            self._row = None
        else:  # C: forward, G: to a column
            self._space(out)

    def _newline(self, out: list[str]) -> None:
        if not self._line_start:
            out.append("\n")
            self._line_start = True
        self._after_cr = False

    def _space(self, out: list[str]) -> None:
        if not self._line_start and self._last != " ":
            out.append(" ")
            self._last = " "

    def _text_run(self, run: str, out: list[str]) -> None:
        """What :meth:`_text` does for each character of ``run``, at once."""
        if run[0] != "\n" and self._after_cr and not self._line_start:
            out.append("\n")
        text = run
        out.append(text)
        self._after_cr = False
        self._line_start = text.endswith("\n")
        self._last = text[-1]
        if self._row is not None:
            self._row += text.count("\n")

    def _text(self, ch: str, out: list[str]) -> None:
        if ch == ESC or ch == "\x9b":
            self._state = _State.CSI if ch == "\x9b" else _State.ESC
            self._seq_len = 0
            self._params = ""
        elif ch == "\r":
            self._after_cr = True  # the next text overwrites this line: start a new one
        elif ch == "\n":
            out.append("\n")
            self._after_cr = False
            self._line_start = True
            if self._row is not None:
                self._row += 1
        elif ch == "\t" or (ch >= " " and not "\x7f" <= ch <= "\x9f"):
            if self._after_cr and not self._line_start:
                out.append("\n")
            out.append(ch)
            self._last = ch
            self._after_cr = False
            self._line_start = False
