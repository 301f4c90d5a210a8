"""Screen rules on hand-made screens (tables); the corpus test covers real ones."""

from __future__ import annotations

import pytest

from agent_sidecar.activity.rules import evaluate, last_meaningful_line, menu_options
from agent_sidecar.activity.screen import ScreenModel, ScreenView


def screen(text: str, cols: int = 60, rows: int = 8) -> ScreenView:
    model = ScreenModel(cols, rows)
    model.push(text.replace("\n", "\r\n").encode())
    model.catch_up()
    return model.view()


RULE = "─" * 50

CASES = [
    ("$ ", "shell", ("idle", None)),
    ("$ make\r\nDo you want to continue? [Y/n] ", "shell", ("waiting", "confirm")),
    ("[sudo] password for deploy: ", "shell", ("waiting", "password")),
    ("deploy@build-01's password: ", "shell", ("waiting", "password")),
    ("Pick one:\n  1) staging\n  2) production\nChoice: ", "other", ("waiting", "menu")),
    ("Deploy to production? ", "other", ("waiting", "question")),
    (">>> ", "other", ("idle", None)),
    ("downloading 45%", "other", None),
    ("compiling foo.c\n", "other", None),
    (f"{RULE}\n Do you want to proceed?\n ❯ 1. Yes\n   2. No\n", "claude", ("waiting", "permission")),
    (f"✻ Thinking…\n{RULE}\n❯ \n{RULE}\n  esc to interrupt", "claude", ("working", None)),
    (f"● Done.\n{RULE}\n❯ \n{RULE}\n  ? for shortcuts", "claude", ("idle", None)),
]


@pytest.mark.parametrize(("text", "kind", "expected"), CASES)
def test_rules(text: str, kind: str, expected: tuple[str, str | None] | None) -> None:
    found = evaluate(screen(text), kind)  # type: ignore[arg-type]
    assert (None if found is None else (found.state, found.reason)) == expected


def test_a_password_prompt_keeps_only_its_label() -> None:
    found = evaluate(screen("Enter API key: sk-live-123"), "other")
    assert found is not None
    assert found.prompt == "Enter API key:"


def test_menu_options_carry_the_keys_that_choose_them() -> None:
    found = evaluate(screen("Pick one:\n  1) staging\n  2) production\nChoice: "), "other")
    assert found is not None
    assert [(o.label, o.keys) for o in found.options or ()] == [("staging", "1\r"),
                                                               ("production", "2\r")]


MENUS = [
    # A description under a short label (Codex's sign-in picker) is not part of it.
    (["> 1. Sign in with ChatGPT", "     Usage included with Plus and Pro", "",
      "  2. Provide your own API key", "     Pay for what you use"],
     ["Sign in with ChatGPT", "Provide your own API key"]),
    # A label wrapped because its next word (a path) did not fit is joined.
    (["\u276f 1. Yes", "  2. Yes, and don't ask again for make commands in",
      "     /home/someone/projects/a-rather-long-name", "  3. No"],
     ["Yes", "Yes, and don't ask again for make commands in "
      "/home/someone/projects/a-rather-long-name", "No"]),
    # Word-wrapped prose: the first word of the next line did not fit either.
    (["  1. Continue with the current plan and run every remaining step of",
      "     it without asking", "  2. Stop"],
     ["Continue with the current plan and run every remaining step of it without asking",
      "Stop"]),
]


@pytest.mark.parametrize(("lines", "labels"), MENUS)
def test_menu_labels_join_wrapped_lines_but_not_descriptions(lines: list[str],
                                                              labels: list[str]) -> None:
    options = menu_options(lines, width=68)
    assert [o.label for o in options or ()] == labels


LINES = [
    ("$ make\r\ncc -o app main.c\r\n$ ", "cc -o app main.c"),
    (f"● Done: the build is clean.\n✻ Crunched for 10s\n{RULE}\n❯ \n{RULE}\n  ? for shortcuts",
     "Crunched for 10s"),
    ("⠋ Resolving (3s • esc to interrupt)", "Resolving"),
    ("", None),
]


@pytest.mark.parametrize(("text", "line"), LINES)
def test_last_meaningful_line(text: str, line: str | None) -> None:
    assert last_meaningful_line(screen(text)) == line


def test_a_codex_approval_is_a_permission_with_the_command_and_its_choices() -> None:
    found = evaluate(screen(
        "  Would you like to run the following command?\n\n  $ rm -rf build\n\n"
        "\u203a 1. Yes, proceed (y)\n  2. No, and tell Codex what to do differently (esc)\n\n"
        "  Press enter to confirm or esc to cancel", cols=80, rows=12), "codex")
    assert found is not None
    assert (found.state, found.reason) == ("waiting", "permission")
    assert found.prompt == "Would you like to run the following command?\n\n$ rm -rf build"
    assert [o.keys for o in found.options or ()] == ["1\r", "2\r"]


def test_geminis_sign_in_asks_its_question_not_its_title() -> None:
    found = evaluate(screen(
        "\u256d" + "\u2500" * 60 + "\u256e\n"
        "\u2502 ? Get started" + " " * 46 + "\u2502\n"
        "\u2502" + " " * 60 + "\u2502\n"
        "\u2502 How would you like to authenticate for this project?" + " " * 7 + "\u2502\n"
        "\u2502" + " " * 60 + "\u2502\n"
        "\u2502   1. Sign in with Google" + " " * 35 + "\u2502\n"
        "\u2502 \u25cf 2. Use Gemini API Key" + " " * 34 + "\u2502\n"
        "\u2502   3. Vertex AI" + " " * 45 + "\u2502\n"
        "\u2502 (Use Enter to select)" + " " * 38 + "\u2502\n"
        "\u2570" + "\u2500" * 60 + "\u256f", cols=70, rows=12), "gemini")
    assert found is not None
    assert (found.state, found.reason) == ("waiting", "login")
    assert found.prompt == "How would you like to authenticate for this project?"
    assert [o.label for o in found.options or ()] == [
        "Sign in with Google", "Use Gemini API Key", "Vertex AI"]
