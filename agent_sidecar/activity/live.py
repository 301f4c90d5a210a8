"""The detector in a running sidecar: timers, the hook socket, decisions, process samples.

The runner calls ``output(data)`` for every chunk the PTY gives (cheap: see screen.py),
``keys(data)`` for local keystrokes, ``resize`` and ``decide`` for control messages, and
gets each new activity through ``send``. Changes are sent at most every
``min_interval`` seconds (the latest one wins), so a flood of hooks or escapes cannot
flood the relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..agents import AgentKind
from .decisions import Decision, Decisions, StaleDecision
from .detector import Detector
from .hooks.events import claim_for, decision_output, permission_ask
from .hooks.hookcall import SECRET_ENV, SOCKET_ENV
from .hooks.inject import plan, write_files
from .hooks.server import HookServer
from .model import Activity, Claim
from .process import probe
from .settings import ActivityConfig

log = logging.getLogger(__name__)

#: A settled screen this much newer than a held request means the agent moved on.
_SETTLED = 0.5


def _private_base() -> str | None:
    """Where the run's private directory goes: ``$XDG_RUNTIME_DIR``, else
    ``~/.cache/agent-sidecar`` (a home is not writable by others, /tmp is)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return runtime
    try:
        base = Path.home() / ".cache" / "agent-sidecar"
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        return str(base)
    except (OSError, RuntimeError):
        return None


