"""The activity detector's settings (part of ``RunConfig``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError


@dataclass(frozen=True, slots=True)
class ActivityConfig:
    #: Detect activity at all (screen, escapes, process, hooks).
    enabled: bool = True
    #: Inject the agents' hooks for this run (``--no-agent-hooks`` turns it off).
    hooks: bool = True
    #: How long a permission request waits for a dashboard before the terminal gets it.
    decision_timeout: float = 120.0
    #: At most one ``agent:activity`` per this many seconds (the latest one wins).
    min_interval: float = 0.25
    #: Process samples this often (shells and other programs; agents have hooks).
    process_interval: float = 1.0

    def __post_init__(self) -> None:
        for name in ("decision_timeout", "min_interval", "process_interval"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}")
