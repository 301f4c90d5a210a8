"""Knowing which agent needs you (protocol 1.1 activity): waiting agents first with a
badge and their question as the preview, the count in the tab title, a browser
notification while the page is hidden, and answering from the page: Allow / Deny bound
to the exact permission request, menu options as buttons that send their keys."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from .harness import ARTIFACTS, MakeAgent, NewPage, Relay, pane_selector, wait_for_buffer

pytestmark = pytest.mark.browser

QUESTION = "Run the test suite now?\n(it takes about 4 minutes)"


def row(page: Page, agent_id: str) -> Locator:
    return page.locator(f'.agent-row[data-agent-id="{agent_id}"]')


def order(page: Page) -> list[str]:
    return list(page.locator(".agent-row").evaluate_all("rows => rows.map(r => r.dataset.agentId)"))


def test_each_agent_is_counted_under_the_one_state_its_row_shows(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    # A TUI at its prompt keeps redrawing (process "running") while it reports idle; one
    # that asks went quiet (process "idle"). The chips count what the rows say.
    at_prompt = make_agent("p-claude", name="p claude")
    at_prompt.output("\u276f \r\n")
    at_prompt.activity("idle", agent_kind="claude", source="screen")
    asking = make_agent("a-codex", name="a codex")
    asking.output("Continue? [y/N] ")
    asking.status("idle")
    asking.activity("waiting", reason="confirm", prompt="Continue? [y/N]", source="screen")
    make_agent("b-build", name="b build").output("compiling\r\n")  # reports no activity
    page = new_page()
    page.goto(relay.dashboard_url("viewer"))
    expect(row(page, "p-claude").locator(".agent-state")).to_have_text("idle")
    expect(row(page, "b-build").locator(".agent-state")).to_have_text("running")
    counts = {state: page.locator(f'.chip[data-state="{state}"] .chip-count')
              for state in ("waiting", "working", "idle", "exited", "disconnected")}
    expect(counts["waiting"]).to_have_text("1")
    expect(counts["working"]).to_have_text("1")
    expect(counts["idle"]).to_have_text("1")
    expect(counts["exited"]).to_have_text("0")
    page.locator('.chip[data-state="idle"]').click()
    expect(page.locator(".agent-row:visible")).to_have_count(1)
    expect(row(page, "p-claude")).to_be_visible()
    page.locator('.chip[data-state="working"]').click()
    expect(page.locator(".agent-row:visible")).to_have_count(1)
    expect(row(page, "b-build")).to_be_visible()
    assert page_errors == []


def test_waiting_agents_come_first_with_a_badge_their_question_and_a_count_in_the_title(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    builder = make_agent("a-build", name="a build")
    builder.output("compiling...\r\n")
    builder.activity("working", detail="Bash: make -j8", agent_kind="shell", source="process")
    make_agent("m-plain", name="m plain").output("plain output line\r\n")
    claude = make_agent("z-claude", name="z claude")
    claude.output("\x1b[2J\x1b[HEnter to confirm \u00b7 Esc to cancel")
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    expect(row(page, "a-build").locator(".agent-state")).to_have_text("working")
    expect(row(page, "a-build").locator(".agent-preview")).to_have_text("Bash: make -j8")
    expect(row(page, "m-plain").locator(".agent-preview")).to_have_text("plain output line")
    assert order(page) == ["a-build", "m-plain", "z-claude"]
    expect(page).to_have_title("agent-sidecar")

    claude.activity("waiting", reason="question", prompt=QUESTION, source="screen")
    z = row(page, "z-claude")
    expect(z.locator(".needs-badge")).to_be_visible()
    expect(z.locator(".agent-state")).to_have_text("waiting · question")
    expect(z.locator(".agent-preview")).to_have_text("Run the test suite now? (it takes about 4 minutes)")
    assert order(page) == ["z-claude", "a-build", "m-plain"]
    expect(page).to_have_title("(1) agent-sidecar")
    expect(page.locator('.chip[data-state="waiting"] .chip-count')).to_have_text("1")
    expect(row(page, "a-build").locator(".needs-badge")).to_be_hidden()
    page.locator('.chip[data-state="waiting"]').click()
    expect(page.locator(".agent-row:visible")).to_have_count(1)
    page.locator('.chip[data-state="waiting"]').click()
    page.screenshot(path=str(ARTIFACTS / "fleet-waiting.png"))

    claude.activity("working", detail="Running tests", source="hook")
    expect(z.locator(".needs-badge")).to_be_hidden()
    expect(z.locator(".agent-preview")).to_have_text("Running tests")
    expect(page).to_have_title("agent-sidecar")
    assert order(page) == ["a-build", "m-plain", "z-claude"]
    # An exited agent waits for nobody, whatever its last activity said.
    builder.activity("waiting", reason="confirm", prompt="Continue? [y/N]", source="screen")
    expect(page).to_have_title("(1) agent-sidecar")
    builder.status("exited", exit_code=0)
    expect(row(page, "a-build").locator(".agent-state")).to_have_text("exited 0")
    expect(page).to_have_title("agent-sidecar")
    assert page_errors == []


def test_allow_and_deny_answer_the_exact_permission_request(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    agent = make_agent("claude-1", name="claude: api")
    agent.output("Claude wants to run a command\r\n")
    agent.activity("waiting", reason="permission", prompt="Bash: rm -rf build/\nAllow this command?",
                   decision_id="d-1", detail="Bash: rm -rf build/",
                   options=[{"label": "Yes", "keys": "1"}, {"label": "No, and tell Claude what to do", "keys": "\x1b"}])
    page = new_page(1400, 900)
    page.goto(relay.dashboard_url("operator", sub="maria"))
    row(page, "claude-1").click()
    pane = page.locator(pane_selector("claude-1"))
    wait_for_buffer(page, "claude-1", "Claude wants")
    answer = pane.locator(".answer")
    expect(answer).to_be_visible()
    expect(answer.locator(".answer-title")).to_have_text("Permission requested")
    expect(answer.locator(".answer-prompt")).to_have_text("Bash: rm -rf build/\nAllow this command?")
    expect(pane.locator(".pane-activity")).to_have_text("waiting · permission")
    expect(page).to_have_title("(1) claude: api · agent-sidecar")
    page.screenshot(path=str(ARTIFACTS / "answer-permission.png"))

    answer.get_by_role("button", name="Allow", exact=True).click()
    expect(answer.locator(".answer-result")).to_have_text("allowed ✓")
    agent.wait_for(lambda msgs: any(m.get("type") == "permission:decide" for m in msgs))
    first = agent.of_type("permission:decide")[0]
    assert (first["decision_id"], first["decision"], first["message"]) == ("d-1", "allow", None)

    agent.activity("waiting", reason="permission", prompt="Write to .env?", decision_id="d-2")
    expect(answer.locator(".answer-prompt")).to_have_text("Write to .env?")
    expect(answer.locator(".answer-result")).to_have_text("")
    answer.get_by_label("Message with the decision").fill("never touch .env")
    answer.get_by_role("button", name="Deny", exact=True).click()
    expect(answer.locator(".answer-result")).to_have_text("denied ✓")
    agent.wait_for(lambda msgs: len([m for m in msgs if m.get("type") == "permission:decide"]) == 2)
    second = agent.of_type("permission:decide")[1]
    assert (second["decision_id"], second["decision"], second["message"]) == ("d-2", "deny", "never touch .env")

    agent.activity("working", detail="Edit: relay/app.py")
    expect(answer).to_be_hidden()
    expect(page).to_have_title("claude: api · agent-sidecar")
    assert agent.typed() == ""  # decisions never travel as keystrokes
    assert page_errors == []


def test_menu_options_are_buttons_that_send_their_keys(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    agent = make_agent("codex", name="codex")
    agent.output("Sign in with ChatGPT\r\n")
    agent.activity("waiting", reason="login", prompt="Sign in with ChatGPT or provide an API key",
                   agent_kind="codex", source="screen",
                   options=[{"label": "Sign in with ChatGPT", "keys": "1"},
                            {"label": "Provide your own API key", "keys": "\x1b[B\r"}])
    page = new_page(390, 844, phone=True)
    page.goto(f"{relay.url}/#agent=codex&token={relay.dashboard_url('operator').split('token=')[1]}")
    pane = page.locator(pane_selector("codex"))
    wait_for_buffer(page, "codex", "Sign in")
    options = pane.locator(".answer-option")
    expect(options).to_have_count(2)
    expect(options.nth(1)).to_contain_text("Provide your own API key")
    expect(options.nth(1).locator("kbd")).to_have_text("↓ Enter")
    page.screenshot(path=str(ARTIFACTS / "phone-answer-menu.png"))
    options.nth(1).tap()
    agent.wait_for(lambda _: agent.typed() == "\x1b[B\r")
    expect(pane.locator(".answer-result")).to_have_text("sent “Provide your own API key”")
    assert page_errors == []


def test_viewers_see_the_question_without_answer_buttons(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage
) -> None:
    agent = make_agent("q")
    agent.activity("waiting", reason="permission", prompt="Allow Bash: ls?", decision_id="d-9",
                   options=[{"label": "Yes", "keys": "1"}])
    page = new_page()
    page.goto(relay.dashboard_url("viewer"))
    row(page, "q").click()
    answer = page.locator(pane_selector("q")).locator(".answer")
    expect(answer.locator(".answer-prompt")).to_have_text("Allow Bash: ls?")
    expect(answer.get_by_role("button")).to_have_count(0)
    expect(answer).to_contain_text("Read-only")


#: Runs before the page's own scripts: a switch for the page's visibility (a headless
#: browser is always "visible") and a record of the real notifications it creates.
VISIBILITY_AND_NOTIFICATIONS = """
(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState",
    { configurable: true, get: () => (hidden ? "hidden" : "visible") });
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
  window.__setHidden = (value) => { hidden = value; document.dispatchEvent(new Event("visibilitychange")); };
  const Real = window.Notification;
  window.__notifications = [];
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notifications.push({ title, body: options?.body ?? null, tag: options?.tag ?? null });
    }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();
