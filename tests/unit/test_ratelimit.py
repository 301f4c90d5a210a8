"""The token bucket, driven by a fake clock."""

from __future__ import annotations

import pytest

from relay.handlers.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_a_burst() -> None:
    bucket = TokenBucket(50, 200, Clock())
    assert all(bucket.take() == 0.0 for _ in range(200))


def test_past_the_burst_take_returns_the_wait() -> None:
    bucket = TokenBucket(50, 200, Clock())
    for _ in range(200):
        bucket.take()
    assert bucket.take() == pytest.approx(1 / 50)


def test_tokens_refill_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(50, 200, clock)
    for _ in range(200):
        bucket.take()
    clock.now += 0.5
    assert [bucket.take() == 0.0 for _ in range(26)] == [True] * 25 + [False]


def test_refill_stops_at_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(10, 3, clock)
    clock.now += 1000
    assert bucket.tokens == 3


def test_a_refused_take_spends_nothing() -> None:
    clock = Clock()
    bucket = TokenBucket(1, 1, clock)
    bucket.take()
    for _ in range(5):
        assert bucket.take() > 0
    clock.now += 1.0
    assert bucket.take() == 0.0


def test_a_clock_going_backwards_adds_no_tokens() -> None:
    clock = Clock()
    bucket = TokenBucket(1, 1, clock)
    bucket.take()
    clock.now -= 50
    assert bucket.take() > 0


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_bad_parameters_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must"):
        TokenBucket(rate, burst)
