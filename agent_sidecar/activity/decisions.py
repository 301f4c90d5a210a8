"""Permission requests held open: one id each, answered once, never allowed by default.

A request is opened when the agent's PermissionRequest hook calls in. It ends in one of
four ways, whichever comes first: an answer (``permission:decide`` from a dashboard);
the hook going away; the agent moving on (the person answered its dialog in the
terminal: Claude Code 2.1 then leaves its hook running, so the sidecar sees it from the
screen or the next hook event and withdraws); or the hold timing out (the question
goes back to the terminal). Only an explicit answer produces a decision.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Literal

Decision = Literal["allow", "deny"]


class StaleDecision(Exception):
    """The decision id is not a request this run holds open (answered, gone or unknown)."""


@dataclass
class Pending:
    decision_id: str
    prompt: str
    answer: asyncio.Future[tuple[Decision, str | None]]
    #: When it was opened (the caller's clock).
    opened: float = 0.0
    #: Set once the answer reached the agent (or could not): the ack waits for it.
    delivered: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Decisions:
    """The requests held open, newest last."""

    def __init__(self) -> None:
        self._pending: dict[str, Pending] = {}

    def open(self, prompt: str, opened: float = 0.0) -> Pending:
        loop = asyncio.get_running_loop()
        pending = Pending(f"d-{secrets.token_urlsafe(12)}", prompt, loop.create_future(),
                          opened)
        self._pending[pending.decision_id] = pending
        return pending

    def close(self, decision_id: str) -> None:
        pending = self._pending.pop(decision_id, None)
        if pending is not None:
            if not pending.answer.done():
                pending.answer.cancel()
            if not pending.delivered.done():
                pending.delivered.set_exception(StaleDecision("stale_decision: the request ended"))
                pending.delivered.exception()  # retrieved: nobody may be waiting

    def answer(self, decision_id: str, decision: Decision, message: str | None
               ) -> asyncio.Future[None]:
        """Answer a held request; the future completes once the agent has the answer."""
        pending = self._pending.get(decision_id)
        if pending is None or pending.answer.done():
            raise StaleDecision("stale_decision: not a permission request this agent holds open")
        pending.answer.set_result((decision, message))
        return pending.delivered

    def current(self) -> Pending | None:
        for pending in reversed(self._pending.values()):
            if not pending.answer.done():
                return pending
        return None

    def withdraw(self, before: float) -> int:
        """Stop holding the requests opened before ``before``: they were answered in the
        terminal (the agent moved on). The hooks then answer nothing. Returns how many."""
        n = 0
        for pending in list(self._pending.values()):
            if pending.opened < before and not pending.answer.done():
                pending.answer.cancel()
                n += 1
        return n

    def close_all(self) -> None:
        for decision_id in list(self._pending):
            self.close(decision_id)
