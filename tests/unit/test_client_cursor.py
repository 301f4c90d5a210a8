"""The client's stream bookkeeping (:class:`agent_sidecar.client.Cursor`), without I/O:
order, exactly once, gaps announced, the end of a scrollback read and of an exited agent."""

from __future__ import annotations

from agent_sidecar.client import Cursor, Exited
from relay.protocol import AgentInfo, TerminalGap, TerminalOutput

A = "a1"


def out(offset: int, data: bytes) -> TerminalOutput:
    return TerminalOutput(agent_id=A, offset=offset, data=data)


def gap(start: int, end: int) -> TerminalGap:
    return TerminalGap(agent_id=A, from_=start, to=end)


def info(state: str, offset: int, exit_code: int | None = None) -> AgentInfo:
    return AgentInfo(
        agent_id=A, name=A, host="h", command=("sh",), labels={}, pid=1, cols=80, rows=24,
        started_at=1.0, state=state, exit_code=exit_code, last_seen=1.0, offset=offset,  # type: ignore[arg-type]
    )


def test_subscribed_beyond_since_announces_the_missing_bytes_as_a_gap() -> None:
    cursor = Cursor(A, since=10, follow=True)
    assert cursor.subscribed(from_=40, end=100) == [gap(10, 40)]
    assert cursor.next == 40


def test_without_since_the_oldest_retained_byte_is_no_gap() -> None:
    cursor = Cursor(A, since=None, follow=True)
    assert cursor.subscribed(from_=40, end=100) == []


def test_chunks_in_order_pass_and_move_the_position() -> None:
    cursor = Cursor(A, since=0, follow=True)
    cursor.subscribed(0, 0)
    assert cursor.output(out(0, b"abc")) == [out(0, b"abc")]
    assert cursor.output(out(3, b"de")) == [out(3, b"de")]
    assert cursor.next == 5


def test_bytes_already_delivered_are_trimmed_or_dropped_never_repeated() -> None:
    cursor = Cursor(A, since=0, follow=True)
    cursor.subscribed(0, 0)
    cursor.output(out(0, b"abcd"))
    assert cursor.output(out(0, b"abcd")) == []
    assert cursor.output(out(2, b"cdef")) == [out(4, b"ef")]


def test_a_chunk_past_the_expected_offset_is_reported_as_a_gap() -> None:
    cursor = Cursor(A, since=0, follow=True)
    cursor.subscribed(0, 0)
    assert cursor.output(out(5, b"xy")) == [gap(0, 5), out(5, b"xy")]


def test_terminal_gap_moves_the_position_and_is_clipped_to_what_was_not_seen() -> None:
    cursor = Cursor(A, since=0, follow=True)
    cursor.subscribed(0, 0)
    cursor.output(out(0, b"abcd"))
    assert cursor.gap(gap(2, 9)) == [gap(4, 9)]
    assert cursor.gap(gap(3, 8)) == []
    assert cursor.next == 9


def test_output_before_subscribed_belongs_to_an_older_subscription_and_is_dropped() -> None:
    cursor = Cursor(A, since=0, follow=True)
    assert cursor.output(out(0, b"old")) == []


def test_not_following_ends_at_the_end_announced_by_subscribed() -> None:
    cursor = Cursor(A, since=0, follow=False)
    assert cursor.subscribed(0, 5) == []
    assert cursor.output(out(0, b"abcdefgh")) == [out(0, b"abcde")]
    assert cursor.done
    assert cursor.output(out(8, b"later")) == []


def test_not_following_an_empty_stream_is_done_at_once() -> None:
    cursor = Cursor(A, since=0, follow=False)
    assert cursor.subscribed(0, 0) == []
    assert cursor.done


def test_exit_is_the_last_event_once_every_byte_up_to_the_end_was_seen() -> None:
    cursor = Cursor(A, since=0, follow=True)
    cursor.subscribed(0, 0)
    exited = info("exited", offset=6, exit_code=3)
    assert cursor.status(exited) == []  # status overtook the last bytes: wait for them
    assert cursor.output(out(0, b"abc")) == [out(0, b"abc")]
    events = cursor.output(out(3, b"def"))
    assert events == [out(3, b"def"), Exited(exited)]
    assert events[-1].exit_code == 3  # type: ignore[union-attr]
    assert cursor.done


def test_an_agent_that_comes_back_after_exiting_is_followed_on() -> None:
    cursor = Cursor(A, since=0, follow=True)
    cursor.subscribed(0, 0)
    cursor.output(out(0, b"ab"))
    assert cursor.status(info("exited", offset=9)) == []
    assert cursor.status(info("running", offset=9)) == []
    assert cursor.output(out(2, b"cdefghi")) == [out(2, b"cdefghi")]
    assert not cursor.done


def test_reading_the_scrollback_of_an_exited_agent_ends_with_its_exit() -> None:
    cursor = Cursor(A, since=0, follow=False)
    exited = info("exited", offset=3, exit_code=0)
    cursor.status(exited)
    cursor.subscribed(0, 3)
    assert cursor.output(out(0, b"abc")) == [out(0, b"abc"), Exited(exited)]
