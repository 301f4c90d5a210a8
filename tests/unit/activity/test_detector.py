"""The detector fed by hand: settling, bursts, echo, fusion of sources, decisions."""

from __future__ import annotations

from agent_sidecar.activity.detector import Detector
from agent_sidecar.activity.model import Activity, Claim
from agent_sidecar.activity.process import ProcessSample


def now(d: Detector) -> Activity:
    """The current activity (a call: mypy does not narrow it across ticks)."""
    assert d.activity is not None
    return d.activity


def run(d: Detector, t0: float, t1: float, step: float = 0.05) -> None:
    t = t0
    while t <= t1:
        d.tick(t)
        t += step


def test_a_question_is_reported_once_the_screen_settles() -> None:
    d = Detector("other", cols=40, rows=5)
    d.output(0.0, b"Deploy now? [y/N] ")
    assert d.tick(0.1) is not None  # output flows: working (from output timing)
    assert d.activity is not None
    assert now(d).state == "working"
    run(d, 0.2, 1.0)
    assert now(d).state == "waiting"
    assert now(d).reason == "confirm"
    assert now(d).source == "screen"
    assert [(o.label, o.keys) for o in now(d).options or ()] == [("Yes", "y\r"),
                                                                   ("No", "n\r")]


def test_next_tick_is_never_in_the_past_even_during_a_burst() -> None:
    d = Detector("other")
    t = 0.0
    for _ in range(2000):  # 8 MB in 4 KB chunks, no time passing: a burst
        d.output(t, b"x" * 4096)
        t += 0.0001
    assert d.screen.in_burst()
    for now in (t, t + 0.5, t + 5.0):
        due = d.next_tick(now)
        assert due is not None
        assert due >= now + 0.05


def test_after_a_burst_the_screen_skips_to_its_latest_state() -> None:
    d = Detector("other", cols=20, rows=3)
    for i in range(100_000):
        d.output(0.0, b"line %d\r\n" % i)
    d.output(0.0, b"Password: ")
    run(d, 0.1, 1.0)
    assert d.screen.skipped_bytes > 0
    assert d.activity is not None
    assert (now(d).state, now(d).reason) == ("waiting", "password")


def test_typed_text_never_reaches_a_password_prompt() -> None:
    d = Detector("other", cols=60, rows=5)
    d.output(0.0, b"Enter API key: ")
    run(d, 0.0, 1.0)
    d.input(1.0)
    d.output(1.0, b"sk-secret-typed")  # a field that echoes
    run(d, 1.0, 2.0)
    assert d.activity is not None
    assert now(d).reason == "password"
    assert now(d).prompt == "Enter API key:"


def test_the_echo_of_typing_is_not_work() -> None:
    d = Detector("shell", cols=40, rows=5)
    d.output(0.0, b"$ ")
    run(d, 0.0, 3.0)
    assert d.activity is not None
    assert now(d).state == "idle"
    for i, ch in enumerate(b"ls -l"):
        d.input(3.0 + i * 0.1)
        d.output(3.0 + i * 0.1 + 0.01, bytes([ch]))
        d.tick(3.0 + i * 0.1 + 0.02)
        assert now(d).state == "idle"


def test_an_interrupt_without_a_stop_hook_is_corrected_by_the_screen() -> None:
    d = Detector("claude", cols=60, rows=8)
    d.hook(Claim("working", "hook", 1.0))
    d.tick(1.0)
    assert d.activity is not None
    assert now(d).state == "working"
    rule = "─" * 40
    d.output(2.0, f"\x1b[H\x1b[2J{rule}\r\n\u276f \r\n{rule}\r\n".encode())
    run(d, 2.0, 3.0)
    assert now(d).state == "idle"
    assert now(d).source == "screen"


def test_a_held_decision_wins_and_goes_when_settled() -> None:
    d = Detector("claude")
    d.decision(Claim("waiting", "hook", 1.0, reason="permission", prompt="Bash: ls",
                     decision_id="d-1"))
    d.tick(1.0)
    assert d.activity is not None
    assert now(d).decision_id == "d-1"
    d.decision(None)
    d.hook(Claim("working", "hook", 2.0))
    d.tick(2.0)
    assert (now(d).state, now(d).decision_id) == ("working", None)


def test_a_shell_job_that_does_not_read_is_working_by_the_process() -> None:
    d = Detector("shell", cols=40, rows=5)
    d.output(0.0, b"$ sleep 30\r\n")
    run(d, 0.0, 3.0)
    d.process(ProcessSample(3.0, 200, False, False, False, 0, "sleep"))
    d.process(ProcessSample(4.0, 200, False, False, False, 0, "sleep"))
    d.tick(4.0)
    assert d.activity is not None
    assert (now(d).state, now(d).source) == ("working", "process")


def test_output_after_the_last_process_sample_outranks_that_sample() -> None:
    # A shell sampled at its prompt, then a loop that prints for seconds: the sampler
    # waits while output flows, and its last word (idle) must not stand for the loop.
    d = Detector("shell", cols=40, rows=5)
    d.output(0.0, b"$ ")
    run(d, 0.0, 1.5)
    d.process(ProcessSample(1.5, 100, True, True, False, 0, "bash"))
    d.tick(1.5)
    assert (now(d).state, now(d).source) == ("idle", "process")
    t = 3.0
    while t < 9.0:
        d.output(t, b"tick\r\n")
        d.tick(t)
        t += 0.3
    assert (now(d).state, now(d).source) == ("working", "output")
    # Quiet again, sampled again at the prompt: idle (the fresh sample is kept).
    d.output(9.0, b"$ ")
    d.process(ProcessSample(10.2, 100, True, True, False, 0, "bash"))
    run(d, 10.2, 10.5)
    assert now(d).state == "idle"
    assert d.claims.process is not None
    assert d.claims.process.state == "idle"


def test_a_spinner_that_never_pauses_is_still_read_from_the_screen() -> None:
    """Gemini CLI redraws its whole prompt area with each spinner frame (13-20 KB/s) and
    never settles: the screen must still be read, or an idle screen from before the
    prompt was sent keeps winning over the output while the agent thinks."""
    d = Detector("gemini", cols=80, rows=12)
    d.output(0.0, b"\x1b[2J\x1b[H Tips for getting started:\r\n\r\n"
                  b" >   Type your message or @path/to/file\r\n")
    run(d, 0.1, 1.0)
    assert (now(d).state, now(d).source) == ("idle", "screen")
    frames = "|/-\\"
    t = 1.0
    while t < 8.0:  # every 50 ms ~1 KB: the prompt area redrawn, as Ink does, 8 times
        redraw = (f"\x1b[H\x1b[2B\x1b[J {frames[int(t * 20) % 4]} Thinking... "
                  f"(esc to cancel, {int(t)}s)\r\n"
                  " >   Type your message or @path/to/file" + " " * 30 + "\r\n")
        d.output(t, (redraw * 8).encode())
        d.tick(t)
        t += 0.05
    assert (now(d).state, now(d).source) == ("working", "screen")
