"""Which changes of an agent notify, and what each channel is sent. Pure: no I/O.

A change notifies (contract section 12) when

- its activity enters ``waiting``, or stays waiting on a new question (another ``since``
  or ``decision_id``): event ``waiting``;
- its activity turns ``idle`` right after ``working``: event ``finished``;
- its state turns ``exited`` with a non-zero exit code: event ``failed``.

Each :class:`Notice` carries a ``key`` that names the transition the same way on every
relay of a fleet (from the sidecar's ``since`` or the relay-stamped ``state_since``), so
a claim on that key lets exactly one relay deliver it per channel.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from relay.protocol import AgentInfo, activity_dict

EventKind: TypeAlias = Literal["waiting", "finished", "failed"]

#: Longest ntfy title and message this relay sends (ntfy truncates long messages itself;
#: a phone shows a few lines).
MAX_TITLE_CHARS: Final = 120
MAX_MESSAGE_CHARS: Final = 3000

_NTFY_LOOK: Final[dict[EventKind, tuple[str, str]]] = {
    # kind: (priority, tags)
    "waiting": ("high", "raising_hand"),
    "finished": ("default", "white_check_mark"),
    "failed": ("high", "x"),
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One transition to tell people about."""

    kind: EventKind
    key: str
    info: AgentInfo
    time: float


def notice_for(old: AgentInfo | None, new: AgentInfo, now: float) -> Notice | None:
    """The notice for the change ``old`` -> ``new``, if it is a notifying transition.

    ``old`` None (the first sight of an agent, e.g. a relay that just started) never
    notifies: what happened before this relay looked was someone else's to tell.
    """
    if old is None:
        return None
    if new.state == "exited" and old.state != "exited" and new.exit_code not in (None, 0):
        return Notice("failed", f"failed:{_stamp(new.state_since or new.last_seen)}", new, now)
    before, after = old.activity, new.activity
    if after is None:
        return None
    if after.state == "waiting":
        if (
            before is None
            or before.state != "waiting"
            or before.since != after.since
            or before.decision_id != after.decision_id
        ):
            key = f"waiting:{_stamp(after.since)}:{after.decision_id or ''}"
            return Notice("waiting", key, new, now)
        return None
    if after.state == "idle" and before is not None and before.state == "working":
        return Notice("finished", f"finished:{_stamp(after.since)}", new, now)
    return None


def _stamp(t: float) -> str:
    return repr(float(t))


def agent_link(base_url: str | None, agent_id: str) -> str | None:
    """The dashboard's link to one agent: ``BASE/#agent=ID``."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/#agent={urllib.parse.quote(agent_id, safe='')}"


def channel_id(url: str) -> str:
    """A stable, secret-free name for a channel (its URL may hold a token)."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def redact_url(url: str) -> str:
    """Only scheme and host (and port): what may appear in a log line."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}"


def title_of(notice: Notice) -> str:
    info = notice.info
    match notice.kind:
        case "waiting":
            reason = info.activity.reason if info.activity else None
            what = {
                "permission": "asks for permission",
                "password": "asks for a password",
                "login": "needs a login",
                "menu": "offers a choice",
                "confirm": "asks to confirm",
            }.get(reason or "", "needs you")
            text = f"{info.name} {what}"
        case "finished":
            text = f"{info.name} finished"
        case "failed":
            signal = f", {info.signal}" if info.signal else ""
            text = f"{info.name} failed (exit {info.exit_code}{signal})"
    return text[:MAX_TITLE_CHARS]


def webhook_body(notice: Notice, base_url: str | None) -> dict[str, Any]:
    """The JSON a ``--notify-webhook`` receives (docs/protocol.md, Notifications)."""
    info = notice.info
    activity = info.activity
    return {
        "event": notice.kind,
        "title": title_of(notice),
        "agent_id": info.agent_id,
        "name": info.name,
        "host": info.host,
        "labels": dict(info.labels),
        "state": info.state,
        "exit_code": info.exit_code,
        "signal": info.signal,
        "reason": activity.reason if activity else None,
        "prompt": activity.prompt if activity else None,
        "options": None
        if activity is None or activity.options is None
        else [{"label": o.label, "keys": o.keys} for o in activity.options],
        "detail": activity.detail if activity else None,
        "activity": None if activity is None else activity_dict(activity),
        "url": agent_link(base_url, info.agent_id),
        "time": notice.time,
    }


def ntfy_message(notice: Notice, base_url: str | None) -> tuple[dict[str, str], bytes]:
    """Headers and body of an ntfy publish (POST to the topic URL): the body is the
    message; ``Title``, ``Priority``, ``Tags`` and ``Click`` headers carry the rest.
    A non-ASCII title travels as an RFC 2047 encoded word, which ntfy decodes."""
    info = notice.info
    activity = info.activity
    lines: list[str] = []
    if notice.kind == "waiting" and activity is not None:
        lines.append(activity.prompt or f"{info.name} is waiting ({activity.reason}).")
        for n, option in enumerate(activity.options or (), 1):
            lines.append(f"{n}. {option.label}")
    elif notice.kind == "finished":
        lines.append(activity.detail if activity and activity.detail else "Back at its prompt.")
    else:
        lines.append(f"Exited with code {info.exit_code}.")
    lines.append(f"{info.agent_id} on {info.host}" if info.host else info.agent_id)
    priority, tags = _NTFY_LOOK[notice.kind]
    headers = {
        "Title": _header_text(title_of(notice)),
        "Priority": priority,
        "Tags": tags,
        "Content-Type": "text/plain; charset=utf-8",
    }
    link = agent_link(base_url, info.agent_id)
    if link is not None:
        headers["Click"] = link
    return headers, "\n".join(lines)[:MAX_MESSAGE_CHARS].encode()


def _header_text(text: str) -> str:
    """``text`` as a header value: as is when printable ASCII, else RFC 2047 base64."""
    flat = " ".join(text.split())
    if flat.isascii() and flat.isprintable():
        return flat
    return f"=?utf-8?b?{base64.b64encode(flat.encode()).decode('ascii')}?="