"""


def test_a_notification_fires_when_an_agent_starts_waiting_while_the_page_is_hidden(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    already = make_agent("old", name="old question")
    already.activity("waiting", reason="question", prompt="Asked before the page opened")
    agent = make_agent("claude-7", name="claude: docs")
    page = new_page()
    page.context.grant_permissions(["notifications"], origin=relay.url)
    page.add_init_script(VISIBILITY_AND_NOTIFICATIONS)
    page.goto(relay.dashboard_url("operator"))
    expect(page.locator("#notify")).to_have_text("notifying")
    expect(page).to_have_title("(1) agent-sidecar")

    # Visible page: the list shows it, no notification.
    agent.activity("waiting", reason="confirm", prompt="Overwrite README.md?")
    expect(page).to_have_title("(2) agent-sidecar")
    agent.activity("working", detail="Edit: README.md")
    expect(page).to_have_title("(1) agent-sidecar")

    page.evaluate("() => window.__setHidden(true)")
    agent.activity("waiting", reason="permission", prompt="Allow Bash: git push?", decision_id="p-1")
    page.wait_for_function("() => window.__notifications.length === 1")
    notes = page.evaluate("() => window.__notifications")
    assert notes == [{"title": "claude: docs needs you", "body": "Allow Bash: git push?",
                      "tag": "agent-sidecar:claude-7"}]
    expect(page).to_have_title("(2) agent-sidecar")
    # The same question again (a status refresh) does not notify twice.
    agent.status("running")
    agent.output("still waiting\r\n")
    page.evaluate("() => window.__setHidden(false)")
    expect(row(page, "claude-7").locator(".agent-preview")).to_have_text("Allow Bash: git push?")
    assert len(page.evaluate("() => window.__notifications")) == 1
    assert re.match(r"^\(2\)", page.title())
    assert page_errors == []


def test_the_notify_button_asks_for_permission_and_follows_the_answer(
    relay: Relay, new_page: NewPage
) -> None:
    page = new_page()
    page.goto(relay.dashboard_url("operator"))
    button = page.locator("#notify")
    expect(button).to_have_text("Notify me")
    # Headless Chromium answers the permission prompt "denied" by itself.
    button.click()
    expect(button).to_have_text("blocked")
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("title", re.compile("blocked for this site"))
    # Allowed later in the site settings: the page follows.
    page.context.grant_permissions(["notifications"], origin=relay.url)
    expect(button).to_have_text("notifying")


def test_a_decision_that_is_no_longer_pending_says_so_and_reaches_nobody(
    relay: Relay, make_agent: MakeAgent, new_page: NewPage, page_errors: list[str]
) -> None:
    agent = make_agent("claude-2", name="claude: late")
    agent.activity("waiting", reason="permission", prompt="Allow Bash: ls?", decision_id="d-1")
    page = new_page()
    # Between the relay and this page: once `hold` is set, the agent's status updates no
    # longer reach the page, so it still shows a request the agent has moved past.
    hold: list[bool] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if hold and isinstance(message, str) and '"agent:status"' in message:
                return
            ws.send(message)

        server.on_message(to_page)
        ws.on_message(server.send)

    page.route_web_socket(re.compile(r"/ws/dashboard$"), route)
    page.goto(f"{relay.url}/#agent=claude-2&token={relay.dashboard_url('operator').split('token=')[1]}")
    answer = page.locator(pane_selector("claude-2")).locator(".answer")
    expect(answer.locator(".answer-prompt")).to_have_text("Allow Bash: ls?")

    hold.append(True)
    agent.activity("waiting", reason="permission", prompt="Allow Bash: rm -rf /tmp/x?", decision_id="d-2")
    # Sync point: the relay has d-2 once another page (not held) shows it.
    witness = new_page()
    witness.goto(relay.dashboard_url("viewer"))
    expect(row(witness, "claude-2").locator(".agent-preview")).to_have_text("Allow Bash: rm -rf /tmp/x?")
    expect(answer.locator(".answer-prompt")).to_have_text("Allow Bash: ls?")  # still held

    answer.get_by_role("button", name="Allow", exact=True).click()
    expect(answer.locator(".answer-result")).to_have_text(
        "already answered (here, in another dashboard or in the terminal)")
    expect(answer.get_by_role("button", name="Allow", exact=True)).to_be_disabled()
    # Sync point: a keystroke from the same page arrives; no decision came before it.
    page.locator(pane_selector("claude-2")).locator(".xterm").click()
    page.keyboard.type("k")
    agent.wait_for(lambda msgs: any(m.get("type") == "terminal:input" for m in msgs))
    assert agent.of_type("permission:decide") == []
    assert page_errors == []
