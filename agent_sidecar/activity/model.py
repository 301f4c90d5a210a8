"""The detector's vocabulary: states, reasons, sources, options and a source's claim.

These mirror the wire's ``Activity`` (contract section 11) without importing it, so the
detector stays a pure library that tests drive with tables; ``wire.py`` converts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

from ..agents import AgentKind

State: TypeAlias = Literal["working", "waiting", "idle", "unknown"]
Reason: TypeAlias = Literal[
    "permission", "question", "confirm", "password", "menu", "login", "other"
]
Source: TypeAlias = Literal["hook", "escape", "screen", "process", "output"]

#: The contract's bound on ``prompt``.
MAX_PROMPT = 2000
MAX_DETAIL = 1000
MAX_OPTIONS = 32
MAX_LABEL = 200
MAX_KEYS = 64


@dataclass(frozen=True, slots=True)
class Option:
    """A choice on offer: what it says, and the keystrokes that choose it in the terminal."""

    label: str
    keys: str


@dataclass(frozen=True, slots=True)
class Claim:
    """What one source says the agent is doing, from ``at`` (seconds, the caller's clock)."""

    state: State
    source: Source
    at: float
    reason: Reason | None = None
    prompt: str | None = None
    options: tuple[Option, ...] | None = None
    detail: str | None = None
    decision_id: str | None = None

    def same_as(self, other: Claim | None) -> bool:
        """Equal in everything a person would see (the time aside)."""
        return other is not None and replace(other, at=self.at) == self


@dataclass(frozen=True, slots=True)
class Activity:
    """The fused answer: the wire's Activity with ``since`` on the caller's clock."""

    state: State
    since: float
    agent_kind: AgentKind
    source: Source
    reason: Reason | None = None
    prompt: str | None = None
    options: tuple[Option, ...] | None = None
    decision_id: str | None = None
    detail: str | None = None

    def key(self) -> tuple[object, ...]:
        """What makes two activities different for a person (``since`` aside)."""
        return (self.state, self.reason, self.prompt, self.options, self.decision_id,
                self.detail, self.source)


def clip(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters (with an ellipsis), None when empty."""
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_options(options: tuple[Option, ...] | None) -> tuple[Option, ...] | None:
    """Options within the wire's bounds: labels and keys non-empty and cut, at most 32."""
    if not options:
        return None
    out = []
    for opt in options[:MAX_OPTIONS]:
        label = clip(opt.label, MAX_LABEL)
        if label is None or not opt.keys or len(opt.keys) > MAX_KEYS:
            continue
        out.append(Option(label, opt.keys))
    return tuple(out) or None
