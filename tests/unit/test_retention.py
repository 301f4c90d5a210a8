"""The retention buffer: offsets, dropping the oldest bytes, reading from any offset."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_sidecar.retention import Retention


def test_empty_buffer_reads_nothing_at_its_end() -> None:
    r = Retention(16)
    assert (r.start, r.end, len(r)) == (0, 0, 0)
    assert r.read(0, 10) == (0, b"")


def test_appends_advance_the_end_and_read_from_any_offset() -> None:
    r = Retention(16)
    r.append(b"hello ")
    r.append(b"world")
    assert (r.start, r.end) == (0, 11)
    assert r.read(0, 100) == (0, b"hello world")
    assert r.read(6, 3) == (6, b"wor")
    assert r.read(11, 3) == (11, b"")
    assert r.read(50, 3) == (11, b"")


def test_full_buffer_drops_the_oldest_bytes() -> None:
    r = Retention(8)
    r.append(b"0123456789")
    assert (r.start, r.end, r.dropped) == (2, 10, 2)
    r.append(b"ab")
    assert (r.start, r.end, r.dropped) == (4, 12, 4)
    assert r.read(0, 100) == (4, b"456789ab")


def test_read_of_a_dropped_offset_starts_at_the_oldest_retained() -> None:
    r = Retention(4)
    r.append(b"abcdefgh")
    assert r.read(1, 2) == (4, b"ef")


def test_shift_renumbers_the_stream_once_the_relay_says_where_it_starts() -> None:
    r = Retention(8)
    r.append(b"abc")
    r.shift(1000)
    assert (r.start, r.end) == (1000, 1003)
    assert r.read(1001, 10) == (1001, b"bc")


def test_shift_below_zero_is_refused() -> None:
    with pytest.raises(ValueError):
        Retention(8).shift(-1)


@pytest.mark.parametrize("capacity", [0, -5])
def test_capacity_must_be_positive(capacity: int) -> None:
    with pytest.raises(ValueError):
        Retention(capacity)


@given(
    st.integers(min_value=1, max_value=64),
    st.lists(st.binary(max_size=40), max_size=30),
)
def test_buffer_always_holds_the_newest_bytes_of_the_stream(
    capacity: int, chunks: list[bytes]
) -> None:
    r = Retention(capacity)
    stream = b""
    for chunk in chunks:
        r.append(chunk)
        stream += chunk
    assert r.end == len(stream)
    assert r.start == max(0, len(stream) - capacity)
    assert r.dropped == r.start
    assert r.read(0, 10**6) == (r.start, stream[r.start :])


@given(
    st.integers(min_value=1, max_value=64),
    st.integers(min_value=0, max_value=100),
    st.lists(st.binary(max_size=90), max_size=40),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 100)), min_size=1, max_size=5),
)
def test_ring_reads_match_the_stream_at_every_offset_after_any_shift(
    capacity: int, shift: int, chunks: list[bytes], reads: list[tuple[int, int]]
) -> None:
    """The ring wraps around: every read equals the same slice of the plain stream."""
    r = Retention(capacity)
    r.shift(shift)
    stream = b""
    for chunk in chunks:
        r.append(chunk)
        stream += chunk
        for offset, size in reads:
            first = max(offset, r.start)
            want = stream[first - shift : first - shift + size] if first < r.end else b""
            assert r.read(offset, size) == (min(first, r.end), want)
    assert len(r) == min(capacity, len(stream))


@given(
    st.integers(min_value=1, max_value=64),
    st.lists(st.binary(max_size=90), max_size=40),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 100)), min_size=1, max_size=5),
    st.binary(max_size=12),
)
def test_a_read_with_a_prefix_is_the_prefix_and_the_same_bytes_and_span_says_where(
    capacity: int, chunks: list[bytes], reads: list[tuple[int, int]], prefix: bytes
) -> None:
    """The link builds its frames with ``prefix`` (the header) and sizes them with
    ``span``, in the linear buffer and across the ring's wrap alike."""
    r = Retention(capacity)
    for chunk in chunks:
        r.append(chunk)
        for offset, size in reads:
            first, data = r.read(offset, size)
            assert r.span(offset, size) == (first, len(data))
            assert r.read(offset, size, prefix=prefix) == (first, prefix + data)
