"""Reconnection backoff: a pure function of the attempt number and a random draw."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_sidecar.backoff import BackoffPolicy, backoff_delay
from agent_sidecar.errors import UsageError

POLICY = BackoffPolicy(initial=0.5, maximum=30.0, factor=2.0, jitter=0.5)


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (0, 0.0, 0.5),
        (1, 0.0, 1.0),
        (2, 0.0, 2.0),
        (5, 0.0, 16.0),
        (6, 0.0, 30.0),  # 32 capped at the maximum
        (100, 0.0, 30.0),
        (0, 1.0, 0.25),  # full jitter halves the delay with jitter=0.5
        (6, 1.0, 15.0),
        (3, 0.5, 3.0),
    ],
)
def test_delay_table(attempt: int, rand: float, expected: float) -> None:
    assert backoff_delay(POLICY, attempt, rand) == pytest.approx(expected)


def test_delay_never_overflows_on_a_very_long_outage() -> None:
    assert backoff_delay(POLICY, 10**9, 0.0) == 30.0
    assert backoff_delay(BackoffPolicy(factor=10.0), 400, 0.0) == 30.0


def test_no_jitter_gives_the_nominal_delay() -> None:
    policy = BackoffPolicy(initial=1.0, maximum=8.0, jitter=0.0)
    assert [backoff_delay(policy, a, 0.9) for a in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]


@given(st.integers(min_value=0, max_value=10_000), st.floats(min_value=0, max_value=1))
def test_delay_is_within_bounds(attempt: int, rand: float) -> None:
    delay = backoff_delay(POLICY, attempt, rand)
    assert POLICY.initial * (1 - POLICY.jitter) <= delay <= POLICY.maximum


@given(st.integers(min_value=0, max_value=60), st.floats(min_value=0, max_value=1))
def test_nominal_delay_never_decreases_with_attempts(attempt: int, rand: float) -> None:
    assert backoff_delay(POLICY, attempt, rand) <= backoff_delay(POLICY, attempt + 1, rand)


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": -1.0}, {"initial": 5.0, "maximum": 1.0}, {"factor": 0.5}, {"jitter": 1.5}],
)
def test_invalid_policy_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        BackoffPolicy(**kwargs)


@pytest.mark.parametrize(("attempt", "rand"), [(-1, 0.0), (0, -0.1), (0, 1.1)])
def test_invalid_arguments_are_refused(attempt: int, rand: float) -> None:
    with pytest.raises(ValueError):
        backoff_delay(POLICY, attempt, rand)
