"""Terminal queries removed from replayed output (so that ``attach`` does not make the
user's terminal answer old questions into the agent), in every chunking."""

from __future__ import annotations

import pytest

from agent_sidecar.client.queries import EscapeFilter, QueryFilter, alt_screen_as_clear, is_query

QUERIES = [
    b"\x1b[6n", b"\x1b[?6n", b"\x1b[5n", b"\x1b[c", b"\x1b[0c", b"\x1b[>c", b"\x1b[=c",
    b"\x1b[>0q", b"\x1b[?2004$p", b"\x1b[?u", b"\x1b[14t", b"\x1b[18t",
    b"\x1b]10;?\x07", b"\x1b]11;?\x1b\\", b"\x1b]4;1;?\x07", b"\x1bP$qm\x1b\\",
    b"\x1bP+q544e\x1b\\",
]
NOT_QUERIES = [
    b"\x1b[1;31m", b"\x1b[H", b"\x1b[2J", b"\x1b[?1049h", b"\x1b[?2004h", b"\x1b[>1u",
    b"\x1b[<u", b"\x1b[?25l", b"\x1b]0;title\x07", b"\x1b]8;;http://x\x1b\\", b"\x1b[3 q",
]


@pytest.mark.parametrize("seq", QUERIES)
def test_queries_are_recognised(seq: bytes) -> None:
    assert is_query(seq)


@pytest.mark.parametrize("seq", NOT_QUERIES)
def test_other_sequences_are_not_queries(seq: bytes) -> None:
    assert not is_query(seq)


STREAM = b"".join(
    b"<%d>" % i + q + n for i, (q, n) in enumerate(zip(QUERIES, NOT_QUERIES * 2, strict=False))
) + b"tail \x1b7 end"
EXPECTED = b"".join(
    b"<%d>" % i + n for i, (_q, n) in enumerate(zip(QUERIES, NOT_QUERIES * 2, strict=False))
) + b"tail \x1b7 end"


def test_a_stream_keeps_everything_but_the_queries() -> None:
    f = QueryFilter()
    assert f.feed(STREAM) + f.flush() == EXPECTED


def test_every_two_way_split_gives_the_same_result() -> None:
    for cut in range(1, len(STREAM)):
        f = QueryFilter()
        assert f.feed(STREAM[:cut]) + f.feed(STREAM[cut:]) + f.flush() == EXPECTED, cut


def test_byte_by_byte_gives_the_same_result() -> None:
    f = QueryFilter()
    assert b"".join(f.feed(STREAM[i : i + 1]) for i in range(len(STREAM))) + f.flush() == EXPECTED


def test_plain_text_passes_at_once() -> None:
    assert QueryFilter().feed(b"hello\r\n") == b"hello\r\n"


def test_alternate_screen_switches_become_a_cleared_screen_in_any_chunking() -> None:
    stream = b"$ vim\r\n\x1b[?1049h\x1b[22;0tvim screen\x1b[?1049l\x1b[23;0t$ \x1b[?47hx\x1b[?47l"
    expected = (b"$ vim\r\n\x1b7\x1b[H\x1b[2J\x1b[22;0tvim screen\x1b[H\x1b[2J\x1b8\x1b[23;0t$ "
                b"\x1b[H\x1b[2Jx\x1b[H\x1b[2J")
    for cut in range(1, len(stream)):
        f = EscapeFilter(alt_screen_as_clear)
        assert f.feed(stream[:cut]) + f.feed(stream[cut:]) + f.flush() == expected, cut
