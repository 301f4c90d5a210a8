"""asciicast v2 rendering of a timeline over retained bytes (relay.ops.cast)."""

from __future__ import annotations

import json

from relay.ops.cast import Timeline, render


def cast(timeline: Timeline, offset: int, data: bytes) -> tuple[dict[str, object], list[list[object]]]:
    head, *events = render(timeline, offset, data)
    return json.loads(head), [json.loads(e) for e in events]


def test_each_chunk_is_an_event_at_its_time_from_the_header_timestamp() -> None:
    t = Timeline(started=1000.4, cols=80, rows=24, title="build")
    t.output(1000.5, 3)
    t.output(1002.0, 6)
    head, events = cast(t, 0, b"abcdef")
    assert head == {"version": 2, "width": 80, "height": 24, "timestamp": 1000,
                    "title": "build", "env": {"TERM": "xterm-256color"}}
    assert events == [[0.5, "o", "abc"], [2.0, "o", "def"]]


def test_a_scrollback_that_starts_later_keeps_the_size_in_effect_there() -> None:
    t = Timeline(started=0.0, cols=80, rows=24)
    t.output(1.0, 10)
    t.resize(2.0, 120, 40)
    t.output(3.0, 20)
    head, events = cast(t, 10, b"0123456789")   # the first 10 bytes were dropped
    assert (head["width"], head["height"]) == (120, 40)
    assert events == [[3.0, "o", "0123456789"]]


def test_markers_and_resizes_between_chunks_keep_their_order() -> None:
    t = Timeline(started=0.0, cols=80, rows=24)
    t.output(1.0, 2)
    t.marker(1.5, "activity: waiting (permission)")
    t.resize(1.6, 100, 30)
    t.output(2.0, 4)
    _, events = cast(t, 0, b"abcd")
    assert events == [[1.0, "o", "ab"], [1.5, "m", "activity: waiting (permission)"],
                      [1.6, "r", "100x30"], [2.0, "o", "cd"]]


def test_bytes_newer_than_the_timeline_come_at_its_last_time_and_bad_utf8_is_replaced() -> None:
    t = Timeline(started=0.0, cols=80, rows=24)
    t.output(1.0, 2)
    _, events = cast(t, 0, b"ab\xff\xc3\xa9")
    assert events == [[1.0, "o", "ab"], [1.0, "o", "\ufffdé"]]


def test_a_resend_below_the_end_adds_no_mark_and_the_mark_count_is_bounded() -> None:
    t = Timeline(started=0.0, cols=80, rows=24, max_marks=3)
    t.output(1.0, 5)
    t.output(2.0, 3)
    assert len(t.marks) == 1
    t.resize(3.0, 90, 30)
    t.output(4.0, 8)
    t.output(5.0, 9)
    assert len(t.marks) == 3
    assert (t.base_cols, t.base_rows) == (80, 24)  # the dropped mark was output
    t.output(6.0, 10)
    assert (t.base_cols, t.base_rows) == (90, 30)  # the resize fell off the front


def test_output_within_ten_milliseconds_is_one_event_at_its_first_time() -> None:
    t = Timeline(started=0.0, cols=80, rows=24)
    t.output(1.000, 2)
    t.output(1.004, 4)
    t.output(1.020, 6)
    _, events = cast(t, 0, b"abcdef")
    assert events == [[1.0, "o", "abcd"], [1.02, "o", "ef"]]
