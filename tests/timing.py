"""One scaling factor for every time limit of the tests.

A loaded 2-core CI machine is slower than a laptop. ``AGENT_SIDECAR_TEST_TIMEOUT_SCALE``
(a positive number, default 1) multiplies every deadline the tests wait under: the
``asyncio.timeout`` waits (:func:`deadline`), the ``WAIT``-style constants and helper
defaults (:func:`scaled`), Playwright's timeouts and pytest-timeout's per-test limit
(tests/conftest.py). It never changes what is tested: timeouts that are part of the
behaviour under test (a relay's ``hello_timeout``, a sidecar's ``drain_timeout``) stay
as written.
"""

from __future__ import annotations

import asyncio
import os

ENV = "AGENT_SIDECAR_TEST_TIMEOUT_SCALE"


def scale() -> float:
    raw = os.environ.get(ENV, "1")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{ENV} must be a positive number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{ENV} must be a positive number, got {raw!r}")
    return value


def scaled(seconds: float) -> float:
    """``seconds`` times the scale: for a limit on how long a test waits."""
    return seconds * scale()


def deadline(seconds: float | None) -> asyncio.Timeout:
    """``asyncio.timeout(scaled(seconds))``: the way a test bounds a wait (None: the
    wait has no bound of its own, e.g. a reader that runs as long as its test)."""
    return asyncio.timeout(None if seconds is None else scaled(seconds))
