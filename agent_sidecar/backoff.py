"""Reconnection delays: exponential backoff with jitter, as a pure function."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """``initial * factor**attempt`` capped at ``maximum``, then jittered down.

    ``jitter`` is the fraction of the delay that is random: with 0.5 a nominal delay of
    8 s becomes a delay between 4 s and 8 s, so sidecars that lost the same relay at the
    same moment do not come back in lockstep.
    """

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < self.initial:
            raise UsageError(
                f"backoff needs 0 <= initial <= maximum, got {self.initial} and {self.maximum}"
            )
        if self.factor < 1:
            raise UsageError(f"backoff factor must be at least 1, got {self.factor}")
        if not 0 <= self.jitter <= 1:
            raise UsageError(f"backoff jitter must be between 0 and 1, got {self.jitter}")


def backoff_delay(policy: BackoffPolicy, attempt: int, rand: float) -> float:
    """Seconds to wait before reconnection attempt ``attempt`` (0 = the first retry).

    ``rand`` is a number in [0, 1) supplied by the caller (``random.random()``), which
    keeps this function pure and its tests deterministic.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if not 0 <= rand <= 1:
        raise ValueError(f"rand must be in [0, 1], got {rand}")
    # Cap the exponent first so that a long outage cannot overflow a float.
    nominal = policy.maximum
    if policy.factor == 1 or attempt < 1024:
        try:
            nominal = min(policy.maximum, policy.initial * policy.factor**attempt)
        except OverflowError:
            nominal = policy.maximum
    return nominal * (1 - policy.jitter * rand)
