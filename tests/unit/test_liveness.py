"""The ping and dead-peer schedule of one connection (``relay.handlers.liveness``)."""

from __future__ import annotations

import math

from relay.handlers.liveness import Liveness


def test_a_quiet_peer_is_pinged_once_then_dead_without_a_pong() -> None:
    live = Liveness(100.0, ping_after=15.0, pong_within=7.5, dead_after=45.0)
    first = live.check(100.0)
    assert (first.ping, first.dead, first.next_at) == (False, None, 115.0)
    due = live.check(115.0)
    assert (due.ping, due.dead, due.next_at) == (True, None, 122.5)
    again = live.check(120.0)  # woken early: no second ping for the same silence
    assert (again.ping, again.dead, again.next_at) == (False, None, 122.5)
    dead = live.check(122.5)
    assert dead.dead == "no pong within 7.5 s"
    assert not dead.ping


def test_any_frame_answers_the_ping_and_restarts_the_quiet_time() -> None:
    live = Liveness(0.0, ping_after=15.0, pong_within=7.5, dead_after=45.0)
    assert live.check(15.0).ping
    live.heard(16.0)
    due = live.check(22.5)  # the timer set for the pong deadline fires: nothing is due
    assert (due.ping, due.dead, due.next_at) == (False, None, 31.0)
    assert live.check(31.0).ping


def test_a_busy_peer_is_never_pinged() -> None:
    live = Liveness(0.0, ping_after=15.0, pong_within=7.5, dead_after=45.0)
    at = live.check(0.0).next_at
    checks = 0
    for second in range(1, 200):  # a frame every second; the timer fires when it said
        live.heard(float(second))
        if second >= at:
            due = live.check(float(second))
            assert not due.ping
            assert due.dead is None
            assert due.next_at == second + 15.0
            at = due.next_at
            checks += 1
    assert checks == 13  # one timer wake-up per 15 s, not one per frame


def test_without_pings_the_silence_limit_alone_decides() -> None:
    live = Liveness(0.0, ping_after=None, pong_within=7.5, dead_after=45.0)
    assert live.check(0.0).next_at == 45.0
    assert live.check(44.9).dead is None
    assert live.check(45.0).dead == "no message or pong for 45 s"


def test_the_silence_limit_is_a_backstop_and_may_change() -> None:
    live = Liveness(0.0, ping_after=15.0, pong_within=60.0, dead_after=None)
    assert live.check(15.0).ping
    assert live.check(20.0).next_at == 75.0
    live.dead_after = 30.0  # the next receive asks for less
    due = live.check(20.0)
    assert due.next_at == 30.0
    assert live.check(30.0).dead == "no message or pong for 30 s"


def test_nothing_falls_due_without_pings_or_limit() -> None:
    live = Liveness(0.0, ping_after=None, pong_within=1.0)
    due = live.check(1e9)
    assert (due.ping, due.dead, due.next_at) == (False, None, math.inf)
