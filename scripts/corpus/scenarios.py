"""The corpus scenarios for record.py: what runs, what is typed, what a person would say."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

BIN = "/work/agents/node_modules/.bin"
PY = sys.executable
BASH = ["bash", "--norc", "--noprofile"]
SH_PROMPT = r"\$$"


@dataclass
class Scenario:
    description: str
    argv: list[str]
    steps: list[tuple[object, ...]]
    agent_kind: str = "other"
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    shown_argv: list[str] | None = None
    setup: list[list[str]] = field(default_factory=list)


def shell(description: str, line: str, steps: list[tuple[object, ...]],
          files: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Scenario:
    """Bash at a prompt, then ``line`` typed and run."""
    return Scenario(description, BASH, [
        ("label", "unknown"), ("expect", SH_PROMPT), ("label", "idle"), ("sleep", 1.5),
        ("send", line + "\r"), *steps], agent_kind="shell", files=files or {}, env=env or {})


def py(description: str, code: str, steps: list[tuple[object, ...]]) -> Scenario:
    return Scenario(description, [PY, "-c", code], [("label", "unknown"), *steps],
                    shown_argv=["python3", "-c", code])


CLAUDE_ENV = {"ANTHROPIC_API_KEY": "sk-ant-fake", "ANTHROPIC_BASE_URL": "http://127.0.0.1:18401"}
CLAUDE_FILES = {".claude.json": '{"hasCompletedOnboarding": true, "theme": "dark"}'}
CLAUDE_START = [("label", "unknown"), ("expect", "trust this folder"), ("label", "waiting", "confirm"),
                ("sleep", 2), ("send", "\r"), ("label", "unknown"),
                ("expect", "use this API key"), ("label", "waiting", "login"), ("sleep", 2),
                ("send", "\x1b[A"), ("sleep", 0.3), ("send", "\r"), ("label", "unknown"),
                ("expect", "for shortcuts"), ("label", "idle"), ("sleep", 2)]

SCENARIOS: dict[str, Scenario] = {
    # ------------------------------------------------------------------ shells
    "shell-prompt": shell("bash at its prompt, a short command, the prompt again", "echo hello",
                          [("expect", r"hello\n\$$"), ("sleep", 3)]),
    "shell-read-p": shell("bash's read -p asks a question, answered", 'read -p "Deploy to production? " answer',
                          [("expect", r"production\?$"), ("label", "waiting", "question"), ("sleep", 3),
                           ("send", "yes\r"), ("label", "idle"), ("sleep", 2)]),
    "shell-select-menu": shell("bash select: a numbered menu", 'PS3="Pick a target: "; select t in staging production cancel; do echo $t; break; done',
                               [("expect", r"target:$"), ("label", "waiting", "menu"), ("sleep", 3),
                                ("send", "1\r"), ("label", "idle"), ("sleep", 2)]),
    "shell-sleep": shell("a long silent command (sleep)", "sleep 6",
                         [("label", "working"), ("sleep", 6.5), ("label", "idle"), ("sleep", 2)]),
    "shell-silent-build": shell("a build that prints a line and goes quiet for long", "echo 'compiling...'; sleep 7; echo 'built'",
                                [("label", "working"), ("expect", "^built$"), ("label", "idle"), ("sleep", 2)]),
    "shell-fast-output": shell("fast output, then the prompt", "seq 1 300000",
                               [("label", "working"), ("expect", r"300000\n\$$"), ("label", "idle"), ("sleep", 2)]),
    "shell-clock": shell("a clock printing every second", "for i in 1 2 3 4 5 6 7; do date +%T; sleep 1; done",
                         [("label", "working"), ("sleep", 7.5), ("label", "idle"), ("sleep", 2)]),
    "shell-apt-confirm": shell("apt-style [Y/n] confirmation", "printf 'The following packages will be installed:\\n  jq\\nDo you want to continue? [Y/n] '; read ans",
                               [("expect", r"\[Y/n\]$"), ("label", "waiting", "confirm"), ("sleep", 3),
                                ("send", "y\r"), ("label", "idle"), ("sleep", 2)]),
    "shell-yn-confirm": shell("a [y/N] overwrite question", "read -p 'Overwrite config.yml? [y/N] ' ans",
                              [("expect", r"\[y/N\]$"), ("label", "waiting", "confirm"), ("sleep", 3),
                               ("send", "n\r"), ("label", "idle"), ("sleep", 2)]),
    "shell-git-commit": shell("git commit opens the editor for the message", "git init -q . && git -c user.name=a -c user.email=a@b commit -q --allow-empty",
                              [("expect", r"Please enter the commit message"), ("label", "waiting", "other"), ("sleep", 3),
                               ("send", "ifix it\x1b:wq\r"), ("label", "idle"), ("sleep", 2)],
                              env={"GIT_EDITOR": "vim -u NONE -N"}),
    "shell-pager": shell("a pager (less) showing a file, waiting for q", "seq 1 500 | less",
                         [("expect", r"^:", 10), ("label", "waiting", "other"), ("sleep", 3),
                          ("send", "q"), ("label", "idle"), ("sleep", 2)], env={"LESS": ""}),
    "shell-top": shell("top refreshing every second", "top -d 1",
                       [("label", "working"), ("sleep", 5), ("send", "q"), ("label", "idle"), ("sleep", 2)]),
    "shell-sudo-password": shell("a sudo-style password prompt (getpass), typed, not echoed",
                                 f"{PY} -c \"import getpass; getpass.getpass('[sudo] password for deploy: '); print('ok')\"",
                                 [("expect", r"password for deploy:$"), ("label", "waiting", "password"), ("sleep", 2),
                                  ("send", "hunter2-secret"), ("sleep", 1.5), ("send", "\r"), ("label", "idle"), ("sleep", 2)]),
    "shell-ssh-password": shell("an ssh-style password prompt", f"{PY} -c \"import getpass; getpass.getpass(\\\"deploy@build-01's password: \\\")\"",
                                [("expect", r"password:$"), ("label", "waiting", "password"), ("sleep", 3),
                                 ("send", "s3cr3t\r"), ("label", "idle"), ("sleep", 2)]),
    "shell-python-repl": shell("the python REPL at its prompt", f"{PY} -q",
                               [("expect", r">>>$"), ("label", "idle"), ("sleep", 2.5), ("send", "1+1\r"),
                                ("expect", r"2\n>>>$"), ("sleep", 2), ("send", "exit()\r"), ("expect", SH_PROMPT), ("sleep", 1.5)]),
    "shell-interrupt": shell("a long command interrupted with Ctrl-C", "sleep 30",
                             [("label", "working"), ("sleep", 3), ("send", "\x03"), ("label", "idle"), ("sleep", 3)]),
    # ------------------------------------------------------------------ programs
    "py-input": py("python input() asks a question", "x = input('What is the release tag? '); print('tag', x)",
                   [("expect", r"tag\?$"), ("label", "waiting", "question"), ("sleep", 3), ("send", "v1.2\r"), ("label", "end"), ("sleep", 0.5)]),
    "py-spinner": py("a spinner for five seconds, then a question",
                     "import time,sys\nfor i in range(50):\n sys.stdout.write('\\r' + '|/-\\\\'[i%4] + ' Resolving dependencies'); sys.stdout.flush(); time.sleep(0.1)\nprint('\\rResolved.                  ')\ninput('Apply 3 changes? (yes/no) ')",
                     [("label", "working"), ("expect", r"\(yes/no\)$"), ("label", "waiting", "confirm"), ("sleep", 3), ("send", "yes\r"), ("label", "end"), ("sleep", 0.5)]),
    "py-progress-osc": py("OSC 9;4 progress while working, then done and quiet",
                          "import time,sys\nfor p in range(0,101,5):\n sys.stdout.write(f'\\x1b]9;4;1;{p}\\x07\\rdownloading {p}%'); sys.stdout.flush(); time.sleep(0.25)\nsys.stdout.write('\\x1b]9;4;0;0\\x07\\ndone\\n'); sys.stdout.flush(); time.sleep(3)",
                          [("label", "working"), ("expect", "done"), ("sleep", 3.2)]),
    "py-osc9-notify": py("an OSC 9 notification, then waiting on the terminal",
                         "import sys\nprint('Build finished, review the report.')\nsys.stdout.write('\\x1b]9;Build needs your review\\x07'); sys.stdout.flush()\nsys.stdin.readline()",
                         [("expect", "review the report"), ("label", "waiting", "other"), ("sleep", 3), ("send", "\r"), ("label", "end"), ("sleep", 0.5)]),
    "py-osc777-notify": py("an OSC 777 notify, then waiting on the terminal",
                           "import sys\nsys.stdout.write('\\x1b]777;notify;Deploy;Approval needed\\x07'); sys.stdout.flush()\nsys.stdin.readline()",
                           [("sleep", 0.3), ("label", "waiting", "other"), ("sleep", 3), ("send", "\r"), ("label", "end"), ("sleep", 0.5)]),
    "py-bell-key": py("a bell and 'press any key'",
                      "import sys,tty,termios\nprint('Tests failed. Press any key to see the log\\a', end='', flush=True)\nold=termios.tcgetattr(0); tty.setraw(0); sys.stdin.read(1); termios.tcsetattr(0, termios.TCSADRAIN, old)",
                      [("expect", "any key"), ("label", "waiting", "other"), ("sleep", 3), ("send", "x"), ("label", "end"), ("sleep", 0.5)]),
    "py-numbered-menu": py("a numbered menu and 'Enter choice'",
                           "print('Select an environment:')\nprint('  1) development')\nprint('  2) staging')\nprint('  3) production')\ninput('Enter choice [1-3]: ')",
                           [("expect", r"choice \[1-3\]:$"), ("label", "waiting", "menu"), ("sleep", 3), ("send", "2\r"), ("label", "end"), ("sleep", 0.5)]),
    "py-token-prompt": py("an API token prompt (getpass)",
                          "import getpass\ngetpass.getpass('Paste your API token: ')",
                          [("expect", r"token:$"), ("label", "waiting", "password"), ("sleep", 2),
                           ("send", "tok-123-secret"), ("sleep", 1), ("send", "\r"), ("label", "end"), ("sleep", 0.5)]),
    # ------------------------------------------------------------------ agents
    "claude-trust": Scenario("Claude Code: folder trust, custom API key, then its prompt",
                             [f"{BIN}/claude"], CLAUDE_START, agent_kind="claude",
                             env=CLAUDE_ENV, files=CLAUDE_FILES, shown_argv=["claude"]),
    "claude-permission": Scenario("Claude Code: a turn asks to run a command; allowed from the dialog; finishes",
                                  [f"{BIN}/claude"], [*CLAUDE_START,
                                  ("send", "clean the build"), ("sleep", 0.5), ("send", "\r"), ("label", "working"),
                                  ("expect", "Do you want to proceed"), ("label", "waiting", "permission"), ("sleep", 3),
                                  ("send", "1"), ("label", "working"), ("expect", "build is clean"), ("label", "idle"), ("sleep", 3)],
                                  agent_kind="claude", env=CLAUDE_ENV, files=CLAUDE_FILES, shown_argv=["claude"]),
    "claude-interrupt": Scenario("Claude Code: a slow turn interrupted with Esc (no Stop hook)",
                                 [f"{BIN}/claude"], [*CLAUDE_START,
                                 ("send", "slow: clean the build"), ("sleep", 0.5), ("send", "\r"), ("label", "working"),
                                 ("sleep", 3), ("send", "\x1b"), ("expect", "─\n❯\\Wslow: clean"), ("label", "idle"), ("sleep", 4)],
                                 agent_kind="claude", env={**CLAUDE_ENV}, files=CLAUDE_FILES, shown_argv=["claude"]),
    "claude-deny": Scenario("Claude Code: a permission refused with Esc; Claude stops and asks what to do",
                            [f"{BIN}/claude"], [*CLAUDE_START,
                            ("send", "clean the build"), ("sleep", 0.5), ("send", "\r"), ("label", "working"),
                            ("expect", "Do you want to proceed"), ("label", "waiting", "permission"), ("sleep", 3),
                            ("send", "\x1b"), ("label", "idle"), ("sleep", 4)],
                            agent_kind="claude", env=CLAUDE_ENV, files=CLAUDE_FILES, shown_argv=["claude"]),
    "claude-idle-long": Scenario("Claude Code: trusted, then at its prompt for a while (no flapping)",
                                 [f"{BIN}/claude"], [*CLAUDE_START, ("sleep", 8)],
                                 agent_kind="claude", env=CLAUDE_ENV, files=CLAUDE_FILES, shown_argv=["claude"]),
    "codex-signin": Scenario("Codex without a key: the sign-in picker",
                             [f"{BIN}/codex"], [("label", "unknown"), ("expect", "Sign in with ChatGPT"), ("label", "waiting", "login"),
                                                ("sleep", 4)],
                             agent_kind="codex", shown_argv=["codex"]),
    "codex-trust": Scenario("Codex with a key in a git folder: folder trust, its prompt, a turn that retries the API",
                            [f"{BIN}/codex"], [("label", "unknown"), ("expect", "Trust this folder"), ("label", "waiting", "confirm"),
                                               ("sleep", 3), ("send", "1"), ("sleep", 0.3), ("send", "\r"), ("label", "unknown"),
                                               ("expect", "Ask Codex to do anything"), ("label", "idle"), ("sleep", 3),
                                               ("send", "list the files"), ("sleep", 0.5), ("send", "\r"), ("label", "working"),
                                               ("sleep", 6)],
                            agent_kind="codex", env={"OPENAI_API_KEY": "sk-fake"},
                            files={".codex/auth.json": '{"OPENAI_API_KEY": "sk-fake"}'},
                            setup=[["git", "init", "-q"]], shown_argv=["codex"]),
    "gemini-trust": Scenario("Gemini CLI: folder trust dialog",
                             [f"{BIN}/gemini"], [("label", "unknown"), ("expect", "Do you trust the files"), ("label", "waiting", "confirm"),
                                                 ("sleep", 4)],
                             agent_kind="gemini", shown_argv=["gemini"]),
    "gemini-auth": Scenario("Gemini CLI: folder trusted, then the sign-in picker",
                            [f"{BIN}/gemini"], [("label", "unknown"), ("expect", "Do you trust the files"), ("label", "waiting", "confirm"),
                                                ("sleep", 2), ("send", "1"), ("label", "unknown"),
                                                ("expect", "How would you like to authenticate"), ("label", "waiting", "login"), ("sleep", 4)],
                            agent_kind="gemini", shown_argv=["gemini"]),
    "gemini-key-prompt": Scenario("Gemini CLI with a key: trust, sign-in, the key field, its prompt, a turn that retries the API",
                                  [f"{BIN}/gemini"], [("label", "unknown"), ("expect", "Do you trust the files"), ("label", "waiting", "confirm"),
                                                      ("sleep", 2), ("send", "1"), ("label", "unknown"),
                                                      ("expect", "How would you like to authenticate"), ("label", "waiting", "login"),
                                                      ("sleep", 2), ("send", "2"), ("label", "unknown"),
                                                      ("expect", "Enter Gemini API Key"), ("label", "waiting", "password"), ("sleep", 3),
                                                      ("send", "\r"), ("label", "unknown"),
                                                      ("expect", "(?i)type your message"), ("label", "idle"), ("sleep", 3),
                                                      ("send", "hello"), ("sleep", 0.3), ("send", "\r"), ("label", "working"), ("sleep", 4)],
                                  agent_kind="gemini", env={"GEMINI_API_KEY": "fake"}, shown_argv=["gemini"]),
}