class ActivityMonitor:
    def __init__(
        self,
        kind: AgentKind,
        send: Callable[[Activity], None],
        config: ActivityConfig,
        *,
        cols: int = 80,
        rows: int = 24,
    ) -> None:
        self.kind: AgentKind = kind
        self.config = config
        self.detector = Detector(kind, cols=cols, rows=rows)
        self.decisions = Decisions()
        self._send = send
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._sent_at = 0.0
        self._unsent: Activity | None = None
        self._flush: asyncio.TimerHandle | None = None
        self._sampler: asyncio.TimerHandle | None = None
        self._server: HookServer | None = None
        self._dir: Path | None = None
        self._fd: int | None = None
        self._pid: int | None = None
        self.hooks_injected = False
        self._emit(Activity("unknown", time.time(), kind, "output"))

    # ------------------------------------------------------------------ lifecycle

    async def prepare(self, argv: Sequence[str], env: Mapping[str, str]
                      ) -> tuple[list[str], dict[str, str]]:
        """The command line and environment with this run's hooks wired in."""
        argv, env = list(argv), dict(env)
        if not self.config.hooks or self.kind not in ("claude", "codex", "gemini"):
            return argv, env
        self._dir = Path(tempfile.mkdtemp(prefix="agent-sidecar-hooks-", dir=_private_base()))
        os.chmod(self._dir, 0o700)
        injection = plan(self.kind, argv, env, self._dir,
                         hold_seconds=self.config.decision_timeout)
        if injection is None:
            return argv, env
        secret = secrets.token_urlsafe(32)
        self._server = HookServer(self._dir, secret, self._on_hook)
        await self._server.start()
        write_files(injection)
        env.update(injection.env)
        env[SOCKET_ENV] = str(self._server.path)
        env[SECRET_ENV] = secret
        self.hooks_injected = True
        log.info("hooks injected for %s", self.kind)
        return injection.argv, env

    def started(self, master_fd: int, pid: int) -> None:
        self._fd, self._pid = master_fd, pid
        if self.kind in ("shell", "other", "aider"):
            self._sampler = self._loop.call_later(self.config.process_interval, self._sample)

    async def close(self) -> None:
        for handle in (self._timer, self._flush, self._sampler):
            if handle is not None:
                handle.cancel()
        self._timer = self._flush = self._sampler = None
        self.decisions.close_all()
        if self._server is not None:
            await self._server.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def next_look(self) -> float | None:
        """When (``time.time()``) the monitor looks at the agent next (None: not armed)."""
        return self._timer_at if self._timer is not None else None

    # ------------------------------------------------------------------ the seams

    def output(self, data: bytes) -> None:
        """One chunk of PTY output (the hot path: an append and a timer at most)."""
        first = not self.detector.output_pending
        self.detector.output(time.time(), data)
        if self._timer is None or first:
            # The first output since the last look may need a tick sooner than the one
            # armed (e.g. for the end of "working" 5 s after the last output).
            self._schedule()

    def typed(self) -> None:
        """Keys went to the program (local or from a dashboard): their echo is no work."""
        self.detector.input(time.time())

    def resize(self, cols: int, rows: int) -> None:
        self.detector.resize(cols, rows)

    def decide(self, decision_id: str, decision: Decision, message: str | None
               ) -> asyncio.Future[None]:
        """Answer a held permission request; raises StaleDecision when it is not held."""
        return self.decisions.answer(decision_id, decision, message)

    # ------------------------------------------------------------------ evaluation

    def _schedule(self) -> None:
        now = time.time()
        due = self.detector.next_tick(now)
        if due is None:
            return
        if self._timer is not None:
            if self._timer_at <= due:
                return
            self._timer.cancel()
        self._timer_at = due
        self._timer = self._loop.call_later(max(0.0, due - now), self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._evaluate()
        self._schedule()

    def _evaluate(self) -> None:
        changed = self.detector.tick(time.time())
        if changed is not None:
            self._emit(changed)
        self._answered_elsewhere()

    def _answered_elsewhere(self) -> None:
        """A held request the person answered in the terminal: the agent's dialog is gone
        from a settled screen (working or idle since after the request), or the agent
        sent a later event (a tool ran, the turn ended). Withdraw it."""
        if self.decisions.current() is None:
            return
        claims = self.detector.claims
        moved_on = []
        if claims.screen is not None and claims.screen.state in ("working", "idle"):
            moved_on.append(claims.screen.at - _SETTLED)
        if claims.hook is not None and claims.hook.state in ("working", "idle"):
            moved_on.append(claims.hook.at)
        if moved_on and self.decisions.withdraw(before=max(moved_on)) > 0:
            log.info("permission request answered in the terminal: withdrawn")

    def _emit(self, activity: Activity) -> None:
        now = time.monotonic()
        wait = self._sent_at + self.config.min_interval - now
        if wait > 0 and self._sent_at:
            self._unsent = activity
            if self._flush is None:
                self._flush = self._loop.call_later(wait, self._flush_unsent)
            return
        self._sent_at = now
        self._send(activity)

    def _flush_unsent(self) -> None:
        self._flush = None
        activity, self._unsent = self._unsent, None
        if activity is not None:
            self._sent_at = time.monotonic()
            self._send(activity)

    def _sample(self) -> None:
        self._sampler = None
        if self._fd is None or self._pid is None:
            return
        now = time.time()
        if now - self.detector.last_output < self.config.process_interval:
            # Output is flowing: it says enough, and a burst is no time to read /proc.
            self._sampler = self._loop.call_later(self.config.process_interval, self._sample)
            return
        sample = probe(self._fd, self._pid, now)
        if sample is not None:
            self.detector.process(sample)
            self._evaluate()
        self._sampler = self._loop.call_later(self.config.process_interval, self._sample)

    # ------------------------------------------------------------------ hooks

    async def _on_hook(self, agent: str, event: str, payload: dict[str, object]) -> str:
        now = time.time()
        ask = permission_ask(agent, event, payload)
        if ask is None:
            claim = claim_for(agent, event, payload, now)
            if claim is not None:
                self.detector.hook(claim)
                self._evaluate()
            return ""
        pending = self.decisions.open(ask.prompt, now)
        self.detector.hook(Claim("waiting", "hook", now, reason="permission", prompt=ask.prompt))
        self.detector.decision(Claim("waiting", "hook", now, reason="permission",
                                     prompt=ask.prompt, decision_id=pending.decision_id))
        self._evaluate()
        log.info("permission request held for a decision (%s)", ask.tool or "a tool")
        answer: tuple[Decision, str | None] | None = None
        try:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                answer = await asyncio.wait_for(asyncio.shield(pending.answer),
                                                self.config.decision_timeout)
            if answer is None:
                if not pending.answer.cancelled():
                    log.info("permission request not decided in time: back to the terminal")
                return ""
            decision, message = answer
            log.info("permission request answered: %s", decision)
            self.detector.hook(Claim("working", "hook",
                                     time.time()))
            return decision_output(decision, message)
        finally:
            self.detector.decision(None)
            if answer is not None and not pending.delivered.done():
                pending.delivered.set_result(None)
            self.decisions.close(pending.decision_id)
            self._evaluate()


__all__ = ["ActivityConfig", "ActivityMonitor", "StaleDecision"]
