"""The scrollback ring: offsets, de-duplication, gaps, eviction, reads."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.hub.scrollback import Scrollback


def test_contiguous_chunks_extend_the_end() -> None:
    ring = Scrollback(100)
    ring.append(0, b"abc")
    ring.append(3, b"def")
    assert (ring.start, ring.end, ring.read(None)) == (0, 6, (0, b"abcdef"))


def test_a_resent_chunk_below_the_end_is_dropped() -> None:
    ring = Scrollback(100)
    ring.append(0, b"abcdef")
    appended = ring.append(2, b"cd")
    assert appended.chunk is None
    assert ring.end == 6


def test_an_overlapping_chunk_keeps_only_the_new_tail() -> None:
    ring = Scrollback(100)
    ring.append(0, b"abcd")
    appended = ring.append(2, b"cdEF")
    assert appended.chunk is not None
    assert (appended.chunk.offset, appended.chunk.data, appended.whole) == (4, b"EF", False)
    assert ring.read(None) == (0, b"abcdEF")


def test_a_chunk_past_the_end_records_a_gap_and_drops_older_bytes() -> None:
    ring = Scrollback(100)
    ring.append(0, b"abc")
    appended = ring.append(10, b"xyz")
    assert appended.gap == (3, 10)
    assert (ring.start, ring.end, ring.read(None)) == (10, 13, (10, b"xyz"))


def test_eviction_keeps_exactly_capacity_bytes_slicing_the_oldest_chunk() -> None:
    ring = Scrollback(5)
    ring.append(0, b"abcd")
    ring.append(4, b"efg")
    assert (ring.start, ring.size, ring.read(None)) == (2, 5, (2, b"cdefg"))


def test_a_chunk_larger_than_capacity_keeps_its_tail() -> None:
    ring = Scrollback(4)
    ring.append(0, b"0123456789")
    assert ring.read(None) == (6, b"6789")


def test_read_since_inside_a_chunk_slices_it() -> None:
    ring = Scrollback(100)
    ring.append(0, b"abc")
    ring.append(3, b"def")
    assert ring.read(4) == (4, b"ef")
    assert [(c.offset, c.data) for c in ring.chunks_from(1)] == [(1, b"bc"), (3, b"def")]


def test_read_since_before_the_start_starts_at_the_start() -> None:
    ring = Scrollback(3)
    ring.append(0, b"abcdef")
    assert ring.read(0) == (3, b"def")


def test_read_since_beyond_the_end_is_empty_at_since() -> None:
    ring = Scrollback(100)
    ring.append(0, b"abc")
    assert ring.read(50) == (50, b"")
    assert ring.chunks_from(3) == []


def test_a_ring_may_start_at_a_later_offset() -> None:
    ring = Scrollback(10, end=1000)
    assert ring.append(1000, b"x").gap is None
    assert ring.read(None) == (1000, b"x")


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Scrollback(0)


@given(
    st.integers(min_value=1, max_value=64),
    st.lists(st.binary(min_size=1, max_size=40), max_size=30),
    st.integers(min_value=0, max_value=1200),
)
def test_after_any_appends_reads_are_the_newest_capacity_bytes_of_the_stream(
    capacity: int, chunks: list[bytes], since: int
) -> None:
    """Eviction leaves the oldest chunk uncut in memory; every read still starts at
    ``start``, and exactly ``capacity`` bytes are counted."""
    ring = Scrollback(capacity)
    stream = b""
    for chunk in chunks:
        ring.append(len(stream), chunk)
        stream += chunk
        assert ring.size == min(capacity, len(stream)) == ring.end - ring.start
        assert ring.read(None) == (ring.start, stream[ring.start:])
        first = max(since, ring.start)
        assert b"".join(c.data for c in ring.chunks_from(since)) == stream[first:]
        assert all(c.offset >= ring.start for c in ring.chunks_from(since))
