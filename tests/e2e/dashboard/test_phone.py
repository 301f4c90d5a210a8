"""The dashboard on a phone: a 390x844 touch screen (Chromium's mobile emulation).

One column: the fleet, or one terminal full screen with a way back; a key bar for the
keys an on-screen keyboard lacks; the page sized from the visual viewport; touch
scrolling through the scrollback. Screenshots go to test-artifacts/ for a human look.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import FloatRect, Locator, Page, expect

from .harness import ARTIFACTS, MakeAgent, NewPage, Relay, pane_selector, wait_for_buffer

pytestmark = pytest.mark.browser

W, H = 390, 844


def row(page: Page, agent_id: str) -> Locator:
    return page.locator(f'.agent-row[data-agent-id="{agent_id}"]')


def box(locator: Locator) -> FloatRect:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not visible"
    return found


def within(b: FloatRect, width: float, height: float) -> bool:
    """Is the box wholly inside a width x height viewport?"""
    return b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= width and b["y"] + b["height"] <= height


def overflowing(page: Page) -> list[str]:
    """Visible elements that stick out of the viewport on the right (nothing may)."""
    return list(page.evaluate(
        """(width) => [...document.querySelectorAll('body *')].filter((el) => {
             const r = el.getBoundingClientRect();
             if (r.width === 0 || r.height === 0) return false;
             if (el.closest('.xterm')) return false;  // the terminal scrolls by itself
             return r.right > width + 0.5;
           }).map((el) => `${el.tagName}.${el.className} right=${el.getBoundingClientRect().right}`)""",
        W,
    ))


def test_phone_shows_the_fleet_then_one_terminal_full_screen_and_back(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    long_line = "x" * 400
    claude = make_agent("claude-api", name="claude: a very long agent name that goes on and on",
                        command=["claude", "--model", "opus", "--dangerously-long-argument-list"],
                        labels={"team": "api"})
    claude.output(f"{long_line}\r\n")
    claude.activity("waiting", reason="permission", decision_id="d-1",
                    prompt="Allow Bash: rm -rf build/ && make -j8 all && ./run-the-long-suite --everything")
    make_agent("build-7", name="nightly build").status("idle")
    quitter = make_agent("lint", name="lint bot")
    quitter.status("exited", exit_code=2)
    page = new_page(W, H, phone=True)
    page.goto(relay.dashboard_url("operator", sub="maria"))
    expect(page.locator("#conn-text")).to_have_text("connected")
    expect(row(page, "lint").locator(".agent-state")).to_have_text("exited 2")
    expect(row(page, "claude-api").locator(".agent-preview")).to_have_text(re.compile("^Allow Bash"))
    expect(row(page, "claude-api").locator(".needs-badge")).to_be_visible()
    # The top bar is one line; states and times stay on screen.
    assert box(page.locator(".topbar"))["height"] <= 44
    for agent_id in ("claude-api", "build-7", "lint"):
        for part in (".agent-state", ".agent-since"):
            b = box(row(page, agent_id).locator(part))
            assert within(b, W, H), (agent_id, part, b)
    assert overflowing(page) == []
    expect(page.locator(".workspace")).to_be_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone-fleet.png"))

    row(page, "claude-api").tap()
    pane = page.locator(pane_selector("claude-api"))
    expect(pane).to_be_visible()
    expect(page.locator(".fleet")).to_be_hidden()
    wait_for_buffer(page, "claude-api", "xxxx")
    assert "agent=claude-api" in page.url
    b = box(pane)
    assert (b["x"], b["width"]) == (0, W), b
    for control in (".pane-back", ".keybar", ".command-input", ".answer .btn-allow", ".answer .btn-deny"):
        b = box(pane.locator(control))
        assert within(b, W, H), (control, b)
    head = pane.locator(".pane-head")
    for button in head.locator("button:visible, a:visible").all():
        b = box(button)
        assert within(b, W, H), (button.get_attribute("aria-label"), b)
    expect(pane.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "phone-terminal.png"))

    # Our back button, and the browser's back button, both return to the fleet.
    pane.get_by_role("button", name="Back to the agents").tap()
    expect(page.locator(".fleet")).to_be_visible()
    expect(pane).to_be_hidden()
    assert "agent=" not in page.url
    row(page, "build-7").tap()
    expect(page.locator(pane_selector("build-7"))).to_be_visible()
    page.go_back()
    expect(page.locator(".fleet")).to_be_visible()
    expect(row(page, "build-7")).to_have_class(re.compile("is-open"))
    assert page_errors == []


def test_key_bar_sends_the_keys_agents_ask_for(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    agent = make_agent("menu")
    agent.output("Pick one: 1) yes 2) no\r\n")
    page = new_page(W, H, phone=True)
    page.goto(relay.dashboard_url("operator"))
    row(page, "menu").tap()
    pane = page.locator(pane_selector("menu"))
    wait_for_buffer(page, "menu", "Pick one")
    keys = ["Escape", "Tab", "Left", "Up", "Down", "Right", "Enter", "Ctrl-C", "1", "2", "3", "y", "n"]
    for name in keys:
        pane.locator(f'.keybar [data-key="{name}"]').tap()
    expected = "\x1b\t\x1b[D\x1b[A\x1b[B\x1b[C\r\x03123yn"
    agent.wait_for(lambda _: agent.typed() == expected)
    # Arrows follow the terminal's cursor-key mode (DECCKM), as a keyboard's would.
    agent.output("\x1b[?1hmode set\r\n")
    wait_for_buffer(page, "menu", "mode set")
    pane.locator('.keybar [data-key="Up"]').tap()
    agent.wait_for(lambda _: agent.typed() == expected + "\x1bOA")
    assert page_errors == []


def test_viewers_get_no_key_bar(relay: Relay, make_agent: MakeAgent, new_page: NewPage) -> None:
    make_agent("ro").output("$ ")
    page = new_page(W, H, phone=True)
    page.goto(relay.dashboard_url("viewer"))
    row(page, "ro").tap()
    wait_for_buffer(page, "ro", "$")
    expect(page.locator(".keybar")).to_have_count(0)


def test_a_smaller_visual_viewport_keeps_the_input_and_keys_in_sight(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    make_agent("kb").output("$ ")
    page = new_page(W, H, phone=True)
    page.goto(relay.dashboard_url("operator"))
    row(page, "kb").tap()
    pane = page.locator(pane_selector("kb"))
    wait_for_buffer(page, "kb", "$")
    # What an on-screen keyboard does to the visual viewport: 844 -> 460 px tall.
    page.set_viewport_size({"width": W, "height": 460})
    page.wait_for_function("() => document.documentElement.style.getPropertyValue('--app-height') === '460px'")
    for control in (".command-input", ".keybar", ".pane-head"):
        b = box(pane.locator(control))
        assert within(b, W, 460), (control, b)
    page.screenshot(path=str(ARTIFACTS / "phone-keyboard.png"))


def test_touch_scrolls_through_the_scrollback(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    agent = make_agent("long")
    agent.output("".join(f"line {i:04d}\r\n" for i in range(400)))
    page = new_page(W, H, phone=True)
    page.goto(relay.dashboard_url("viewer"))
    row(page, "long").tap()
    wait_for_buffer(page, "long", "line 0399")
    pane = page.locator(pane_selector("long"))
    viewport_y = "(sel) => document.querySelector(sel).scrollPlace().viewportY"
    bottom = page.evaluate(viewport_y, pane_selector("long"))
    assert bottom > 300
    screen = box(pane.locator(".xterm-screen"))
    x = screen["x"] + screen["width"] / 2
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, y: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    # A finger drags the text down: earlier lines come into view.
    top = screen["y"] + 40
    touch("touchStart", top)
    for step in range(1, 16):
        touch("touchMove", top + step * 30)
    touch("touchEnd", 0)
    page.wait_for_function(f"(sel) => ({viewport_y})(sel) < {bottom - 10}", arg=pane_selector("long"))
    assert page_errors == []


def test_in_a_terminal_the_back_button_counts_the_agents_that_need_you(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    here = make_agent("here")
    here.output("$ ")
    other = make_agent("other", name="other agent")
    page = new_page(W, H, phone=True)
    page.goto(relay.dashboard_url("operator"))
    row(page, "here").tap()
    back = page.locator(pane_selector("here")).locator(".pane-back")
    expect(back).to_be_visible()
    expect(back).to_have_attribute("aria-label", "Back to the agents")
    other.activity("waiting", reason="question", prompt="Proceed?")
    expect(back).to_have_attribute("data-count", "1")
    expect(back).to_have_attribute("aria-label", "Back to the agents (1 needs you)")
    page.screenshot(path=str(ARTIFACTS / "phone-back-count.png"))
    # The agent in front waiting too: its question is on screen, the count is the others.
    here.activity("waiting", reason="confirm", prompt="Really?")
    expect(page.locator(pane_selector("here")).locator(".answer")).to_be_visible()
    expect(back).to_have_attribute("data-count", "1")
    expect(page).to_have_title("(2) here · agent-sidecar")
    other.activity("working")
    expect(back).to_have_attribute("data-count", "0")
    assert page_errors == []
