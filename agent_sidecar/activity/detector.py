"""The detector: every source in, one activity out. Sans-I/O: the caller passes times.

    d = Detector("claude", cols=80, rows=24)
    d.output(t, data)          # each chunk of PTY output (cheap: see screen.py)
    d.input(t)                 # someone typed (its echo is not the program working)
    d.hook(t, claim)           # an agent's own event, already mapped to a claim
    d.decision(claim | None)   # a held permission request opened or settled
    d.process(sample)          # a process sample (process.py)
    d.tick(t) -> Activity | None   # the new activity when it changed
    d.next_tick(t) -> float | None # when to call tick again at the latest

The live sidecar drives it from the event loop (live.py); the corpus test drives it
from asciicast recordings with their own clock.
"""

from __future__ import annotations

from dataclasses import replace

from ..agents import AgentKind
from .escapes import EscapeEvent, EscapeScanner
from .fusion import Claims, fuse
from .model import (
    MAX_DETAIL,
    MAX_PROMPT,
    Activity,
    Claim,
    clean_options,
    clip,
)
from .process import ProcessSample, judge
from .rules import evaluate, last_meaningful_line
from .screen import ScreenModel, ScreenView

#: The shortest time between two evaluations (seconds).
_MIN_TICK = 0.05


class Detector:
    def __init__(
        self,
        kind: AgentKind,
        *,
        cols: int = 80,
        rows: int = 24,
        settle: float = 0.4,
        max_lag: float = 1.0,
        burst_lag: float = 3.0,
        output_quiet: float = 5.0,
        escape_expiry: int = 4096,
        echo_window: float = 0.5,
        sources: frozenset[str] | None = None,
        render_rate: float = 64 * 1024,
        detail_interval: float = 2.0,
    ) -> None:
        self.kind: AgentKind = kind
        self.screen = ScreenModel(cols, rows)
        self.escapes = EscapeScanner()
        self.claims = Claims()
        self._settle = settle
        self._max_lag = max_lag
        self._output_quiet = output_quiet
        #: While output streams in a burst (more queued than the screen takes at once),
        #: the screen is brought up to date at least this often: a TUI that redraws its
        #: spinner without a pause (Gemini CLI: ~12 KB/s) never settles.
        self._burst_lag = burst_lag
        self._escape_expiry = escape_expiry
        self._last_output: float | None = None
        self._last_work: float | None = None  # output that was not the echo of typing
        self._last_input = float("-inf")
        self._echo_window = echo_window
        #: Only these sources count (None: all); for measuring each source alone.
        self._sources = sources
        #: A change of the detail line alone is reported at most this often.
        self._detail_interval = detail_interval
        self._detail_at = float("-inf")
        self._detail_due: float | None = None
        #: Bytes the screen may render per second (a token bucket): bounds its CPU.
        self._render_rate = render_rate
        self._render_allowance = render_rate
        self._render_at: float | None = None
        self._first_pending: float | None = None
        self._since_escape = 0
        self._prev_sample: ProcessSample | None = None
        self._use_process = kind in ("shell", "other", "aider")
        self.activity: Activity | None = None
        self.view: ScreenView | None = None

    # ------------------------------------------------------------------ inputs

    @property
    def last_output(self) -> float:
        """When the last output came (-inf before any)."""
        return self._last_output if self._last_output is not None else float("-inf")

    @property
    def output_pending(self) -> bool:
        """Output came that no tick has looked at yet (``next_tick`` is sooner then)."""
        return self._first_pending is not None

    def input(self, t: float) -> None:
        self._last_input = t

    def output(self, t: float, data: bytes) -> None:
        self.screen.push(data)
        self._last_output = t
        if t - self._last_input > self._echo_window or len(data) > 256:
            self._last_work = t
        if self._first_pending is None:
            self._first_pending = t
        events = self.escapes.feed(data)
        if events:
            for event in events:
                self._escape(t, event)
        elif self.claims.escape is not None:
            self._since_escape += len(data)
            if self._since_escape > self._escape_expiry and self.claims.escape.state == "waiting":
                self.claims.escape = None

    def _escape(self, t: float, event: EscapeEvent) -> None:
        self._since_escape = 0
        if event.kind == "notify":
            self.claims.escape = Claim("waiting", "escape", t, reason="other",
                                       prompt=clip(event.text, MAX_PROMPT))
        elif event.kind == "bell":
            if self.claims.escape is None or self.claims.escape.state != "waiting":
                self.claims.escape = Claim("waiting", "escape", t, reason="other")
        elif event.progress_state:
            pct = f" {event.percent}%" if event.percent is not None else ""
            self.claims.escape = self._keep_at(
                self.claims.escape, Claim("working", "escape", t, detail=f"progress{pct}"))
        elif self.claims.escape is not None and self.claims.escape.state == "working":
            self.claims.escape = None

    def hook(self, claim: Claim | None) -> None:
        self.claims.hook = None if claim is None else self._keep_at(self.claims.hook, claim)

    def decision(self, claim: Claim | None) -> None:
        self.claims.decision = claim

    def process(self, sample: ProcessSample) -> None:
        if not self._use_process:
            return
        state = judge(self._prev_sample, sample, self.kind == "shell")
        self._prev_sample = sample
        if state is None:
            self.claims.process = None
            return
        claim = Claim(state, "process", sample.at)
        if state == "waiting":
            claim = Claim("waiting", "process", sample.at, reason="other",
                          prompt=self._last_line())
        self.claims.process = self._keep_at(self.claims.process, claim)

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(cols, rows)

    # ------------------------------------------------------------------ evaluation

    def next_tick(self, t: float) -> float | None:
        """The latest time ``tick`` should run (None: only after new input)."""
        times = []
        if self._first_pending is not None and self._last_output is not None:
            settled = self._last_output + self._settle
            if self.screen.in_burst():
                # Not rendered mid-burst, unless the burst goes on for burst_lag.
                times.append(min(settled, self._first_pending + self._burst_lag))
            else:
                times.append(min(settled, self._first_pending + self._max_lag))
        if self.claims.output is not None and self._last_work is not None:
            times.append(self._last_work + self._output_quiet)
        if self._detail_due is not None:
            times.append(self._detail_due)
        # Never sooner than a tick from now: a timer due in the past must not spin.
        return max(min(times), t + _MIN_TICK) if times else None

    def tick(self, t: float) -> Activity | None:
        """Bring the screen up to date if due, fuse, and return the activity if it changed."""
        self._screen_due(t)
        quiet = self._last_work is None or t - self._last_work >= self._output_quiet
        self.claims.output = None if quiet else self._keep_at(
            self.claims.output, Claim("working", "output", self._last_work or t))
        sample = self._prev_sample
        if (self.claims.process is not None and sample is not None
                and self._last_work is not None and sample.at < self._last_work):
            # The process is not sampled while output flows (live.py), so this is what it
            # did before that output (a shell at its prompt, a program reading): stale.
            self.claims.process = None
        return self._update(t)

    def _screen_due(self, t: float) -> None:
        if self._first_pending is None or self._last_output is None:
            return
        settled = t - self._last_output >= self._settle
        waited = t - self._first_pending
        lagging = waited >= self._burst_lag or (
            waited >= self._max_lag and not self.screen.in_burst())
        if not (settled or lagging):
            return
        self._first_pending = None
        if self._render_at is not None:
            self._render_allowance = min(
                self._render_rate,
                self._render_allowance + (t - self._render_at) * self._render_rate)
        self._render_at = t
        limit = max(4096, int(self._render_allowance))
        pending = self.screen.pending
        if not self.screen.catch_up(limit):
            return
        self._render_allowance -= min(pending, limit)
        view = self.screen.view()
        self.view = view
        found = evaluate(view, self.kind)
        if found is None:
            self.claims.screen = None
            return
        claim = Claim(found.state, "screen", t, reason=found.reason,
                      prompt=clip(found.prompt, MAX_PROMPT) if found.state == "waiting" else None,
                      options=clean_options(found.options) if found.state == "waiting" else None,
                      detail=clip(found.detail, MAX_DETAIL))
        self.claims.screen = self._keep_at(self.claims.screen, claim)
        self.claims.screen_generic = found.generic

    def _update(self, t: float) -> Activity | None:
        claims = self.claims
        if self._sources is not None:
            keep = self._sources

            def only(c: Claim | None) -> Claim | None:
                return c if c is not None and c.source in keep else None

            claims = Claims(only(claims.decision), only(claims.hook), only(claims.screen),
                            claims.screen_generic, only(claims.escape), only(claims.process),
                            only(claims.output))
        won = fuse(claims)
        prev = self.activity
        if won is None:
            state, source = "unknown", "output"
            new = Activity("unknown", t, self.kind, "output")
        else:
            state, source = won.state, won.source
            waiting = state == "waiting"
            new = Activity(
                state, t, self.kind, source,
                reason=won.reason if waiting else None,
                prompt=won.prompt if waiting else None,
                options=won.options if waiting else None,
                decision_id=won.decision_id if waiting and won.reason == "permission" else None,
                detail=won.detail,
            )
        if new.detail is None and state != "waiting" and self.view is not None:
            # What a fleet view shows as the agent's line: the rendered screen's last
            # meaningful line (never raw bytes: no erased lines, no spinner frames).
            new = replace(new, detail=clip(last_meaningful_line(self.view), MAX_DETAIL))
        if prev is not None and prev.state == state:
            if prev.key() == new.key():
                return None
            if replace(prev, detail=new.detail).key() == new.key() and \
                    t - self._detail_at < self._detail_interval:
                # Only the line changed, and it did a moment ago: report it later.
                self._detail_due = self._detail_at + self._detail_interval
                return None
            new = _with_since(new, prev.since)
        self._detail_due = None
        if prev is None or new.detail != prev.detail:
            self._detail_at = t
        self.activity = new
        del source
        return new

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _keep_at(prev: Claim | None, claim: Claim) -> Claim:
        """``claim``, dated from ``prev`` when the state did not change (an edge keeps its time)."""
        if prev is not None and prev.state == claim.state and prev.source == claim.source:
            return _claim_at(claim, prev.at)
        return claim

    def _last_line(self) -> str | None:
        view = self.view
        if view is None:
            return None
        row = view.last_text_row()
        return clip(view.lines[row], MAX_PROMPT) if row >= 0 else None


def _claim_at(claim: Claim, at: float) -> Claim:
    return Claim(claim.state, claim.source, at, claim.reason, claim.prompt, claim.options,
                 claim.detail, claim.decision_id)


def _with_since(a: Activity, since: float) -> Activity:
    return Activity(a.state, since, a.agent_kind, a.source, a.reason, a.prompt, a.options,
                    a.decision_id, a.detail)
