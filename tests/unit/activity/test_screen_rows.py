"""ScreenModel.view renders only the rows pyte marked dirty: always what a full render
(``Screen.display``) gives, whatever the output did to the screen."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_sidecar.activity.screen import ScreenModel, _render_row

# Pieces of terminal output that move, write, scroll, erase, insert, delete and switch
# screens; text with wide characters and combining marks.
_PIECES = [
    b"hello", b"\xe4\xb8\xad\xe6\x96\x87", b"e\xcc\x81", b"\r", b"\n", b"\r\n", b"\t", b"\x08",
    b"\x1b[H", b"\x1b[5;3H", b"\x1b[24;80H", b"\x1b[2J", b"\x1b[J", b"\x1b[1J", b"\x1b[K",
    b"\x1b[1K", b"\x1b[2K", b"\x1b[3L", b"\x1b[2M", b"\x1b[4@", b"\x1b[3P", b"\x1b[5X",
    b"\x1bM", b"\x1bD", b"\x1bE", b"\x1b[2;5r", b"\x1b[r", b"\x1b[?1049h", b"\x1b[?1049l",
    b"\x1b[?47h", b"\x1b[?47l", b"\x1b[?5h", b"\x1b[?5l", b"\x1b[4h", b"\x1b[4l",
    b"\x1b[?7l", b"\x1b[?7h", b"\x1bc", b"\x1b#8", b"\x1b[31mred\x1b[0m", b"x" * 100,
]
_STEP = st.one_of(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8).map(b"".join),
    st.tuples(st.integers(1, 30), st.integers(1, 12)),  # a resize: cols, rows
    st.just(None),  # a view in between (dirty rows pile up until one)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_STEP, max_size=25))
def test_a_view_is_what_a_full_render_gives(steps: list[bytes | tuple[int, int] | None]) -> None:
    model = ScreenModel(20, 8)
    for step in steps:
        if isinstance(step, bytes):
            model.push(step)
            model.catch_up()
        elif isinstance(step, tuple):
            model.resize(*step)
        else:
            _check(model)
    _check(model)


def _check(model: ScreenModel) -> None:
    view = model.view()
    screen = model._screen
    try:
        full = tuple(line.rstrip() for line in screen.display)
    except IndexError:  # pyte's own render fails on a half-overwritten wide character
        full = tuple(_render_row(screen, y) for y in range(screen.lines))
    assert view.lines == full
    assert (view.cols, view.rows) == (screen.columns, screen.lines)
