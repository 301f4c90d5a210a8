"""EscapeScanner: notifications, bell and progress, also cut between chunks; bounded."""

from __future__ import annotations

import pytest

from agent_sidecar.activity.escapes import EscapeEvent, EscapeScanner

CASES = [
    (b"\x1b]9;Build done\x07", [EscapeEvent("notify", text="Build done")]),
    (b"\x1b]9;Build done\x1b\\", [EscapeEvent("notify", text="Build done")]),
    (b"\x1b]777;notify;Deploy;Needs approval\x07",
     [EscapeEvent("notify", text="Deploy: Needs approval")]),
    (b"\x1b]99;;Hello from kitty\x1b\\", [EscapeEvent("notify", text="Hello from kitty")]),
    (b"\x1b]99;i=1:d=0;Title part\x1b\\", []),  # more chunks to come
    (b"\x1b]9;4;1;45\x07", [EscapeEvent("progress", progress_state=1, percent=45)]),
    (b"\x1b]9;4;0;0\x07", [EscapeEvent("progress", progress_state=0, percent=0)]),
    (b"ding\x07", [EscapeEvent("bell")]),
    (b"\x1b]0;window title\x07$ ", []),  # a title ends with BEL: not a bell
    (b"\x1b]777;preexec\x07", []),
    (b"plain output\r\n", []),
]


@pytest.mark.parametrize(("data", "events"), CASES)
def test_escapes_are_found(data: bytes, events: list[EscapeEvent]) -> None:
    assert EscapeScanner().feed(data) == events


@pytest.mark.parametrize(("data", "events"), CASES)
def test_escapes_cut_anywhere_between_chunks_are_found(
    data: bytes, events: list[EscapeEvent]
) -> None:
    for cut in range(1, len(data)):
        scanner = EscapeScanner()
        assert scanner.feed(data[:cut]) + scanner.feed(data[cut:]) == events, cut


def test_a_flood_of_bells_is_one_bell_per_chunk() -> None:
    scanner = EscapeScanner()
    assert scanner.feed(b"\x07" * 10_000) == [EscapeEvent("bell")]


def test_a_flood_of_notifications_is_bounded_per_chunk() -> None:
    scanner = EscapeScanner(max_events=16)
    assert len(scanner.feed(b"\x1b]9;hey\x07" * 1000)) == 16
    assert scanner.dropped == 1000 - 16


def test_an_escape_inside_an_osc_aborts_it_like_xterm() -> None:
    scanner = EscapeScanner()
    assert scanner.feed(b"\x1b]9;never ended\x1b[0m text \x1b]9;done\x07") == [
        EscapeEvent("notify", text="done")]


def test_an_endless_osc_is_dropped_and_its_terminator_is_no_bell() -> None:
    scanner = EscapeScanner(max_osc=100)
    assert scanner.feed(b"\x1b]9;" + b"x" * 1000) == []
    assert scanner.feed(b"y" * 1000 + b"\x07after") == []
    assert scanner.feed(b"\x07") == [EscapeEvent("bell")]
