"""Fusion: one activity from what each source claims.

Hooks give edges (a turn started, a permission is asked, the turn ended); the screen
and the process correct what hooks miss (no ``Stop`` after an interrupt; a
``Notification`` that is not a question). The order of precedence:

1. a permission request the sidecar holds open (a ``decision_id``): waiting, permission;
2. a waiting screen (a dialog or prompt is visible), unless it is a guess from words
   alone (``generic``) and the process says a program is running and not reading, or
   the program reports progress (OSC 9;4);
3. otherwise the newest claim among hook, screen, escape and process (each source's
   claim carries the time it began);
4. output timing, when nothing else has an opinion: working while output flows;
5. unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .model import Claim


@dataclass
class Claims:
    """Each source's current claim (None: no opinion)."""

    decision: Claim | None = None
    hook: Claim | None = None
    screen: Claim | None = None
    screen_generic: bool = False
    escape: Claim | None = None
    process: Claim | None = None
    output: Claim | None = None


def fuse(c: Claims) -> Claim | None:
    """The claim that wins, or None (unknown)."""
    if c.decision is not None:
        screen = c.screen
        if screen is not None and screen.state == "waiting" and screen.options:
            return replace(c.decision, options=screen.options)
        return c.decision
    screen = c.screen
    progress = c.escape is not None and c.escape.state == "working"
    vetoed = (
        screen is not None
        and c.screen_generic
        and (progress or (c.process is not None and c.process.state == "working"))
    )
    if screen is not None and screen.state == "waiting" and not vetoed:
        hook = c.hook
        if hook is not None and hook.state == "waiting" and hook.prompt and screen.reason in (
            hook.reason, "menu"
        ):
            return replace(hook, options=screen.options or hook.options)
        return screen
    candidates = [x for x in (c.hook, None if vetoed else screen, c.escape, c.process)
                  if x is not None]
    if candidates:
        best = max(candidates, key=lambda x: x.at)
        if best.state == "waiting" and best.source == "process" and c.escape is not None \
                and c.escape.state == "waiting":
            return c.escape  # same verdict; the escape says it in words
        return best
    return c.output

