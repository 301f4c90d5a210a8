"""Terminal output as plain text (``agent-sidecar tail`` without ``--raw``), fed whole
and in every split, so no chunking changes the result."""

from __future__ import annotations

import pytest

from agent_sidecar.client.plaintext import PlainText

CASES = [
    (b"plain text\r\n", "plain text\n"),
    (b"\x1b[1;31mred\x1b[0m and \x1b[38;2;1;2;3mrgb\x1b[m\r\n", "red and rgb\n"),
    (b"\x1b]0;window title\x07prompt$ ", "prompt$ "),
    (b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
    (b"\x1bP+q544e\x1b\\after", "after"),
    (b"\x1b(Bascii\x1b7saved\x1b8", "asciisaved"),
    (b"50%\r100%\r\n", "50%\n100%\n"),
    (b"a\tb\x07c\x08d\x00e", "a\tbcde"),
    (b"caf\xc3\xa9 \xe2\x9c\x93", "café ✓"),
    (b"bad \xff byte", "bad \ufffd byte"),
    (b"\x1b[?1049h\x1b[H\x1b[2Jscreen", "screen"),
    (b"lf only\nnext", "lf only\nnext"),
    (b"a\r\n\r\nb", "a\n\nb"),
    (b"$ echo hi\r\n\x1b[?2004l\rhi\r\n", "$ echo hi\nhi\n"),
    (b"x\r", "x"),
    (b"50%\r\x1b[Kdone\r\n", "50%\ndone\n"),
    # Full-screen programs place words with cursor moves instead of spaces and newlines.
    (b"\x1b[2;3HWelcome\x1b[1Cto\x1b[3;3HChoose\x1b[3;10Hnow", "Welcome to\nChoose now"),
    (b"a\x1b[2Bb\x1b[5Gc\x1b[?25hd", "a\nb cd"),
]


@pytest.mark.parametrize(("raw", "text"), CASES)
def test_whole_input(raw: bytes, text: str) -> None:
    conv = PlainText()
    assert conv.feed(raw) + conv.flush() == text


@pytest.mark.parametrize(("raw", "text"), CASES)
def test_every_split_gives_the_same_text(raw: bytes, text: str) -> None:
    for cut in range(1, len(raw)):
        conv = PlainText()
        assert conv.feed(raw[:cut]) + conv.feed(raw[cut:]) + conv.flush() == text, cut


def test_a_stray_escape_does_not_swallow_the_rest_of_the_stream() -> None:
    conv = PlainText()
    assert conv.feed(b"\x1b]never terminated" + b"x" * 5000).endswith("x" * 100)


def test_an_incomplete_character_at_the_end_becomes_a_replacement_character() -> None:
    conv = PlainText()
    assert conv.feed(b"ok \xe2\x9c") == "ok "
    assert conv.flush() == "\ufffd"
