"""How each agent is told to call the sidecar back, for this run only.

Nothing of the user's is written: Claude Code gets ``--settings FILE`` (its settings are
merged with the user's), Codex gets a ``-c notify=[...]`` override on its command line
(its hooks need the person's review first, see ``_codex``), Gemini CLI gets a system
settings file through ``GEMINI_CLI_SYSTEM_SETTINGS_PATH`` (a copy of the system settings
it would have read, with our hooks added) where Gemini accepts one (``admin_owned``).
The files live in the run's private directory (0700).

The hook command is ``PYTHON -S .../hookcall.py AGENT EVENT``; the socket and the secret
reach it through the environment (never the command line, which ``ps`` shows).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...agents import AgentKind, agent_position

HOOKCALL = Path(__file__).with_name("hookcall.py")

#: Claude Code events we listen to; PermissionRequest is held open for a decision.
CLAUDE_EVENTS = ("PermissionRequest", "Notification", "Stop", "StopFailure",
                 "UserPromptSubmit", "PreToolUse", "PostToolUse", "SessionStart", "SessionEnd")
GEMINI_EVENTS = ("BeforeAgent", "AfterAgent", "BeforeTool", "AfterTool", "Notification",
                 "SessionStart", "SessionEnd")
GEMINI_SYSTEM_SETTINGS = Path("/etc/gemini-cli/settings.json")


@dataclass(frozen=True, slots=True)
class Injection:
    """The command line and extra environment that wire one run's hooks."""

    argv: list[str]
    env: dict[str, str]
    files: dict[Path, str] = field(default_factory=dict)


def hook_command(agent: str, event: str, python: str = sys.executable) -> list[str]:
    return [python, "-S", str(HOOKCALL), agent, event]


def plan(
    kind: AgentKind,
    argv: Sequence[str],
    env: Mapping[str, str],
    directory: Path,
    *,
    hold_seconds: float,
    python: str = sys.executable,
) -> Injection | None:
    """The injection for ``argv``, or None when the agent has no hooks we know."""
    at = agent_position(argv)
    if at is None:
        return None
    if kind == "claude":
        return _claude(list(argv), at, directory, hold_seconds, python)
    if kind == "codex":
        return _codex(list(argv), at, python)
    if kind == "gemini":
        return _gemini(list(argv), env, directory, python)
    return None


def _shell(words: list[str]) -> str:
    """A shell command line that *becomes* the hook process (``exec``): when the agent
    kills its hook (the person answered in the terminal first), the kill reaches the
    process holding the socket, and the held request is withdrawn at once."""
    return "exec " + " ".join(shlex.quote(w) for w in words)


def _claude(argv: list[str], at: int, directory: Path, hold: float, python: str) -> Injection:
    hooks: dict[str, object] = {}
    for event in CLAUDE_EVENTS:
        entry: dict[str, object] = {"type": "command",
                                    "command": _shell(hook_command("claude", event, python))}
        # The hook's own timeout outlives our hold, so we always answer (or hand back).
        entry["timeout"] = int(hold + 30) if event == "PermissionRequest" else 10
        matcher: dict[str, object] = {"hooks": [entry]}
        if event in ("PermissionRequest", "PreToolUse", "PostToolUse"):
            matcher["matcher"] = "*"
        hooks[event] = [matcher]
    path = directory / "claude-settings.json"
    new = [*argv[:at], "--settings", str(path), *argv[at:]]
    return Injection(new, {}, {path: json.dumps({"hooks": hooks})})


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a TOML basic string


def _codex(argv: list[str], at: int, python: str) -> Injection:
    """Only ``notify`` (the end of each turn). Codex's own hooks (PermissionRequest and
    the rest) are not injected: Codex runs a hook from outside its managed config only
    after the person reviewed and trusted it, and shows a "Hooks need review" screen
    at start until then (Codex 0.171) -- a sidecar must not put that in front of people
    on every run, nor trust hooks on their behalf."""
    notify = "[" + ", ".join(_toml_string(w) for w in hook_command("codex", "notify", python)) + "]"
    return Injection([*argv[:at], "-c", f"notify={notify}", *argv[at:]], {})


def admin_owned(directory: Path) -> bool:
    """Whether Gemini CLI accepts a system settings file in ``directory``: since 0.61 it
    skips one (with a security warning on screen) unless the file and every directory
    above it belong to root and are writable by nobody else."""
    if os.geteuid() != 0:
        return False
    path = directory.resolve()
    for part in (path, *path.parents):
        try:
            st = os.stat(part)
        except OSError:
            return False
        if st.st_uid != 0 or st.st_mode & 0o022:
            return False
    return True


def _gemini(argv: list[str], env: Mapping[str, str], directory: Path, python: str
            ) -> Injection | None:
    if not admin_owned(directory):
        return None  # it would be skipped, with a warning in front of the person
    source = Path(env.get("GEMINI_CLI_SYSTEM_SETTINGS_PATH") or GEMINI_SYSTEM_SETTINGS)
    settings: dict[str, object] = {}
    try:
        loaded = json.loads(source.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            settings = loaded
    except (OSError, ValueError):
        pass
    hooks = settings.get("hooks")
    merged: dict[str, object] = dict(hooks) if isinstance(hooks, dict) else {}
    for event in GEMINI_EVENTS:
        ours = {"matcher": "*", "hooks": [{
            "type": "command", "name": f"agent-sidecar-{event}",
            "command": _shell(hook_command("gemini", event, python)), "timeout": 10000}]}
        current = merged.get(event)
        merged[event] = [*(current if isinstance(current, list) else []), ours]
    settings["hooks"] = merged
    path = directory / "gemini-system-settings.json"
    return Injection(list(argv), {"GEMINI_CLI_SYSTEM_SETTINGS_PATH": str(path)},
                     {path: json.dumps(settings)})


def write_files(injection: Injection) -> None:
    for path, text in injection.files.items():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
