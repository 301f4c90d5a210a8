"""Notifications (contract section 12) from a real relay to a real HTTP receiver:
webhook JSON and ntfy publishes per transition, once each, retried, never blocking."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from relay.appkeys import NOTIFIER
from tests.contract.test_activity import WAITING, WORKING, _is
from tests.notify_receiver import Receiver, make_receiver
from tests.timing import deadline

__all__ = ["make_receiver"]

PUBLIC = "https://relay.example"
IDLE = {**WORKING, "state": "idle", "since": 95.0, "detail": "3 files changed"}
FAST = {"notify_retry_delay": 0.01, "notify_timeout": 2.0, "public_url": PUBLIC}


async def _drained(client: Any) -> None:
    async with deadline(5):
        await client.app[NOTIFIER].drained()


async def test_waiting_posts_the_agent_its_question_and_a_link(
    make_relay: Any, make_receiver: Any, connect_agent: Any
) -> None:
    receiver: Receiver = await make_receiver()
    relay = await make_relay(notify_webhooks=(receiver.url,), **FAST)
    agent = await connect_agent(relay, "a1", name="claude in repo")
    await agent.send("agent:activity", activity=WAITING)
    got = await receiver.next()
    assert got.path == "/hook/SECRET-TOKEN-1234"
    assert got.headers["Content-Type"] == "application/json"
    body = got.json()
    assert body["event"] == "waiting"
    assert (body["agent_id"], body["name"]) == ("a1", "claude in repo")
    assert body["prompt"] == WAITING["prompt"]
    assert body["options"] == WAITING["options"]
    assert body["url"] == f"{PUBLIC}/#agent=a1"


async def test_finished_and_failed_are_posted_once_each(
    make_relay: Any, make_receiver: Any, connect_agent: Any
) -> None:
    receiver: Receiver = await make_receiver()
    relay = await make_relay(notify_webhooks=(receiver.url,), **FAST)
    agent = await connect_agent(relay, "a1")
    await agent.send("agent:activity", activity=WORKING)
    await agent.send("agent:activity", activity=IDLE)
    await agent.send("agent:activity", activity=IDLE)  # the same again: no second event
    await agent.send("agent:status", state="exited", pid=4242, cols=80, rows=24,
                     exit_code=137, signal="SIGKILL")
    finished = (await receiver.next()).json()
    assert (finished["event"], finished["detail"]) == ("finished", "3 files changed")
    failed = (await receiver.next()).json()
    assert (failed["event"], failed["exit_code"], failed["signal"]) == ("failed", 137, "SIGKILL")
    await _drained(relay)
    assert receiver.count == 2


async def test_a_clean_exit_and_working_do_not_notify(
    make_relay: Any, make_receiver: Any, connect_agent: Any
) -> None:
    receiver: Receiver = await make_receiver()
    relay = await make_relay(notify_webhooks=(receiver.url,), **FAST)
    agent = await connect_agent(relay, "a1")
    await agent.send("agent:activity", activity=WORKING)
    await agent.send("agent:status", state="exited", pid=4242, cols=80, rows=24, exit_code=0)
    other = await connect_agent(relay, "b1")
    await other.send("agent:activity", activity=WAITING)  # the sentinel
    assert (await receiver.next()).json()["agent_id"] == "b1"
    await _drained(relay)
    assert receiver.count == 1


async def test_a_resend_after_a_reconnect_does_not_notify_again(
    make_relay: Any, make_receiver: Any, connect_agent: Any
) -> None:
    receiver: Receiver = await make_receiver()
    relay = await make_relay(notify_webhooks=(receiver.url,), **FAST)
    agent = await connect_agent(relay, "a1", pid=7, started_at=3.0)
    await agent.send("agent:activity", activity=WAITING)
    await receiver.next()
    await agent.close()
    again = await connect_agent(relay, "a1", pid=7, started_at=3.0)
    await again.send("agent:activity", activity=WORKING)
    await again.send("agent:activity", activity=WAITING)  # the same question resent
    await again.send("heartbeat", ts=1)
    await again.expect("heartbeat")
    await _drained(relay)
    assert receiver.count == 1


async def test_a_failed_delivery_is_retried_until_it_succeeds(
    make_relay: Any, make_receiver: Any, connect_agent: Any
) -> None:
    receiver: Receiver = await make_receiver(answers=[500, 503])
    relay = await make_relay(notify_webhooks=(receiver.url,), **FAST)
    agent = await connect_agent(relay, "a1")
    await agent.send("agent:activity", activity=WAITING)
    first, second, third = [await receiver.next() for _ in range(3)]
    assert first.body == second.body == third.body
    await _drained(relay)
    assert receiver.count == 3


async def test_a_refused_delivery_is_not_retried_and_logged_without_the_secret(
    make_relay: Any, make_receiver: Any, connect_agent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relay.notify")
    receiver: Receiver = await make_receiver(answers=[404, 500, 500])
    relay = await make_relay(notify_webhooks=(receiver.url,), **FAST)
    agent = await connect_agent(relay, "a1")
    await agent.send("agent:activity", activity=WAITING)
    await receiver.next()
    await _drained(relay)
    assert receiver.count == 1
    assert "HTTP 404" in caplog.text
    assert "127.0.0.1" in caplog.text
    assert "SECRET" not in caplog.text


async def test_retries_give_up_after_the_attempts_and_say_so(
    make_relay: Any, make_receiver: Any, connect_agent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relay.notify")
    receiver: Receiver = await make_receiver(answers=[500] * 10)
    relay = await make_relay(notify_webhooks=(receiver.url,), notify_attempts=3, **FAST)
    agent = await connect_agent(relay, "a1")
    await agent.send("agent:activity", activity=WAITING)
    await receiver.next()  # queued: drained() below covers it
    await _drained(relay)
    assert receiver.count == 3
    assert "gave up after 3 attempts (HTTP 500)" in caplog.text
    assert "SECRET" not in caplog.text


async def test_a_receiver_that_never_answers_does_not_block_the_relay(
    make_relay: Any, make_receiver: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    receiver: Receiver = await make_receiver(hang=True)
    try:
        relay = await make_relay(notify_webhooks=(receiver.url,), **FAST)
        agent = await connect_agent(relay, "a1")
        dash = await connect_dashboard(relay)
        await agent.send("agent:activity", activity=WAITING)
        await receiver.next()  # the relay is now waiting for this receiver
        await agent.send("agent:activity", activity=WORKING)
        await dash.wait_for("agent:status", _is("a1", activity=WORKING))
        await dash.send("subscribe", agent_id="a1")
        await agent.output("a1", 0, b"still here\r\n")
        msg = await dash.wait_for("terminal:output")
        assert msg["data"] == "still here\r\n"
    finally:
        receiver.release()


async def test_ntfy_gets_title_priority_click_and_the_question(
    make_relay: Any, make_receiver: Any, connect_agent: Any
) -> None:
    receiver: Receiver = await make_receiver()
    relay = await make_relay(notify_ntfy=(receiver.url,), **FAST)
    agent = await connect_agent(relay, "a1", name="claude", host="devbox")
    await agent.send("agent:activity", activity=WAITING)
    got = await receiver.next()
    assert got.headers["Title"] == "claude asks for permission"
    assert got.headers["Priority"] == "high"
    assert got.headers["Click"] == f"{PUBLIC}/#agent=a1"
    assert got.headers["Content-Type"].startswith("text/plain")
    assert got.body.decode() == "Allow Bash: rm -rf build?\n1. Yes\n2. No\na1 on devbox"


async def test_every_channel_gets_its_own_delivery(
    make_relay: Any, make_receiver: Any, connect_agent: Any
) -> None:
    hook: Receiver = await make_receiver()
    slow: Receiver = await make_receiver(hang=True)
    ntfy: Receiver = await make_receiver()
    try:
        relay = await make_relay(notify_webhooks=(slow.url, hook.url), notify_ntfy=(ntfy.url,),
                                 **FAST)
        agent = await connect_agent(relay, "a1")
        await agent.send("agent:activity", activity=WAITING)
        assert (await hook.next()).json()["event"] == "waiting"
        assert (await ntfy.next()).headers["Priority"] == "high"
        await slow.next()  # still hanging: the others did not wait for it
    finally:
        slow.release()


async def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_logged(
    make_relay: Any, make_receiver: Any, connect_agent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="relay")
    receiver: Receiver = await make_receiver()
    url = receiver.url.replace("http://", "http://ntfy-user:pa55word@", 1)
    relay = await make_relay(notify_ntfy=(url,), **FAST)
    agent = await connect_agent(relay, "a1")
    await agent.send("agent:activity", activity=WAITING)
    got = await receiver.next()
    assert got.headers["Authorization"] == "Basic " + base64.b64encode(
        b"ntfy-user:pa55word").decode()
    await _drained(relay)
    assert "pa55word" not in caplog.text
    assert "ntfy-user" not in caplog.text
    assert "SECRET" not in caplog.text
