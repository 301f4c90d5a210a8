"""Fleet view: live list, states, filters, previews, safe rendering, token handling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.timing import scaled

from .harness import (
    ARTIFACTS,
    MakeAgent,
    NewPage,
    Relay,
    pane_selector,
    token,
    wait_for_buffer,
)

pytestmark = pytest.mark.browser


def row(page: Page, agent_id: str) -> Locator:
    return page.locator(f'.agent-row[data-agent-id="{agent_id}"]')


def test_agents_appear_live_and_exit_shows_code(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    expect(page.locator("#conn-text")).to_have_text("connected")
    expect(page.locator("#fleet-empty")).to_contain_text("No agents yet")

    agent = make_agent("job-7", name="nightly build", host="ci-3",
                       command=["make", "-j8", "all"], labels={"team": "infra"})
    r = row(page, "job-7")
    expect(r).to_contain_text("nightly build")
    expect(r).to_contain_text("ci-3")
    expect(r).to_contain_text("make -j8 all")
    expect(r).to_contain_text("team=infra")
    expect(r.locator(".agent-state")).to_have_text("running")

    agent.status("idle")
    expect(r.locator(".agent-state")).to_have_text("idle")
    # Time in state ticks (starts again at the change).
    expect(r.locator(".agent-since")).to_have_text(re.compile(r"^[1-9]\d*s$"), timeout=scaled(5_000))

    agent.status("exited", exit_code=3)
    expect(r.locator(".agent-state")).to_have_text("exited 3")
    agent.close()
    expect(r.locator(".agent-state")).to_have_text(re.compile(r"exited 3|disconnected"))


def test_filter_by_text_and_by_state(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    make_agent("web-1", name="frontend", labels={"team": "web"})
    db = make_agent("db-1", name="migrations", labels={"team": "data"})
    db.status("idle")
    page = new_page()
    page.goto(relay.dashboard_url("viewer"))
    expect(page.locator(".agent-row:visible")).to_have_count(2)

    page.keyboard.press("/")
    expect(page.locator("#fleet-filter")).to_be_focused()
    page.keyboard.type("team=data")
    expect(page.locator(".agent-row:visible")).to_have_count(1)
    expect(row(page, "db-1")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(".agent-row:visible")).to_have_count(2)

    page.locator('.chip[data-state="idle"]').click()
    expect(page.locator(".agent-row:visible")).to_have_count(1)
    expect(row(page, "db-1")).to_be_visible()
    expect(page.locator('.chip[data-state="working"] .chip-count')).to_have_text("1")
    page.locator('.chip[data-state="idle"]').click()  # again: every state
    expect(page.locator(".agent-row:visible")).to_have_count(2)


def test_preview_shows_last_line_without_opening_the_terminal(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("chatty")
    agent.output("".join(f"noise line {i}\r\n" for i in range(2000)))
    agent.output("\x1b[1;32mDone:\x1b[0m 42 tests passed\r\n\r\n")
    page = new_page()
    page.goto(relay.dashboard_url("viewer"))
    expect(row(page, "chatty").locator(".agent-preview")).to_have_text("Done: 42 tests passed")
    # A state change refreshes it.
    agent.output("waiting for input> ")
    agent.status("idle")
    expect(row(page, "chatty").locator(".agent-preview")).to_have_text("waiting for input>")


def test_malicious_names_labels_and_output_render_as_text(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    evil = '<img src=x onerror="window.__pwned=1">'
    agent = make_agent(
        "evil-1", name=evil, host="<b>host</b>",
        command=["sh", "-c", "<script>window.__pwned=2</script>"],
        labels={"<i>k</i>": '<svg onload="window.__pwned=3">'},
    )
    agent.output(f"{evil}\r\n")
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    r = row(page, "evil-1")
    expect(r.locator(".agent-name")).to_have_text(evil)
    expect(r).to_contain_text("<b>host</b>")
    expect(r).to_contain_text("<script>window.__pwned=2</script>")
    expect(r).to_contain_text('<i>k</i>=<svg onload="window.__pwned=3">')
    r.click()
    wait_for_buffer(page, "evil-1", evil)
    expect(page.locator(pane_selector("evil-1")).locator(".pane-title")).to_have_text(evil)
    assert page.locator("img, svg:not(.xterm svg), b, i, script:not([src]):not([type])").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert not page_errors


def test_token_fragment_is_removed_and_reload_reconnects(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    make_agent("a1")
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    expect(page.locator("#conn-text")).to_have_text("connected")
    assert "token" not in page.url
    assert page.url.rstrip("/").endswith(str(relay.config.port))
    page.reload()
    expect(page.locator("#conn-text")).to_have_text("connected")
    expect(row(page, "a1")).to_be_visible()
    expect(page.locator("#token-dialog")).to_be_hidden()


def test_without_token_asks_and_a_refused_token_says_so(relay: Relay, new_page: NewPage) -> None:
    page = new_page()
    page.goto(relay.url + "/")
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#token-input")).to_be_focused()

    expired = token("operator", ttl=-60)
    page.locator("#token-input").fill(expired)
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(page.locator("#token-message")).to_contain_text("Refused (4401)")
    expect(page.locator("#conn-text")).to_have_text("refused (4401)")
    expect(dialog).to_be_visible()

    page.locator("#token-input").fill(token("admin", sub="root"))
    page.keyboard.press("Enter")
    expect(page.locator("#conn-text")).to_have_text("connected")
    expect(page.locator("#identity")).to_have_text("root · admin")
    expect(dialog).to_be_hidden()


def test_agent_token_is_refused_as_forbidden(relay: Relay, new_page: NewPage) -> None:
    page = new_page()
    page.goto(relay.url + "/#token=" + token("agent", sub="a1"))
    expect(page.locator("#token-message")).to_contain_text("Refused (4403)")


def test_screenshot_of_a_busy_fleet(relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    """Saved as test-artifacts/dashboard.png (and a laptop-width one) for a human look."""
    agents = [
        make_agent("claude-api", name="claude: api refactor", host="devbox-1",
                   command=["claude", "--model", "opus"], labels={"team": "api", "ticket": "API-412"}),
        make_agent("codex-ui", name="codex: dashboard tests", host="devbox-2",
                   command=["codex", "exec"], labels={"team": "web"}),
        make_agent("train-7", name="fine-tune run 7", host="gpu-03",
                   command=["python", "train.py", "--epochs", "20"], labels={"gpu": "a100"}),
        make_agent("lint-bot", name="lint bot", host="ci-1", command=["ruff", "check", "--watch"]),
    ]
    agents[0].output("\x1b[1mclaude\x1b[0m \u203a Reading relay/hub.py…\r\n"
                     "\x1b[32m✔\x1b[0m Edited 3 files (+120 \u221248)\r\n"
                     "\x1b[33m?\x1b[0m Run the test suite now? [y/N] ")
    agents[0].status("idle")
    for epoch in range(1, 8):
        agents[2].output(f"epoch {epoch}/20  loss={1.9 / epoch:.4f}  lr=3e-4  "
                         f"\x1b[36m{'█' * epoch * 2}{'░' * (40 - epoch * 2)}\x1b[0m\r\n")
    agents[1].output("$ npx playwright test\r\n\x1b[32m  14 passed\x1b[0m (9.1s)\r\n$ ")
    agents[3].status("exited", exit_code=1)
    page = new_page(1440, 900)
    page.goto(relay.dashboard_url("operator", sub="maria"))
    row(page, "claude-api").click()
    row(page, "train-7").click()
    wait_for_buffer(page, "train-7", "epoch 7/20")
    expect(row(page, "codex-ui").locator(".agent-preview")).to_have_text("$")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
    laptop = new_page(1280, 720)
    laptop.goto(relay.dashboard_url("viewer", sub="sam"))
    row(laptop, "claude-api").click()
    wait_for_buffer(laptop, "claude-api", "Run the test suite now?")
    laptop.screenshot(path=str(ARTIFACTS / "dashboard-laptop-viewer.png"))
    assert not page_errors
