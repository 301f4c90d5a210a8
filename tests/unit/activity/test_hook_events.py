"""What the agents' own events mean (tables), and how each agent is told about hooks."""

from __future__ import annotations

import json
import shlex
import tempfile
from pathlib import Path

import pytest

from agent_sidecar.activity.hooks.events import claim_for, decision_output, permission_ask
from agent_sidecar.activity.hooks.inject import HOOKCALL, admin_owned, plan

T = 100.0
BASH: dict[str, object] = {"tool_name": "Bash", "tool_input": {"command": "make test", "description": "Run"}}

CLAIMS = [
    ("claude", "UserPromptSubmit", {"prompt": "secret plans"}, ("working", None, None)),
    ("claude", "PreToolUse", BASH, ("working", None, "Bash: make test")),
    ("claude", "PermissionRequest", BASH, ("waiting", "permission", None)),
    ("claude", "Stop", {}, ("idle", None, None)),
    ("claude", "StopFailure", {"error": "rate_limit"}, ("idle", None, "the turn failed: rate_limit")),
    ("claude", "SessionStart", {"source": "startup"}, ("idle", None, None)),
    ("claude", "Notification", {"notification_type": "permission_prompt",
                                "message": "Claude needs your permission to use Bash"},
     ("waiting", "permission", None)),
    ("claude", "Notification", {"notification_type": "idle_prompt",
                                "message": "Claude is waiting for your input"}, ("idle", None, None)),
    ("claude", "Notification", {"notification_type": "auth_success", "message": "ok"}, None),
    ("claude", "SessionEnd", {}, None),
    ("codex", "notify", {"type": "agent-turn-complete", "last-assistant-message": "Done.\nMore"},
     ("idle", None, "Done.")),
    ("codex", "notify", {"type": "something-else"}, None),
    ("codex", "UserPromptSubmit", {}, ("working", None, None)),
    ("gemini", "BeforeAgent", {"prompt": "x"}, ("working", None, None)),
    ("gemini", "BeforeTool", {"tool_name": "run_shell_command", "tool_input": {"command": "ls"}},
     ("working", None, "run_shell_command: ls")),
    ("gemini", "AfterAgent", {}, ("idle", None, None)),
    ("gemini", "Notification", {"notification_type": "ToolPermission", "message": "Allow ls?"},
     ("waiting", "permission", None)),
]


@pytest.mark.parametrize(("agent", "event", "payload", "expected"), CLAIMS)
def test_events_map_to_claims(agent: str, event: str, payload: dict[str, object],
                              expected: tuple[str, str | None, str | None] | None) -> None:
    claim = claim_for(agent, event, payload, T)
    if expected is None:
        assert claim is None
        return
    assert claim is not None
    assert (claim.state, claim.reason, claim.detail) == expected
    assert claim.source == "hook"
    assert claim.at == T


def test_a_prompt_the_user_typed_never_becomes_the_detail() -> None:
    claim = claim_for("claude", "UserPromptSubmit", {"prompt": "my password is x"}, T)
    assert claim is not None
    assert claim.detail is None
    assert claim.prompt is None


def test_only_claude_and_codex_permission_requests_can_be_held() -> None:
    ask = permission_ask("claude", "PermissionRequest", BASH)
    assert ask is not None
    assert ask.prompt == "Claude wants to use Bash: make test\nRun"
    assert permission_ask("codex", "PermissionRequest", BASH) is not None
    assert permission_ask("gemini", "Notification", BASH) is None
    assert permission_ask("claude", "PreToolUse", BASH) is None


@pytest.mark.parametrize(("decision", "message", "body"), [
    ("allow", None, {"behavior": "allow"}),
    ("deny", "not now", {"behavior": "deny", "message": "not now"}),
    ("deny", None, {"behavior": "deny", "message": "Denied by the person watching this agent."}),
])
def test_decision_output_is_the_hook_answer(decision: str, message: str | None,
                                            body: dict[str, str]) -> None:
    assert json.loads(decision_output(decision, message)) == {
        "hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": body}}


def test_claude_gets_a_settings_file_right_after_its_name(tmp_path: Path) -> None:
    inj = plan("claude", ["npx", "-y", "@anthropic-ai/claude-code", "--resume"], {}, tmp_path,
               hold_seconds=120, python="/py")
    assert inj is not None
    path = tmp_path / "claude-settings.json"
    assert inj.argv == ["npx", "-y", "@anthropic-ai/claude-code", "--settings", str(path),
                        "--resume"]
    hooks = json.loads(inj.files[path])["hooks"]
    command = hooks["PermissionRequest"][0]["hooks"][0]["command"]
    assert shlex.split(command) == ["exec", "/py", "-S", str(HOOKCALL), "claude",
                                    "PermissionRequest"]
    assert hooks["PermissionRequest"][0]["hooks"][0]["timeout"] > 120
    assert set(hooks) >= {"PermissionRequest", "Notification", "Stop", "StopFailure",
                          "UserPromptSubmit", "PreToolUse", "SessionStart", "SessionEnd"}


def test_codex_gets_only_a_notify_override_on_its_command_line(tmp_path: Path) -> None:
    inj = plan("codex", ["codex", "exec", "hi"], {}, tmp_path, hold_seconds=60, python="/py")
    assert inj is not None
    assert not inj.files
    assert inj.argv == ["codex", "-c", f'notify=["/py", "-S", "{HOOKCALL}", "codex", "notify"]',
                        "exec", "hi"]


def test_gemini_gets_no_settings_where_it_would_refuse_them(tmp_path: Path) -> None:
    # tmp_path lies under /tmp (writable by all): Gemini CLI would skip the file and warn.
    assert plan("gemini", ["gemini"], {}, tmp_path, hold_seconds=60) is None


@pytest.mark.skipif(not admin_owned(Path.home()), reason="needs root and a root-owned home")
def test_gemini_gets_a_system_settings_copy_with_our_hooks_added() -> None:
    with tempfile.TemporaryDirectory(dir=Path.home()) as private:
        check_gemini_settings(Path(private))


def check_gemini_settings(tmp_path: Path) -> None:
    system = tmp_path / "system.json"
    system.write_text(json.dumps({"hooks": {"BeforeTool": [{"hooks": [{"command": "theirs"}]}]},
                                  "ui": {"theme": "x"}}))
    inj = plan("gemini", ["gemini"], {"GEMINI_CLI_SYSTEM_SETTINGS_PATH": str(system)}, tmp_path,
               hold_seconds=60, python="/py")
    assert inj is not None
    assert inj.argv == ["gemini"]
    path = Path(inj.env["GEMINI_CLI_SYSTEM_SETTINGS_PATH"])
    settings = json.loads(inj.files[path])
    assert settings["ui"] == {"theme": "x"}
    assert settings["hooks"]["BeforeTool"][0]["hooks"][0]["command"] == "theirs"
    assert "gemini BeforeTool" in settings["hooks"]["BeforeTool"][1]["hooks"][0]["command"]


@pytest.mark.parametrize("argv", [["bash"], ["make"], ["aider"], ["python3", "x.py"]])
def test_programs_without_known_hooks_are_left_alone(argv: list[str], tmp_path: Path) -> None:
    from agent_sidecar.agents import agent_kind

    assert plan(agent_kind(argv), argv, {}, tmp_path, hold_seconds=60) is None
