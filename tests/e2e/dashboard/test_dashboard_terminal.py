"""Terminals: replay + live output, typing, command box, Stop, viewers, resize,
gaps, floods and a relay restart. Typing, commands, Stop and the restart drive the
real `agent-sidecar run` with a real PTY child; the rest use a protocol-speaking fake."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.timing import scaled

from .harness import (
    ECHO_CHILD,
    CustomRelay,
    FakeAgent,
    MakeAgent,
    NewPage,
    Relay,
    StartSidecar,
    buffer_text,
    pane_selector,
    token,
    wait_for_buffer,
)

pytestmark = pytest.mark.browser


def open_terminal(page: Page, agent_id: str) -> Locator:
    page.locator(f'.agent-row[data-agent-id="{agent_id}"]').click()
    pane = page.locator(pane_selector(agent_id))
    expect(pane).to_be_visible()
    return pane


def test_scrollback_replays_then_goes_live_with_utf8_split_across_chunks(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("a1")
    agent.output("before open: línea 1\r\n")
    text = "split: café 日本語 🚀\r\n".encode()
    cut = text.index("日".encode()) + 1  # inside a multi-byte character
    agent.output(text[:cut])
    page = new_page()
    page.goto(relay.dashboard_url("viewer"))
    open_terminal(page, "a1")
    wait_for_buffer(page, "a1", "before open: línea 1")
    agent.output(text[cut:])
    agent.output("live: ok\r\n")
    wait_for_buffer(page, "a1", "live: ok")
    lines = buffer_text(page, "a1").splitlines()
    assert lines[:3] == ["before open: línea 1", "split: café 日本語 🚀", "live: ok"]


def test_typing_in_the_terminal_reaches_the_agent(
    relay: Relay, sidecar: StartSidecar, new_page: NewPage
) -> None:
    sidecar("typer", ECHO_CHILD)
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "typer")
    wait_for_buffer(page, "typer", "child ready")
    pane.locator(".xterm").click()
    page.keyboard.type("hello")
    page.keyboard.press("Enter")
    wait_for_buffer(page, "typer", "got olleh")
    expect(pane.locator(".pane-badge")).to_have_text("typing")


def _type_and_check(page: Page, url: str, agent: FakeAgent, keys: int) -> None:
    """Open ``agent``'s pane at ``url``, type ``keys`` keys with no delay between them,
    and check that every one arrived, in order."""
    page.goto(url)
    pane = open_terminal(page, agent.agent_id)
    pane.locator(".xterm").click()
    text = "".join(chr(ord("a") + i % 26) for i in range(keys))
    page.keyboard.type(text)
    agent.wait_for(lambda _: len(agent.typed()) >= len(text), timeout=30)
    assert agent.typed() == text


def test_keys_typed_faster_than_the_rate_limit_all_arrive_in_order(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("fast")
    # 600 keys with no delay between them: several hundred per second, over the relay's
    # 50 per second and burst of 200, which drops what comes over it.
    _type_and_check(new_page(), relay.dashboard_url("operator"), agent, 600)
    assert len(agent.of_type("terminal:input")) < 600  # kept keys went together


def test_a_pane_paces_its_keys_by_the_limit_its_relay_tells(
    custom_relay: CustomRelay, new_page: NewPage
) -> None:
    slow, make_agent = custom_relay(rate_limit=10.0, rate_burst=10)
    # 150 keys: 15 s of this relay's budget, typed in well under that.
    _type_and_check(new_page(), slow.dashboard_url("operator"), make_agent("paced"), 150)


def test_command_box_and_interrupt(relay: Relay, sidecar: StartSidecar, new_page: NewPage) -> None:
    sidecar("cmd", ECHO_CHILD)
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "cmd")
    wait_for_buffer(page, "cmd", "child ready")
    pane.get_by_label("Command for the agent").fill("deploy now")
    pane.get_by_label("Command for the agent").press("Enter")
    expect(pane.locator(".ack")).to_have_text("command: submitted ✓")
    wait_for_buffer(page, "cmd", "got won yolped")

    pane.get_by_role("button", name="Stop", exact=True).click()  # a plain command: SIGINT
    expect(pane.locator(".ack")).to_have_text("stop: SIGINT delivered ✓")
    wait_for_buffer(page, "cmd", "caught SIGINT")


def test_viewer_cannot_type_and_the_relay_refuses_it_too(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("ro")
    agent.output("$ ")
    viewer = new_page()
    viewer.goto(relay.dashboard_url("viewer", sub="sam"))
    pane = open_terminal(viewer, "ro")
    expect(pane.locator(".pane-badge")).to_have_text("read-only")
    expect(pane.get_by_role("button", name="Stop")).to_have_count(0)
    expect(pane.get_by_role("button", name="SIGINT")).to_have_count(0)
    expect(pane.get_by_label("Command for the agent")).to_have_count(0)
    pane.locator(".xterm").click()
    viewer.keyboard.type("rm -rf /\n")

    # The relay refuses a viewer's input even from a hand-made client on the same page.
    reply = viewer.evaluate(
        """(token) => new Promise((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/ws/dashboard`);
            ws.onopen = () => ws.send(JSON.stringify({type: "dashboard:connect", protocol: 1, token}));
            ws.onmessage = (e) => {
              const msg = JSON.parse(e.data);
              if (msg.type === "dashboard:connected") {
                ws.send(JSON.stringify({type: "terminal:input", agent_id: "ro", data: "evil\\r"}));
              } else if (msg.type === "error") { ws.close(); resolve(msg.code); }
            };
        })""",
        token("viewer", sub="sam"),
    )
    assert reply == "forbidden"

    # Sync point: an operator's keystroke arrives; nothing from the viewer came before.
    operator = new_page()
    operator.goto(relay.dashboard_url("operator"))
    open_terminal(operator, "ro").locator(".xterm").click()
    operator.keyboard.type("Z")
    agent.wait_for(lambda msgs: any(m.get("type") == "terminal:input" for m in msgs))
    assert agent.typed() == "Z"
    assert agent.of_type("command:request") == []
    assert agent.of_type("command:interrupt") == []


def test_terminal_query_replies_are_not_sent_by_passive_panes(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("q1")
    viewer = new_page()
    viewer.goto(relay.dashboard_url("viewer"))
    open_terminal(viewer, "q1")
    operator = new_page()
    operator.goto(relay.dashboard_url("operator"))
    open_terminal(operator, "q1")
    # Device attributes + cursor position queries: xterm.js answers them via onData.
    agent.output("query:\x1b[c\x1b[6n\x1b[>c done\r\n")
    wait_for_buffer(viewer, "q1", "query: done")
    wait_for_buffer(operator, "q1", "query: done")
    # Sync point, then check: only the typed key arrived, no DA/CPR replies.
    operator.locator(pane_selector("q1")).locator(".xterm").click()
    operator.keyboard.type("k")
    agent.wait_for(lambda msgs: any(m.get("type") == "terminal:input" for m in msgs))
    assert agent.typed() == "k"


def test_resize_is_sent_only_by_the_typing_operator(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("rs", cols=80, rows=24, local_terminal=False)
    agent.output("$ ")
    page = new_page(1400, 900)
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "rs")
    wait_for_buffer(page, "rs", "$")
    viewer = new_page(1000, 700)
    viewer.goto(relay.dashboard_url("viewer"))
    open_terminal(viewer, "rs")
    wait_for_buffer(viewer, "rs", "$")
    assert agent.of_type("terminal:resize") == []  # opening (even focusing) sends nothing

    pane.locator(".xterm").click()  # the pointer press takes the size, before any key
    agent.wait_for(lambda msgs: any(m.get("type") == "terminal:resize" for m in msgs))
    page.keyboard.type("x")
    agent.wait_for(lambda msgs: any(m.get("type") == "terminal:input" for m in msgs))
    resizes = agent.of_type("terminal:resize")
    assert len(resizes) == 1
    assert resizes[0]["cols"] > 80
    assert resizes[0]["rows"] > 24
    # The agent applied it; every dashboard shows the new size.
    size = f"{resizes[0]['cols']}\u00d7{resizes[0]['rows']}"
    expect(viewer.locator(pane_selector("rs")).locator(".pane-meta")).to_contain_text(size)
    assert agent.typed() == "x"


def test_a_pane_shows_the_agent_id_only_when_its_name_is_another(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    make_agent("plain-1").activity("working", detail="Bash: make -j8")
    make_agent("ci-7f3a", name="nightly build").activity("working", detail="Bash: make")
    page = new_page(1400, 900)
    page.goto(relay.dashboard_url("operator"))
    plain = open_terminal(page, "plain-1")
    named = open_terminal(page, "ci-7f3a")
    for pane in (plain, named):
        expect(pane.locator(".pane-activity")).to_contain_text("working")
    expect(plain.locator(".pane-title")).to_have_text("plain-1")
    expect(plain.locator(".pane-id")).to_be_hidden()
    expect(named.locator(".pane-title")).to_have_text("nightly build")
    expect(named.locator(".pane-id")).to_have_text("ci-7f3a")
    expect(named.locator(".pane-id")).to_be_visible()
    # Two panes side by side: the size line gives way, name and activity stay whole.
    for pane in (plain, named):
        for part in (".pane-title", ".pane-activity"):
            shown = pane.locator(part)
            assert shown.evaluate("el => el.scrollWidth <= el.clientWidth"), (
                part, shown.inner_text())


def test_lost_scrollback_shows_a_marker(custom_relay: CustomRelay, new_page: NewPage) -> None:
    small, make_agent = custom_relay(scrollback_bytes=64 * 1024)
    agent = make_agent("big")
    for i in range(40):
        agent.output(f"{i:04d} " + "x" * 4090 + "\r\n")
    agent.output("tail line\r\n")
    page = new_page()
    page.goto(small.dashboard_url("viewer"))
    open_terminal(page, "big")
    wait_for_buffer(page, "big", "tail line")
    assert "of older output is no longer kept by the relay" in buffer_text(page, "big")


def test_flood_never_freezes_the_tab(custom_relay: CustomRelay, new_page: NewPage, page_errors: list[str]
) -> None:
    # xterm.js parses on the page's main thread, so a flood backs up in the relay, which
    # closes the dashboard with 4503 (slow consumer) past its bound; the page resumes
    # near the end with a visible marker instead of replaying megabytes behind.
    relay, make_agent = custom_relay(slow_consumer_bytes=4 * 1024 * 1024)
    agent = make_agent("flood")
    page = new_page()
    page.goto(relay.dashboard_url("viewer"))
    open_terminal(page, "flood")
    expect(page.locator("#conn-text")).to_have_text("connected")
    chunk = b"".join(f"{i:07d} {'y' * 71}\r\n".encode() for i in range(6000))  # 480 KB
    agent.output_many([chunk] * 80 + [b"FLOOD-DONE\r\n"])  # ~38 MB at socket speed
    # The page answers while it catches up: never blocked for long.
    while True:
        started = time.monotonic()
        done = page.evaluate(
            "(sel) => document.querySelector(sel).bufferText().includes('FLOOD-DONE')",
            pane_selector("flood"))
        assert time.monotonic() - started < 3, "the tab froze"
        if done:
            break
        page.wait_for_timeout(100)  # polling pace only; correctness never depends on it
    markers = page.locator(pane_selector("flood")).get_attribute("data-markers")
    assert int(markers or 0) >= 1, "expected a 'skipped N bytes' marker"
    assert "of output to catch up" in buffer_text(page, "flood")
    assert not page_errors


def test_relay_restart_is_survived_without_duplicated_text(
    relay: Relay, sidecar: StartSidecar, new_page: NewPage
) -> None:
    sidecar("phoenix", ECHO_CHILD)
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    pane = open_terminal(page, "phoenix")
    wait_for_buffer(page, "phoenix", "child ready")
    pane.get_by_label("Command for the agent").fill("before")
    pane.get_by_label("Command for the agent").press("Enter")
    wait_for_buffer(page, "phoenix", "got erofeb")

    status = page.locator("#conn-status")
    expect(status).to_have_attribute("data-connects", "1")
    relay.restart()
    # A new session (not the old one's state before its close event arrives).
    expect(status).to_have_attribute("data-connects", "2", timeout=scaled(20_000))
    expect(page.locator("#conn-text")).to_have_text("connected")
    # The agent is back on the new relay (its activity may say it waits for input).
    expect(page.locator('.agent-row[data-agent-id="phoenix"]')).to_have_class(
        re.compile(r"\bstate-(running|idle)\b"), timeout=scaled(20_000))
    command = pane.get_by_label("Command for the agent")
    expect(command).to_be_enabled()
    command.fill("after")
    command.press("Enter")
    expect(pane.locator(".ack")).to_have_text("command: submitted ✓")
    wait_for_buffer(page, "phoenix", "got retfa", timeout=20_000)
    text = buffer_text(page, "phoenix")
    assert text.count("child ready") == 1, text
    assert text.count("got erofeb") == 1, text
    assert text.count("got retfa") == 1, text
    assert "lost" not in text, text
    assert "skipped" not in text, text
