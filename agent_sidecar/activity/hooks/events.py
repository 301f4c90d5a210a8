"""What the agents' own events mean: payload in, claim (and held request) out. Pure.

Event names and payload fields as the agents send them (checked against the bundled
code of Claude Code 2.1.197, Codex CLI 0.171.0 and Gemini CLI 0.61.0):

- Claude Code and Codex hooks: ``hook_event_name``, ``tool_name``, ``tool_input``;
  ``Notification`` has ``message`` and ``notification_type`` (``permission_prompt``,
  ``idle_prompt``, ``elicitation_dialog``, ``auth_success``); ``StopFailure`` has
  ``error``. Codex ``notify`` passes ``{"type": "agent-turn-complete",
  "last-assistant-message": ...}`` as its last argument.
- Gemini CLI: ``BeforeAgent``/``AfterAgent`` around a turn, ``BeforeTool``/``AfterTool``,
  ``Notification`` with ``notification_type: "ToolPermission"``, ``message``, ``details``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..model import MAX_DETAIL, MAX_PROMPT, Claim, clip


@dataclass(frozen=True, slots=True)
class PermissionAsk:
    """A permission request the sidecar may hold open: what it asks, in words."""

    prompt: str
    tool: str | None


def tool_line(tool: object, tool_input: object) -> str | None:
    """``Bash: make test``, ``Edit: src/app.py``: the tool and what it acts on."""
    if not isinstance(tool, str) or not tool:
        return None
    if isinstance(tool_input, dict):
        for key in ("command", "file_path", "path", "url", "pattern", "query", "description"):
            value = tool_input.get(key)
            if isinstance(value, str) and value.strip():
                return f"{tool}: {value.strip()}"
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return f"{tool}: {' '.join(value)}"
    return tool


def permission_ask(agent: str, event: str, payload: dict[str, object]) -> PermissionAsk | None:
    """The request to hold, for the events that can be answered (Claude Code, Codex)."""
    if agent not in ("claude", "codex") or event != "PermissionRequest":
        return None
    tool = payload.get("tool_name")
    line = tool_line(tool, payload.get("tool_input")) or "a tool"
    what = f"{line}"
    tool_input = payload.get("tool_input")
    if isinstance(tool_input, dict):
        desc = tool_input.get("description")
        if isinstance(desc, str) and desc.strip() and desc.strip() not in what:
            what += f"\n{desc.strip()}"
    name = "Claude" if agent == "claude" else "Codex"
    prompt = clip(f"{name} wants to use {what}", MAX_PROMPT) or f"{name} asks for permission"
    return PermissionAsk(prompt, tool if isinstance(tool, str) else None)


def decision_output(decision: str, message: str | None) -> str:
    """The hook's stdout for an answer (Claude Code's and Codex's PermissionRequest)."""
    body: dict[str, object] = {"behavior": decision}
    if decision == "deny":
        body["message"] = message or "Denied by the person watching this agent."
    return json.dumps({"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                                              "decision": body}})


def claim_for(agent: str, event: str, payload: dict[str, object], at: float) -> Claim | None:
    """What an event says about the activity; None when it says nothing."""
    if agent == "gemini":
        return _gemini(event, payload, at)
    if agent == "codex" and event == "notify":
        if payload.get("type") == "agent-turn-complete":
            last = payload.get("last-assistant-message")
            return Claim("idle", "hook", at, detail=_first_line(last))
        return None
    detail = tool_line(payload.get("tool_name"), payload.get("tool_input"))
    match event:
        case "UserPromptSubmit":
            return Claim("working", "hook", at)
        case "PreToolUse" | "PostToolUse":
            return Claim("working", "hook", at, detail=clip(detail, MAX_DETAIL))
        case "PermissionRequest":
            ask = permission_ask(agent, event, payload)
            return Claim("waiting", "hook", at, reason="permission",
                         prompt=ask.prompt if ask else None)
        case "Stop":
            return Claim("idle", "hook", at)
        case "StopFailure":
            error = payload.get("error")
            return Claim("idle", "hook", at,
                         detail=clip(f"the turn failed: {error}" if isinstance(error, str)
                                     else "the turn failed", MAX_DETAIL))
        case "SessionStart":
            return Claim("idle", "hook", at)
        case "Notification":
            return _notification(payload, at)
    return None


def _notification(payload: dict[str, object], at: float) -> Claim | None:
    kind = payload.get("notification_type")
    message = payload.get("message")
    text = message if isinstance(message, str) else None
    if kind == "permission_prompt" or (kind is None and text and "permission" in text.lower()):
        return Claim("waiting", "hook", at, reason="permission", prompt=clip(text, MAX_PROMPT))
    if kind == "elicitation_dialog":
        return Claim("waiting", "hook", at, reason="question", prompt=clip(text, MAX_PROMPT))
    if kind == "idle_prompt" or (kind is None and text and "waiting for your input" in text):
        return Claim("idle", "hook", at)
    return None  # auth_success and the like: not a change of activity


def _gemini(event: str, payload: dict[str, object], at: float) -> Claim | None:
    match event:
        case "BeforeAgent":
            return Claim("working", "hook", at)
        case "BeforeTool" | "AfterTool":
            detail = tool_line(payload.get("tool_name"), payload.get("tool_input"))
            return Claim("working", "hook", at, detail=clip(detail, MAX_DETAIL))
        case "AfterAgent" | "SessionStart":
            return Claim("idle", "hook", at)
        case "Notification":
            if payload.get("notification_type") == "ToolPermission":
                message = payload.get("message")
                return Claim("waiting", "hook", at, reason="permission",
                             prompt=clip(message if isinstance(message, str) else None,
                                         MAX_PROMPT))
    return None


def _first_line(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    for line in text.splitlines():
        if line.strip():
            return clip(line, 200)
    return None
