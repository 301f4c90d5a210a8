"""Agents as a person reads them in a terminal: the table of ``agent-sidecar ls``.

Columns: AGENT (the id, then the name in brackets when it is another), STATE (with the
exit code), FOR (time in that state), ACTIVITY (what the agent is doing, and for how
long) and PROMPT (what a waiting agent asks, then its numbered options, the numbers
``agent-sidecar answer`` takes). Agents that need a person come first, then busy ones,
then the rest; ties by agent id.
"""

from __future__ import annotations

from collections.abc import Iterable

from relay.protocol import Activity, AgentInfo

_STATE_RANK = {"running": 0, "idle": 1, "disconnected": 2, "exited": 3}
_ACTIVITY_RANK = {"waiting": 0, "working": 1, "idle": 2, "unknown": 3}
HEADERS = ("AGENT", "STATE", "FOR", "ACTIVITY", "PROMPT")


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``, ``3d04h``: two units at most."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def agent_text(info: AgentInfo) -> str:
    """The id, and the name (``run --name``) after it when it is another; commands take
    either."""
    if info.name and info.name != info.agent_id:
        return f"{info.agent_id} ({one_line(info.name)})"
    return info.agent_id


def state_text(info: AgentInfo) -> str:
    if info.state != "exited" or info.exit_code is None:
        return info.state
    signal = f" {info.signal}" if info.signal else ""
    return f"exited {info.exit_code}{signal}"


def activity_text(activity: Activity | None, now: float) -> str:
    if activity is None:
        return "-"
    what: str = activity.state
    if activity.reason is not None:
        what += f" ({activity.reason})"
    return f"{what} {duration(now - activity.since)}"


def one_line(text: str) -> str:
    """The text with every run of whitespace (newlines too) as one space."""
    return " ".join(text.split())


def prompt_text(activity: Activity | None) -> str:
    """The waiting prompt on one line, then the options numbered from 1."""
    if activity is None or activity.state != "waiting":
        return ""
    parts = [one_line(activity.prompt or "")]
    for number, option in enumerate(activity.options or (), start=1):
        parts.append(f"[{number}] {one_line(option.label)}")
    return " ".join(p for p in parts if p)


def sort_key(info: AgentInfo) -> tuple[int, int, str]:
    activity = info.activity.state if info.activity is not None else "unknown"
    live = info.state in ("running", "idle")
    return (
        _ACTIVITY_RANK.get(activity, 3) if live else 4,
        _STATE_RANK.get(info.state, 9),
        info.agent_id,
    )


def rows(agents: Iterable[AgentInfo], now: float) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for info in sorted(agents, key=sort_key):
        since = "-" if info.state_since is None else duration(now - info.state_since)
        out.append(
            (
                agent_text(info),
                state_text(info),
                since,
                activity_text(info.activity, now),
                prompt_text(info.activity),
            )
        )
    return out


def render(agents: Iterable[AgentInfo], now: float, width: int | None = None) -> str:
    """The table as text (lines end with ``\\n``); lines are cut at ``width``."""
    body = rows(agents, now)
    if not body:
        return "no agents\n"
    table = [HEADERS, *body]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADERS) - 1)]
    lines = []
    for row in table:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        line = "  ".join([*cells, row[-1]]).rstrip()
        if width is not None and len(line) > width:
            line = line[: max(width - 1, 0)] + "…"
        lines.append(line)
    return "\n".join(lines) + "\n"
