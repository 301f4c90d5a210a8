"""relay.notify.events: which changes notify, with which key, and what is sent."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from relay.notify.events import (
    Notice,
    agent_link,
    channel_id,
    notice_for,
    ntfy_message,
    redact_url,
    webhook_body,
)
from relay.notify.notifier import Delivery, retry_delay
from relay.protocol import Activity, ActivityOption, AgentInfo

BASE = AgentInfo(
    agent_id="a1", name="claude", host="dev", command=("claude",), labels={}, pid=1, cols=80,
    rows=24, started_at=1.0, state="running", exit_code=None, last_seen=2.0, offset=0,
    state_since=1.0,
)
WORKING = Activity("working", 10.0, "claude", "hook", detail="Bash: make")
IDLE = Activity("idle", 20.0, "claude", "hook", detail="done: 3 files changed")
WAITING = Activity(
    "waiting", 30.0, "claude", "hook", reason="permission", prompt="Allow Bash: rm -rf build?",
    options=(ActivityOption("Yes", "1"), ActivityOption("No", "2")), decision_id="d1",
)
QUESTION = Activity("waiting", 40.0, "shell", "screen", reason="question", prompt="Name?")


def with_(activity: Activity | None = None, **fields: object) -> AgentInfo:
    return dataclasses.replace(BASE, activity=activity, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        (with_(WORKING), with_(WAITING), "waiting"),
        (with_(None), with_(WAITING), "waiting"),
        (with_(IDLE), with_(QUESTION), "waiting"),
        (with_(WAITING), with_(QUESTION), "waiting"),  # another question, still waiting
        (with_(WAITING), with_(dataclasses.replace(WAITING, decision_id="d2")), "waiting"),
        (with_(WORKING), with_(IDLE), "finished"),
        (with_(WORKING), with_(None, state="exited", exit_code=1, state_since=5.0), "failed"),
        (with_(None), with_(None, state="exited", exit_code=130, signal="SIGINT"), "failed"),
        (with_(None, state="disconnected"), with_(None, state="exited", exit_code=2), "failed"),
    ],
)
def test_notifying_transitions(old: AgentInfo, new: AgentInfo, kind: str) -> None:
    notice = notice_for(old, new, 99.0)
    assert notice is not None
    assert notice.kind == kind
    assert notice.info is new


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (None, with_(WAITING)),  # first sight: someone else's to tell
        (with_(WAITING), with_(dataclasses.replace(WAITING, prompt="reworded"))),
        (with_(None), with_(IDLE)),  # idle without working before
        (with_(IDLE), with_(IDLE)),
        (with_(WAITING), with_(IDLE)),  # answered, then idle: not "finished" work
        (with_(IDLE), with_(WORKING)),
        (with_(WORKING), with_(None, state="exited", exit_code=0)),
        (with_(None, state="exited", exit_code=1), with_(None, state="exited", exit_code=1)),
        (with_(WAITING), with_(WAITING, state="disconnected")),
        (with_(WORKING), with_(None)),
    ],
)
def test_changes_that_do_not_notify(old: AgentInfo | None, new: AgentInfo) -> None:
    assert notice_for(old, new, 99.0) is None


def test_the_key_names_the_transition_not_the_moment_it_was_seen() -> None:
    """Two relays (or a resend after a reconnect) see the same transition: same key."""
    one = notice_for(with_(WORKING), with_(WAITING), 100.0)
    two = notice_for(with_(IDLE), with_(WAITING, last_seen=50.0), 200.0)
    assert one is not None
    assert two is not None
    assert one.key == two.key
    other = notice_for(with_(WORKING), with_(dataclasses.replace(WAITING, since=31.0)), 100.0)
    assert other is not None
    assert other.key != one.key


def test_webhook_body_has_the_agent_the_question_and_a_link() -> None:
    notice = Notice("waiting", "k", with_(WAITING), 123.5)
    body = webhook_body(notice, "https://relay.example/")
    assert body["event"] == "waiting"
    assert (body["agent_id"], body["name"], body["host"]) == ("a1", "claude", "dev")
    assert body["prompt"] == "Allow Bash: rm -rf build?"
    assert body["options"] == [{"label": "Yes", "keys": "1"}, {"label": "No", "keys": "2"}]
    assert body["reason"] == "permission"
    assert body["url"] == "https://relay.example/#agent=a1"
    assert body["time"] == 123.5
    assert body["activity"]["decision_id"] == "d1"


def test_webhook_body_of_a_failure_names_code_and_signal() -> None:
    info = with_(None, state="exited", exit_code=130, signal="SIGINT")
    body = webhook_body(Notice("failed", "k", info, 1.0), None)
    assert (body["exit_code"], body["signal"], body["prompt"], body["url"]) == (
        130, "SIGINT", None, None)
    assert body["title"] == "claude failed (exit 130, SIGINT)"


def test_ntfy_message_uses_title_priority_tags_and_click_headers() -> None:
    headers, body = ntfy_message(Notice("waiting", "k", with_(WAITING), 1.0), "http://h:1")
    assert headers["Title"] == "claude asks for permission"
    assert headers["Priority"] == "high"
    assert headers["Click"] == "http://h:1/#agent=a1"
    assert headers["Tags"]
    assert body.decode() == "Allow Bash: rm -rf build?\n1. Yes\n2. No\na1 on dev"


def test_a_non_ascii_ntfy_title_is_an_rfc_2047_word() -> None:
    info = with_(IDLE, name="Zoë's build\nx")
    headers, _ = ntfy_message(Notice("finished", "k", info, 1.0), None)
    title = headers["Title"]
    assert title.startswith("=?utf-8?b?")
    assert title.endswith("?=")
    assert base64.b64decode(title[10:-2]).decode() == "Zoë's build x finished"
    assert "Click" not in headers


def test_agent_links_quote_the_id() -> None:
    assert agent_link("http://h:8765", "a b/c") == "http://h:8765/#agent=a%20b%2Fc"
    assert agent_link(None, "a1") is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/services/T000/B000/XXXXSECRET", "https://hooks.example.com"),
        ("https://user:pa55@ntfy.example:8443/topic?auth=tok", "https://ntfy.example:8443"),
        ("http://[::1]:9/x", "http://[::1]:9"),
    ],
)
def test_redacted_urls_keep_only_scheme_host_and_port(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_channel_ids_differ_per_url_and_hide_it() -> None:
    a = channel_id("https://h/secret-1")
    assert a == channel_id("https://h/secret-1")
    assert a != channel_id("https://h/secret-2")
    assert "secret" not in a


def test_retry_delays_double_up_to_a_minute() -> None:
    policy = Delivery(attempts=10, retry_delay=1.0)
    assert [retry_delay(policy, n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
