"""agent_kind: the agent a command line runs, through the launchers people use."""

from __future__ import annotations

import pytest

from agent_sidecar.agents import agent_kind

CASES = [
    (["claude"], "claude"),
    (["/usr/local/bin/claude", "--resume"], "claude"),
    (["npx", "-y", "@anthropic-ai/claude-code"], "claude"),
    (["npx", "@anthropic-ai/claude-code@2.1.0", "-p", "hi"], "claude"),
    (["node", "/opt/n/node_modules/@anthropic-ai/claude-code/cli.js"], "claude"),
    (["codex"], "codex"),
    (["npx", "-p", "@openai/codex", "codex"], "codex"),
    (["pnpm", "dlx", "@openai/codex"], "codex"),
    (["env", "OPENAI_API_KEY=x", "codex", "exec"], "codex"),
    (["gemini"], "gemini"),
    (["bunx", "@google/gemini-cli"], "gemini"),
    (["npm", "exec", "--", "@google/gemini-cli"], "gemini"),
    (["aider", "--model", "x"], "aider"),
    (["uvx", "--from", "aider-chat", "aider"], "aider"),
    (["pipx", "run", "aider-chat"], "aider"),
    (["python3", "-m", "aider"], "aider"),
    (["bash"], "shell"),
    (["/bin/zsh", "-l"], "shell"),
    (["-bash"], "shell"),
    (["nice", "-n", "5", "bash"], "shell"),
    (["make", "-j8"], "other"),
    (["python3", "-c", "print(1)"], "other"),
    (["npx", "vite"], "other"),
    ([], "other"),
]


@pytest.mark.parametrize(("argv", "kind"), CASES)
def test_agent_kind_sees_through_launchers(argv: list[str], kind: str) -> None:
    assert agent_kind(argv) == kind
