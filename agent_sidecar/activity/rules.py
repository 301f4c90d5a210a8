"""Screen rules: what the rendered screen says the program is doing.

Each rule is a pure function of a ``ScreenView`` returning a ``Finding`` or None; the
first rule that answers wins. Agent rules come first, for the agent kind the command
runs, then the generic ones. Agent rules are versioned: ``RULES_VERSION`` changes when a
rule changes, and each rule names the agent versions it was checked against (the corpus
under tests/data/activity holds the screens).

Checked against: Claude Code 2.1.197, Codex CLI 0.171.0, Gemini CLI 0.61.0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..agents import AgentKind
from .model import Option, Reason, State
from .screen import ScreenView

RULES_VERSION = "2026.12.2"


@dataclass(frozen=True, slots=True)
class Finding:
    state: State
    rule: str
    reason: Reason | None = None
    prompt: str | None = None
    options: tuple[Option, ...] | None = None
    detail: str | None = None
    #: Generic text rules guess from words alone: the process probe may veto them.
    generic: bool = False


Rule = Callable[[ScreenView], Finding | None]

# ---------------------------------------------------------------------- helpers

_MENU_ITEM = re.compile(r"^\s*[│┃|]?\s*(?:[❯›>●▶→*]\s*)?(\d{1,2})[.)]\s+(\S.*?)\s*[│┃|]?\s*$")
_BOX = str.maketrans("", "", "│┃╭╮╰╯─━")


def unbox(line: str) -> str:
    """A line without box-drawing borders and their padding."""
    return line.translate(_BOX).strip()


def menu_options(lines: Sequence[str], start: int = 0, end: int | None = None,
                 enter: bool = False, *, width: int | None = None
                 ) -> tuple[Option, ...] | None:
    """Numbered items (``1. Yes``, ``❯ 2) No``) in ``lines[start:end]``, in order.

    ``keys`` is the number (and a carriage return when ``enter``): the agents' menus
    choose an item by its number; line-based programs read a number and Enter.
    Continuation lines (indented, no number) are joined to the item above when the line
    above was wrapped: their first word would not have fitted on it within ``width``.
    Otherwise they are a description (Codex: "Sign in with ChatGPT" over "Usage included
    with Plus, ...") and stay out of the label. Without ``width``, they are always joined.
    """
    items: list[tuple[int, str]] = []
    indent = None
    above = 0  # the length of the item's last line
    for line in lines[start:end]:
        m = _MENU_ITEM.match(line)
        if m:
            items.append((int(m.group(1)), m.group(2)))
            indent = m.start(2)
            above = len(line.rstrip())
        elif items and indent is not None and line.strip() and (
            len(line) - len(line.lstrip()) >= indent - 1
        ) and not _MENU_ITEM.match(line):
            extra = unbox(line)
            if width is not None and extra and above + 1 + len(extra.split()[0]) <= width:
                indent = None  # a description: nothing below it belongs to the label
                continue
            n, text = items[-1]
            above = len(line.rstrip())
            if extra and len(text) < 150:
                items[-1] = (n, f"{text} {extra}")
    # Keep the first run of consecutive numbers starting at 1.
    out: list[Option] = []
    for n, text in items:
        if n != len(out) + 1:
            if out:
                break
            continue
        out.append(Option(text[:200], f"{n}\r" if enter else str(n)))
    return tuple(out) if len(out) >= 2 else None


def _tail(view: ScreenView, n: int) -> Sequence[str]:
    """The last ``n`` lines that have text (and the blank ones between them)."""
    last = view.last_text_row()
    return view.lines[max(0, last - n + 1): last + 1]


def find(lines: Sequence[str], pattern: re.Pattern[str]) -> int:
    for i, line in enumerate(lines):
        if pattern.search(line):
            return i
    return -1


def paragraph(lines: Sequence[str], start: int, limit: int = 6) -> str:
    """The text from line ``start`` to the next blank line or menu item (unboxed)."""
    end = start + 1
    while end < min(len(lines), start + limit) and unbox(lines[end]) \
            and not _MENU_ITEM.match(lines[end]):
        end += 1
    return " ".join(unbox(line) for line in lines[start:end])


def block(lines: Sequence[str], start: int, end: int) -> str:
    """Lines ``start..end`` unboxed, blank runs squeezed, as one text."""
    out: list[str] = []
    for line in lines[max(start, 0): end]:
        text = unbox(line)
        if text or (out and out[-1]):
            out.append(text)
    return "\n".join(out).strip()


# ---------------------------------------------------------------------- Claude Code

_CC_PROCEED = re.compile(r"Do you want to (proceed|make this edit|create|allow|run)|"
                         r"requires approval|wants to (fetch|use|access)")
_CC_TRUST = re.compile(r"Do you trust the files in this folder|"
                       r"Is this a project you created or one you trust")
_CC_KEY = re.compile(r"Detected a custom API key")
_CC_LOGIN = re.compile(r"Select login method|Choose the text style|Browser didn't open|"
                       r"Paste code here")
_CC_WORKING = re.compile(r"\besc to interrupt\b", re.I)
_CC_IDLE_FOOTER = re.compile(r"\? for shortcuts|\bfor shortcuts\b")
_CC_RULE = re.compile(r"^─{20,}$")


def claude(view: ScreenView) -> Finding | None:
    lines = view.lines
    i = find(lines, _CC_TRUST)
    if i >= 0:
        return Finding("waiting", "claude.trust", "confirm", paragraph(lines, i),
                       menu_options(lines, i, width=view.cols))
    i = find(lines, _CC_KEY)
    if i >= 0:
        return Finding("waiting", "claude.api_key", "login", block(lines, i, i + 3),
                       menu_options(lines, i, width=view.cols))
    i = find(lines, _CC_LOGIN)
    if i >= 0:
        return Finding("waiting", "claude.login", "login", block(lines, i, i + 1),
                       menu_options(lines, i, width=view.cols))
    i = find(lines, _CC_PROCEED)
    if i >= 0:
        top = _dialog_top(lines, i)
        q = next((j for j in range(i, len(lines)) if lines[j].rstrip().endswith("?")), i)
        prompt = block(lines, top, q + 1)
        return Finding("waiting", "claude.permission", "permission", prompt,
                       menu_options(lines, q + 1, width=view.cols))
    tail = _tail(view, 4)
    if any(_CC_WORKING.search(line) for line in tail):
        spin = _spinner_line(lines)
        return Finding("working", "claude.spinner", detail=spin)
    menu = _agent_menu(view, "claude")
    if menu is not None:
        return menu
    if any(_CC_IDLE_FOOTER.search(line) for line in tail) or _cc_input_box(lines):
        return Finding("idle", "claude.prompt")
    return None


def _cc_input_box(lines: Sequence[str]) -> bool:
    """Claude Code's input box: a ``❯`` line right below a horizontal rule, with a rule
    below it too (what stays on screen after an interrupt, footer or not)."""
    for i in range(len(lines) - 2, 0, -1):
        if lines[i].startswith("❯") and _CC_RULE.match(lines[i - 1].strip()):
            return any(_CC_RULE.match(x.strip()) for x in lines[i + 1: i + 4])
    return False


def _dialog_top(lines: Sequence[str], i: int) -> int:
    """The first line of the dialog around line ``i`` (below the last horizontal rule)."""
    for j in range(i, -1, -1):
        if _CC_RULE.match(lines[j].strip()):
            return j + 1
    return max(0, i - 6)


_SPIN = re.compile(r"^\s*[✻✽✶✳✢·*⏺◐◓◑◒⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏•]\s+\S.*(…|\.\.\.|\()")


def _spinner_line(lines: Sequence[str]) -> str | None:
    """The spinner's words (``Thinking…``): without its glyph, its timer in brackets and
    what is drawn right of it, so the detail does not change with every frame."""
    for line in reversed(lines):
        if _SPIN.match(line):
            text = re.split(r"\s{3,}", line.strip())[0]
            text = re.sub(r"^\S\s+", "", text)
            text = re.sub(r"\s*\(.*$", "", text)
            return text[:200] or None
    return None


# ---------------------------------------------------------------------- Codex CLI

_CX_SIGNIN = re.compile(r"Sign in with ChatGPT|Sign in with Device Code|"
                        r"Paste (or type )?your API key|"
                        r"Enter your (OpenAI )?API key|Finish signing in")
_CX_TRUST = re.compile(r"(?i)do you trust the (files|contents)|trust this (folder|directory)|"
                       r"allow codex to work in this folder")
#: Codex 0.171's approval questions (from the strings in its binary: no recording, an
#: approval needs a model turn).
_CX_APPROVE = re.compile(r"(?i)would you like to (run|make|grant|apply|allow|send input)|"
                         r"do you want to approve network access|allow codex to|wants to run")
_CX_WORKING = re.compile(r"\b[Ee]sc to interrupt\b|Queued follow-up inputs")
_CX_IDLE = re.compile(r"Ask Codex to do anything|\bcontext left\b|\? for shortcuts")


def codex(view: ScreenView) -> Finding | None:
    lines = view.lines
    i = find(lines, _CX_SIGNIN)
    if i >= 0:
        password = re.search(r"(?i)api key", lines[i]) is not None
        if password:
            return Finding("waiting", "codex.api_key", "password", _label_only(lines[i]))
        title = next((j for j in range(i - 1, max(-1, i - 6), -1) if lines[j].strip()
                      and not _MENU_ITEM.match(lines[j])), i)
        return Finding("waiting", "codex.signin", "login", block(lines, title, title + 1),
                       menu_options(lines, max(0, title), enter=True, width=view.cols))
    i = find(lines, _CX_TRUST)
    if i >= 0:
        return Finding("waiting", "codex.trust", "confirm", paragraph(lines, i),
                       menu_options(lines, i, enter=True, width=view.cols))
    i = find(lines, _CX_APPROVE)
    if i >= 0:
        first = next((j for j in range(i + 1, len(lines)) if _MENU_ITEM.match(lines[j])),
                     i + 1)
        return Finding("waiting", "codex.approval", "permission", block(lines, i, first),
                       menu_options(lines, i, enter=True, width=view.cols))
    if any(_CX_WORKING.search(line) for line in lines):
        return Finding("working", "codex.working", detail=_spinner_line(lines))
    menu = _agent_menu(view, "codex", enter=True)
    if menu is not None:
        return menu
    if any(_CX_IDLE.search(line) for line in _tail(view, 6)):
        return Finding("idle", "codex.prompt")
    return None


def _label_only(line: str) -> str:
    """A field's label: up to its colon (never what was typed into it)."""
    text = unbox(line)
    cut = text.find(":")
    return text[: cut + 1] if cut >= 0 else text


# ---------------------------------------------------------------------- Gemini CLI

_GM_TRUST = re.compile(r"Do you trust the files in this folder|Do you trust this folder")
_GM_AUTH = re.compile(r"(?i)how would you like to authenticate|get started|sign in with google|"
                      r"login with google|use gemini api key")
#: The sign-in dialog's question, below its title ("? Get started"): the prompt.
_GM_AUTH_QUESTION = re.compile(r"(?i)how would you like to authenticate")
_GM_APPROVE = re.compile(r"(?i)allow execution|apply this change|allow (once|always)|"
                         r"do you want to proceed")
_GM_WORKING = re.compile(r"\(esc to cancel|esc to cancel\b", re.I)
_GM_IDLE = re.compile(r"(?i)type your message")


_GM_KEY = re.compile(r"Enter Gemini API Key")


def gemini(view: ScreenView) -> Finding | None:
    lines = view.lines
    i = find(lines, _GM_KEY)
    if i >= 0:  # the field below shows the key as typed: only the title is the prompt
        return Finding("waiting", "gemini.api_key", "password", unbox(lines[i]))
    i = find(lines, _GM_TRUST)
    if i >= 0:
        return Finding("waiting", "gemini.trust", "confirm", block(lines, i, i + 1),
                       menu_options(lines, i, width=view.cols))
    i = find(lines, _GM_APPROVE)
    if i >= 0:
        return Finding("waiting", "gemini.approval", "permission",
                       block(lines, max(0, i - 6), i + 1),
                       menu_options(lines, i, width=view.cols))
    i = find(lines, _GM_AUTH_QUESTION)
    if i < 0:
        i = find(lines, _GM_AUTH)
    if i >= 0 and menu_options(lines, i, width=view.cols):
        return Finding("waiting", "gemini.auth", "login", block(lines, i, i + 1),
                       menu_options(lines, i, width=view.cols))
    if any(_GM_WORKING.search(line) for line in lines):
        return Finding("working", "gemini.working", detail=_spinner_line(lines))
    if any(_GM_IDLE.search(line) for line in lines):
        return Finding("idle", "gemini.prompt")
    return _agent_menu(view, "gemini")


_MENU_HINT = re.compile(r"(?i)(enter (to )?(confirm|select|continue)|press enter|↑/↓|use arrow)")


def _agent_menu(view: ScreenView, agent: str, *, enter: bool = False) -> Finding | None:
    """Any numbered menu with an Enter hint: a TUI menu the specific rules do not know."""
    lines = view.lines
    hint = find(lines, _MENU_HINT)
    if hint < 0:
        return None
    options = menu_options(lines, max(0, hint - 15), hint, enter=enter, width=view.cols)
    if not options:
        return None
    first = next(j for j in range(max(0, hint - 15), hint) if _MENU_ITEM.match(lines[j]))
    title = next((j for j in range(first - 1, -1, -1) if unbox(lines[j])), first)
    return Finding("waiting", f"{agent}.menu", "menu", block(lines, title, title + 1), options)


# ---------------------------------------------------------------------- generic

#: A secret's label, and what may follow it on the line: nothing, or what was typed
#: (a field that echoes, or stars), which never goes into the prompt.
_PASSWORD = re.compile(r"(?i)^(.*(password|passphrase|passcode|\bpin\b|api[ _-]?key|token|secret)"
                       r"[^:?]{0,40}[:?])\s*\S*$")
_CONFIRM = re.compile(r"(?i)(\[(y|yes)/(n|no)\]|\((y|yes)/(n|no)\)|\by/n\b|\byes/no\b)\s*[:?]?\s*$")
_MENU_ASK = re.compile(r"(?i)(choice|choose|select|pick|option|number|#\?)[^:?]*[:?>]?\s*$")
_QUESTION = re.compile(r"[?:]\s*$")
_SHELL_PROMPT = re.compile(r"((^|\s|[\w)\]~/])([$#❯»]|>>>|\.\.\.|In \[\d+\]:)|(^|\s)%)\s*$")
_ANY_KEY = re.compile(r"(?i)(press|hit) (any key|enter|return)|--More--|\(END\)|^:$|"
                      r"^lines \d+-\d+")
_VIM = re.compile(r'^(-- INSERT --|".*" \d+L, \d+B|".*" \[New\]|~\s*$)')
_GIT_MSG = re.compile(r"^# Please enter the commit message")


def generic(view: ScreenView) -> Finding | None:
    lines = view.lines
    text = view.before_cursor()
    stripped = text.rstrip()
    at_end = bool(stripped) and view.cursor_col >= len(stripped)
    git = find(lines, _GIT_MSG)
    if git >= 0 or (sum(1 for line in lines if line == "~") >= 3 and any(
        _VIM.match(line) for line in lines[-2:]
    )):
        what = "git is waiting for the commit message in the editor" if git >= 0 else \
            "an editor is open"
        return Finding("waiting", "generic.editor", "other", what, generic=True)
    if _ANY_KEY.search(stripped) or (view.cursor_row >= view.rows - 1 and _ANY_KEY.search(
            view.cursor_line().strip())):
        prompt = stripped if len(stripped) > 3 else "a pager is waiting (q quits)"
        options: tuple[Option, ...] | None = (Option("Quit", "q"),) if len(stripped) <= 6 \
            else None
        return Finding("waiting", "generic.press_key", "other", prompt, options, generic=True)
    if not at_end:
        return None
    secret = _PASSWORD.match(stripped)
    if secret:
        return Finding("waiting", "generic.password", "password", secret.group(1).strip(),
                       generic=True)
    if _CONFIRM.search(stripped):
        yes, no = ("y\r", "n\r")
        if re.search(r"(?i)yes/no", stripped):
            yes, no = ("yes\r", "no\r")
        options = (Option("Yes", yes), Option("No", no))
        return Finding("waiting", "generic.confirm", "confirm", _question(lines, view), options,
                       generic=True)
    if _SHELL_PROMPT.search(stripped) and len(stripped) < 120:
        return Finding("idle", "generic.shell_prompt", generic=True)
    options = menu_options(lines, max(0, view.cursor_row - 15), view.cursor_row, enter=True,
                           width=view.cols)
    if options and (_MENU_ASK.search(stripped) or _QUESTION.search(stripped)):
        return Finding("waiting", "generic.menu", "menu", _question(lines, view), options,
                       generic=True)
    if _QUESTION.search(stripped) or stripped.endswith(">"):
        return Finding("waiting", "generic.question", "question", _question(lines, view),
                       generic=True)
    return None


_COMMAND_LINE = re.compile(r"^\S{0,40}[$#%>] ")


def _question(lines: Sequence[str], view: ScreenView) -> str:
    """The prompt before the cursor, with the line above it when that one leads in."""
    text = view.before_cursor().strip()
    row = view.cursor_row
    above = lines[row - 1] if row > 0 else ""
    if len(text) < 12 and above.strip() and not _MENU_ITEM.match(above) \
            and not _COMMAND_LINE.match(above):
        return f"{above.strip()}\n{text}"
    return text


AGENT_RULES: dict[AgentKind, Rule] = {"claude": claude, "codex": codex, "gemini": gemini}


def evaluate(view: ScreenView, kind: AgentKind) -> Finding | None:
    """What the screen says, for a program of ``kind``."""
    rule = AGENT_RULES.get(kind)
    if rule is not None:
        found = rule(view)
        if found is not None:
            return found
    return generic(view)


_NOT_MEANINGFUL = re.compile(
    r"^[\s─━│┃╭╮╰╯═·•.*~\u2800-\u28ff-]*$|\s·\s/\w+$|^[$#%❯›>»]\s*$|^>>>\s*$|\bfor shortcuts\b|"
    r"^\s*(esc to interrupt|\? for)|(?i:shift\+)|Type your message|Ask Codex to do anything")


_INPUT_LINE = re.compile(r"^\s*[❯›>](\s|$)")
_GLYPH = re.compile(r"^[^\w\s(\[\"'/.~$<]\s+")


def last_meaningful_line(view: ScreenView) -> str | None:
    """The last line of the screen a person would read as news: not blank, not a border,
    not an input box or a footer of key hints below it, without a leading spinner glyph
    or a trailing timer. Box borders are removed."""
    lines = list(view.lines[: view.last_text_row() + 1])
    # An agent's input line near the bottom (❯, ›, >): what counts is above it.
    for i in range(len(lines) - 1, max(-1, len(lines) - 9), -1):
        if _INPUT_LINE.match(unbox(lines[i]) if "│" in lines[i] else lines[i]):
            lines = lines[:i]
            break
    for line in reversed(lines):
        text = unbox(line).replace("\ufffd", "").strip()
        if text and not _NOT_MEANINGFUL.search(text):
            text = re.split(r"\s{3,}", text)[0]
            text = _GLYPH.sub("", text)
            return re.sub(r"\s+\([^)]*(\d+s\b|esc)[^)]*\)?\s*$", "", text)[:200] or None
    return None
