"""Steering from the browser: who owns the size, every column reachable, one terminal
answering queries, Stop vs SIGINT, the command box against an Ink-like agent, no lost
first key, copy/paste, links and the palette. Protocol-level cases use a fake agent;
submit, Stop and the first key go through the real `agent-sidecar run` and a fake TUI.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.fakes import AGENT_TUI, agent_tui_named

from .harness import (
    FakeAgent,
    MakeAgent,
    NewPage,
    Relay,
    StartSidecar,
    pane_selector,
    wait_for_buffer,
)

pytestmark = pytest.mark.browser

FAKE = AGENT_TUI


def open_terminal(page: Any, agent_id: str) -> Any:
    page.locator(f'.agent-row[data-agent-id="{agent_id}"]').click()
    pane = page.locator(pane_selector(agent_id))
    expect(pane).to_be_visible()
    return pane


def pane_eval(page: Any, agent_id: str, script: str) -> Any:
    return page.locator(pane_selector(agent_id)).evaluate(script)


def send_activity(agent: FakeAgent, kind: str) -> None:
    agent.send("agent:activity", activity={
        "state": "working", "since": 1.0, "reason": None, "prompt": None,
        "options": None, "decision_id": None, "detail": None, "agent_kind": kind,
        "source": "process"})


# ---------------------------------------------------------------------------- size


@pytest.mark.parametrize(("width", "height"), [(1400, 900), (390, 844)], ids=["desktop", "phone"])
def test_a_local_terminal_keeps_its_size_and_every_column_is_reachable(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, width: int, height: int
) -> None:
    agent = make_agent("wide", cols=160, rows=40, local_terminal=True)
    agent.output("L" + "-" * 158 + "R")
    page = new_page(width, height)
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "wide")
    wait_for_buffer(page, "wide", "R")
    pane.locator(".xterm").click()
    page.keyboard.type("k")
    agent.wait_for(lambda msgs: any(m.get("type") == "terminal:input" for m in msgs))
    assert agent.of_type("terminal:resize") == []
    expect(pane.locator(".pane-badge")).to_have_text("typing")
    geometry = pane_eval(page, "wide", """el => {
        const body = el.querySelector('.pane-body');
        const screen = el.querySelector('.xterm-screen');
        body.scrollLeft = body.scrollWidth;
        const b = body.getBoundingClientRect(), s = screen.getBoundingClientRect();
        return {cols: el.pane.term.cols, rows: el.pane.term.rows,
                font: el.pane.term.options.fontSize, screenRight: s.right, bodyRight: b.right,
                screenWidth: s.width, bodyWidth: body.clientWidth};
    }""")
    assert (geometry["cols"], geometry["rows"]) == (160, 40)
    assert geometry["font"] >= 9
    # Scrolled to the end, the last column is inside the pane.
    assert geometry["screenRight"] <= geometry["bodyRight"] + 1
    if width >= 1400:  # wide enough: the font shrank so that no scrolling is needed
        assert geometry["screenWidth"] <= geometry["bodyWidth"]
        assert geometry["font"] < 13


def test_a_headless_agent_is_sized_by_the_typing_pane_that_fits_its_pane(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("hl", cols=200, rows=60, local_terminal=False)
    agent.output("$ ")
    page = new_page(390, 844)
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "hl")
    wait_for_buffer(page, "hl", "$")
    pane.locator(".xterm").click()
    agent.wait_for(lambda msgs: any(m.get("type") == "terminal:resize" for m in msgs))
    (resize,) = agent.of_type("terminal:resize")
    fits = pane_eval(page, "hl", """el => {
        const body = el.querySelector('.pane-body');
        return el.querySelector('.xterm-screen').getBoundingClientRect().width
            <= body.clientWidth;
    }""")
    assert fits
    assert 20 < resize["cols"] < 60  # a phone pane's width at the normal font


# ---------------------------------------------------------------------------- queries


QUERIES = "\x1b[6n\x1b[c\x1b[>c\x1b[?2004$p\x1b]11;?\x07 queried\r\n"


def test_no_pane_answers_queries_while_a_local_terminal_is_attached(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("lq", local_terminal=True)
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "lq")
    pane.locator(".xterm").click()
    page.keyboard.type("a")  # typing in this pane from now on
    agent.output(QUERIES)
    wait_for_buffer(page, "lq", "queried")
    page.keyboard.type("z")  # sync point: replies would have come before it
    agent.wait_for(lambda msgs: "z" in "".join(m.get("data", "") for m in msgs))
    assert agent.typed() == "az"


def test_only_the_typing_pane_answers_queries_of_a_headless_agent(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("hq", local_terminal=False)
    watcher = new_page()
    watcher.goto(relay.dashboard_url("operator", sub="other"))
    open_terminal(watcher, "hq")  # open, not typing
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "hq")
    pane.locator(".xterm").click()
    agent.wait_for(lambda msgs: any(m.get("type") == "terminal:resize" for m in msgs))
    agent.output(QUERIES)
    wait_for_buffer(page, "hq", "queried")
    wait_for_buffer(watcher, "hq", "queried")
    page.keyboard.type("z")
    agent.wait_for(lambda msgs: "z" in "".join(m.get("data", "") for m in msgs))
    typed = agent.typed()
    assert typed.endswith("z")
    assert len(re.findall(r"\x1b\[\d+;\d+R", typed)) == 1  # one cursor-position report
    assert len(re.findall(r"\x1b\[\?[\d;]*c", typed)) == 1  # one DA1 answer
    assert len(re.findall(r"\x1b\[>[\d;]*c", typed)) == 1  # one DA2 answer


# ---------------------------------------------------------------------------- stop


@pytest.mark.parametrize(
    ("command", "activity", "stop_sends"),
    [
        (["claude"], None, "\x1b"),
        (["npx", "-y", "@google/gemini-cli"], None, "\x1b"),
        (["node", "main.js"], "codex", "\x1b"),
        (["aider"], None, "\x03"),
    ],
    ids=["claude", "gemini-by-command", "codex-by-activity", "aider"],
)
def test_stop_sends_the_agents_own_stop_key_and_sigint_stays_separate(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage,
    command: list[str], activity: str | None, stop_sends: str,
) -> None:
    agent = make_agent("ag", command=command)
    if activity:
        send_activity(agent, activity)
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "ag")
    pane.get_by_role("button", name="Stop", exact=True).click()
    expect(pane.locator(".ack")).to_contain_text("stop:")
    expect(pane.locator(".ack")).to_contain_text("sent ✓")
    (request,) = agent.of_type("command:request")
    assert request["input"] == stop_sends
    assert request["submit"] is False
    assert agent.of_type("command:interrupt") == []
    pane.get_by_role("button", name="SIGINT", exact=True).click()
    expect(pane.locator(".ack")).to_have_text("SIGINT: SIGINT delivered ✓")
    (interrupt,) = agent.of_type("command:interrupt")
    assert interrupt["signal"] == "SIGINT"


def test_stop_is_sigint_for_a_shell(relay: Relay, make_agent: MakeAgent, new_page: NewPage) -> None:
    agent = make_agent("sh", command=["bash"])
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "sh")
    expect(pane.get_by_role("button", name="SIGINT")).to_be_hidden()
    pane.get_by_role("button", name="Stop", exact=True).click()
    expect(pane.locator(".ack")).to_have_text("stop: SIGINT delivered ✓")
    assert [m["signal"] for m in agent.of_type("command:interrupt")] == ["SIGINT"]
    assert agent.of_type("command:request") == []


# ---------------------------------------------------------------------------- real sidecar


def test_the_command_box_submits_to_an_ink_like_agent_and_stop_stops_its_turn(
    relay: Relay, sidecar: StartSidecar, new_page: NewPage, tmp_path: Path
) -> None:
    sidecar("ink", [agent_tui_named(tmp_path, "gemini"), "--fast-return", "30"])
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "ink")
    wait_for_buffer(page, "ink", "READY")
    box = pane.get_by_label("Command for the agent")
    for n in range(3):
        box.fill(f"explain step {n}")
        box.press("Enter")
        expect(pane.locator(".ack")).to_have_text("command: submitted ✓")
        wait_for_buffer(page, "ink", f"SUBMIT:explain step {n}")
    pane.get_by_role("button", name="Stop", exact=True).click()
    expect(pane.locator(".ack")).to_have_text("stop: Esc sent ✓")
    wait_for_buffer(page, "ink", "STOPPED")


def test_the_first_key_into_a_fresh_pane_is_not_lost(
    relay: Relay, sidecar: StartSidecar, new_page: NewPage
) -> None:
    """The agent drops typeahead while it redraws for SIGWINCH, as less does."""
    sidecar("pager", [sys.executable, FAKE, "--winch-flush"])
    for n, key in enumerate("qwer"):
        page = new_page(1000 + 60 * n, 700 + 40 * n)  # every pane a new size
        page.goto(relay.dashboard_url("operator"))
        pane = open_terminal(page, "pager")
        wait_for_buffer(page, "pager", "READY")
        pane.locator(".xterm").click()
        page.keyboard.press(key)
        wait_for_buffer(page, "pager", f"KEY:b'{key}'")


# ---------------------------------------------------------------------------- copy, paste, links, colours


def test_ctrl_c_with_a_selection_copies_and_ctrl_v_pastes(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("cp", local_terminal=True)
    agent.output("\x1b[?2004hcopy me please\r\n")
    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "cp")
    wait_for_buffer(page, "cp", "copy me please")
    pane.locator(".xterm").click()
    pane_eval(page, "cp", "el => el.pane.term.selectLines(0, 0)")
    page.keyboard.press("Control+c")
    assert page.evaluate("navigator.clipboard.readText()").strip() == "copy me please"
    page.evaluate("navigator.clipboard.writeText('pasted text')")
    page.keyboard.press("Control+v")
    agent.wait_for(lambda msgs: "pasted" in "".join(m.get("data", "") for m in msgs))
    assert agent.typed() == "\x1b[200~pasted text\x1b[201~"  # bracketed: the app asked
    pane_eval(page, "cp", "el => el.pane.term.clearSelection()")
    page.keyboard.press("Control+c")  # no selection: ^C goes to the agent
    agent.wait_for(lambda msgs: "\x03" in "".join(m.get("data", "") for m in msgs))


def test_urls_and_osc8_links_open_in_a_new_tab(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("ln")
    agent.output("see https://example.com/a-page for more\r\n"
                 "\x1b]8;;https://example.org/osc8\x1b\\labelled link\x1b]8;;\x1b\\\r\n")
    page = new_page()
    page.add_init_script("window.__opened = []; window.open = (u) => { window.__opened.push(u); };")
    page.goto(relay.dashboard_url("viewer"))
    open_terminal(page, "ln")
    wait_for_buffer(page, "ln", "labelled link")
    for row, col in [(0, 10), (1, 3)]:
        x, y = pane_eval(page, "ln", f"""el => {{
            const s = el.querySelector('.xterm-screen').getBoundingClientRect();
            const t = el.pane.term;
            return [s.left + ({col} + 0.5) * s.width / t.cols,
                    s.top + ({row} + 0.5) * s.height / t.rows];
        }}""")
        page.mouse.move(x, y)
        page.mouse.move(x + 1, y)
        page.mouse.click(x + 1, y)
    page.wait_for_function("window.__opened.length === 2")
    assert page.evaluate("window.__opened") == ["https://example.com/a-page",
                                                "https://example.org/osc8"]


def test_bold_is_not_bright_and_the_palette_is_tango(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("co")
    agent.output("\x1b[1;31mBOLDRED\x1b[0m\r\n")
    page = new_page()
    page.goto(relay.dashboard_url("viewer"))
    open_terminal(page, "co")
    wait_for_buffer(page, "co", "BOLDRED")
    color = pane_eval(page, "co", """el => {
        const span = [...el.querySelectorAll('.xterm-rows span')]
            .find((s) => s.textContent.includes('BOLDRED'));
        return getComputedStyle(span).color;
    }""")
    assert color == "rgb(204, 0, 0)"  # Tango red #cc0000, not bright red #ef2929
