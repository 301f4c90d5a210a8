"""Which agent a command runs: ``agent_kind(argv)`` for the kinds of contract section 11.

The kind decides how the sidecar talks to the program: which hooks it injects, which
screen rules apply, what "stop" means and how a command line is submitted. It is read
from the command line alone, through the launchers people put in front of agents
(``npx -y @anthropic-ai/claude-code``, ``env FOO=1 codex``, ``node .../gemini-cli/...``,
``uvx aider-chat``), so it is known before the program prints anything.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

AgentKind: TypeAlias = Literal["claude", "codex", "gemini", "aider", "shell", "other"]
AGENT_KINDS: Final[tuple[AgentKind, ...]] = (
    "claude",
    "codex",
    "gemini",
    "aider",
    "shell",
    "other",
)

#: Executable names and package names of each known agent.
_NAMES: Final[dict[str, AgentKind]] = {
    "claude": "claude",
    "claude-code": "claude",
    "@anthropic-ai/claude-code": "claude",
    "codex": "codex",
    "@openai/codex": "codex",
    "gemini": "gemini",
    "gemini-cli": "gemini",
    "@google/gemini-cli": "gemini",
    "aider": "aider",
    "aider-chat": "aider",
}

_SHELLS: Final = frozenset(
    {"sh", "bash", "zsh", "fish", "dash", "ksh", "mksh", "tcsh", "csh", "ash", "nu", "xonsh"}
)

#: Launchers whose first non-option argument is the program (or package) they run.
_LAUNCHERS: Final = frozenset(
    {
        "npx",
        "pnpx",
        "bunx",
        "env",
        "nice",
        "nohup",
        "stdbuf",
        "exec",
        "command",
        "uvx",
        "node",
        "bun",
        "deno",
        "python",
        "python3",
        "time",
        "ionice",
        "setsid",
    }
)
#: Launchers with a subcommand first: ``pnpm dlx X``, ``yarn dlx X``, ``pipx run X``,
#: ``uv tool run X``, ``npm exec X``, ``bun x X``.
_SUBCOMMAND_LAUNCHERS: Final[dict[str, frozenset[str]]] = {
    "pnpm": frozenset({"dlx", "exec"}),
    "yarn": frozenset({"dlx", "exec"}),
    "npm": frozenset({"exec", "x"}),
    "pipx": frozenset({"run"}),
    "uv": frozenset({"run", "tool"}),
    "bun": frozenset({"x"}),
}
#: Options of launchers that take a value as the next argument.
_OPTIONS_WITH_VALUE: Final = frozenset(
    {"-p", "--package", "-n", "--adjustment", "-c", "--call", "-u", "--unset", "-C",
     "--chdir", "--from", "--with", "-o", "-e", "-i"}
)


def _name_kind(word: str) -> AgentKind | None:
    """The kind a program path, script path or package spec names, if any."""
    spec = word
    # A package spec with a version: @scope/name@1.2.3 or name@latest.
    at = spec.rfind("@")
    if at > 0:
        spec = spec[:at]
    if spec in _NAMES:
        return _NAMES[spec]
    for package, kind in _NAMES.items():
        if package.startswith("@") and f"/{package}/" in f"{word}/":
            return kind  # .../node_modules/@openai/codex/bin/codex.js
    base = os.path.basename(spec)
    for suffix in (".js", ".mjs", ".cjs", ".py", ".exe"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    if base in _NAMES:
        return _NAMES[base]
    if base.lstrip("-") in _SHELLS:
        return "shell"
    return None


def agent_kind(argv: Sequence[str]) -> AgentKind:
    """The agent ``argv`` runs, seen through launchers; ``"other"`` when unknown."""
    return _locate(argv)[0]


def agent_position(argv: Sequence[str]) -> int | None:
    """Where the agent's own arguments start: the index just after the word naming it
    (``claude``, ``@openai/codex``, ``.../gemini.js``), or None for shells and others.

    Options inserted there reach the agent, also behind ``npx`` and friends.
    """
    kind, i = _locate(argv)
    if i is None or kind in ("shell", "other"):
        return None
    if i > 0 and argv[i - 1] in ("-p", "--package") and i + 1 < len(argv):
        return i + 2  # npx -p @openai/codex codex: after the program, not the package
    return i + 1


def _locate(argv: Sequence[str]) -> tuple[AgentKind, int | None]:
    args = list(argv)
    i = 0
    while i < len(args):
        word = args[i]
        base = os.path.basename(word)
        kind = _name_kind(word)
        if kind is not None:
            return kind, i
        if base in _SUBCOMMAND_LAUNCHERS and i + 1 < len(args):
            if args[i + 1] in _SUBCOMMAND_LAUNCHERS[base]:
                i += 2
                if base == "uv" and i < len(args) and args[i] == "run":
                    i += 1  # uv tool run X
                i = _skip_options(args, i)
                continue
            return "other", None
        if base in _LAUNCHERS:
            i = _skip_options(args, i + 1)
            continue
        if "=" in word and not word.startswith("-") and i > 0:
            i += 1  # env NAME=value
            continue
        return "other", None
    return "other", None


def _skip_options(args: list[str], i: int) -> int:
    while i < len(args):
        word = args[i]
        if word == "--":
            return i + 1
        if not word.startswith("-") or word == "-":
            if "=" in word and not word.startswith("/"):
                i += 1  # env NAME=value
                continue
            return i
        if word in ("-p", "--package") and i + 1 < len(args):
            # npx -p @openai/codex codex: the package names the agent.
            if _name_kind(args[i + 1]) is not None:
                return i + 1
        i += 2 if word in _OPTIONS_WITH_VALUE else 1
    return i


# --------------------------------------------------------------------------- steering facts


@dataclass(frozen=True, slots=True)
class AgentTraits:
    """How to steer one kind of agent from a dashboard.

    ``stop_key`` is the key that stops the agent's current turn without ending the
    program (None: there is none, Stop is SIGINT to the foreground process group).
    ``submit_gap`` is how long after the program has read a command line's text the
    Enter that submits it is written: the TUIs take keys that arrive right after other
    input for a paste (Codex's paste-burst window is 120 ms, Gemini CLI turns an Enter
    within 30 ms of typed text into a newline). ``paste_gap`` is the same after text
    sent as a bracketed paste; ``paste_single_line`` says whether a one-line command is
    sent as one (when the program enabled bracketed paste) or typed as plain keys.
    """

    stop_key: str | None
    stop_key_name: str | None
    submit_gap: float
    paste_gap: float
    paste_single_line: bool = True


#: Checked against Claude Code 2.1, Codex CLI 0.171, Gemini CLI 0.61 and Aider's docs.
_TRAITS: Final[dict[AgentKind, AgentTraits]] = {
    # "esc to interrupt" in its status line; ^C clears the input or, twice, exits.
    "claude": AgentTraits(stop_key="\x1b", stop_key_name="Esc", submit_gap=0.15,
                          paste_gap=0.15),
    # "esc to interrupt"; ^C interrupts too, but quits when nothing is running.
    "codex": AgentTraits(stop_key="\x1b", stop_key_name="Esc", submit_gap=0.25,
                         paste_gap=0.25),
    # "esc to cancel"; ^C quits (twice). Outside the kitty keyboard protocol it takes an
    # Enter for a newline until a state reset 40 ms after a paste has re-rendered, which
    # took over 150 ms on a busy machine: one-line commands are typed as keys instead.
    "gemini": AgentTraits(stop_key="\x1b", stop_key_name="Esc", submit_gap=0.15,
                          paste_gap=0.6, paste_single_line=False),
    # Aider's docs: Control-C interrupts the model's reply and keeps the chat.
    "aider": AgentTraits(stop_key="\x03", stop_key_name="Ctrl+C", submit_gap=0.1,
                         paste_gap=0.1),
    "shell": AgentTraits(stop_key=None, stop_key_name=None, submit_gap=0.05, paste_gap=0.05),
    "other": AgentTraits(stop_key=None, stop_key_name=None, submit_gap=0.15, paste_gap=0.15),
}


def agent_traits(kind: AgentKind) -> AgentTraits:
    """The steering facts of ``kind``."""
    return _TRAITS[kind]
