"""TerminalModes: which modes a command's output left on, and the bytes that undo them."""

from __future__ import annotations

import pytest

from agent_sidecar.modes import TerminalModes

AGENT_START = b"\x1b[?1049h\x1b[?25l\x1b[?1000;1006h\x1b[?2004h\x1b=\x1b[>1u\x1b[>4;2m"


def fed(*chunks: bytes) -> TerminalModes:
    modes = TerminalModes()
    for chunk in chunks:
        modes.feed(chunk)
    return modes


def test_a_fresh_terminal_needs_no_alternate_screen_exit() -> None:
    restore = TerminalModes().restore_sequence()
    assert b"\x1b[?1049l" not in restore
    assert b"\x1b[<" not in restore
    assert restore.endswith(b"\x1b[?25h")


def test_everything_an_agent_switched_on_is_switched_off() -> None:
    modes = fed(b"hello " + AGENT_START + b" world")
    assert modes.alternate_screen
    assert modes.bracketed_paste
    restore = modes.restore_sequence()
    for reset in (b"\x1b[?1049l", b"\x1b[?25h", b"\x1b[?1000l", b"\x1b[?1006l",
                  b"\x1b[?2004l", b"\x1b>", b"\x1b[<1u", b"\x1b[>4m"):
        assert reset in restore


@pytest.mark.parametrize("cut", range(1, len(AGENT_START)))
def test_a_sequence_split_across_reads_is_still_seen(cut: int) -> None:
    modes = fed(AGENT_START[:cut], AGENT_START[cut:])
    assert modes.alternate_screen
    assert modes.bracketed_paste
    assert modes.keypad_application
    assert modes.kitty_keyboard_depth == 1
    assert modes.modify_other_keys


def test_a_clean_exit_leaves_nothing_to_undo() -> None:
    modes = fed(AGENT_START, b"\x1b[?2004l\x1b[<u\x1b>\x1b[>4m\x1b[?1049l\x1b[?25h")
    assert not modes.alternate_screen
    assert not modes.bracketed_paste
    assert not modes.keypad_application
    assert modes.kitty_keyboard_depth == 0
    assert not modes.modify_other_keys
    assert b"\x1b[?1049l" not in modes.restore_sequence()


def test_a_full_reset_forgets_every_mode() -> None:
    modes = fed(AGENT_START, b"\x1bc")
    assert not modes.alternate_screen
    assert modes.kitty_keyboard_depth == 0


def test_plain_text_costs_no_parsing_state() -> None:
    modes = fed(b"x" * 100_000, b"\x1b[?2004h")
    assert modes.bracketed_paste


def test_a_reset_among_colours_is_seen_with_or_without_other_sequences() -> None:
    colours = b"\x1b[31mred\x1b[0m plain \x1b[1mbold\x1b[0m\r\n" * 50
    modes = fed(AGENT_START, colours + b"\x1bc" + colours)  # only a reset can be there
    assert not modes.alternate_screen
    assert not modes.bracketed_paste
    assert modes.kitty_keyboard_depth == 0
    modes = fed(AGENT_START, colours + b"\x1bc" + colours + b"\x1b[?2004h" + colours)
    assert not modes.alternate_screen
    assert modes.bracketed_paste


def test_a_reset_after_only_the_cursor_was_hidden_shows_it_again() -> None:
    colours = b"\x1b[32mok\x1b[0m\r\n" * 20
    modes = fed(b"\x1b[?25l" + colours, colours + b"\x1bc" + colours)
    assert modes.is_set(25)
    assert b"\x1b[?25h" in modes.restore_sequence()
    # Under default modes a reset changes nothing, whether or not it is looked for.
    modes = fed(colours + b"\x1b", b"c" + colours, colours + b"\x1bc")
    assert modes.is_set(25)
    assert not modes.alternate_screen
    assert not modes.bracketed_paste
