"""Notifications from the real CLI: ``run --notify-webhook`` configures the embedded
relay, whose notice of a failed command reaches a real HTTP receiver before ``run``
exits; ``relay --notify-ntfy`` validates its URL without printing it."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

from tests.e2e.conftest import Cli
from tests.notify_receiver import Receiver, make_receiver

__all__ = ["make_receiver"]

PY = sys.executable


async def test_run_passes_notify_webhook_to_its_embedded_relay(
    port: int, spawn_cli: Callable[..., Awaitable[Cli]], make_receiver: Callable[..., Awaitable[Receiver]]
) -> None:
    receiver = await make_receiver()
    run = await spawn_cli(
        "run", "--port", str(port), "--agent-id", "emb", "--notify-webhook", receiver.url,
        "--", PY, "-c", "import sys; print('bad', flush=True); sys.exit(3)",
    )
    got = (await receiver.next(timeout=20)).json()
    assert (got["event"], got["agent_id"], got["exit_code"]) == ("failed", "emb", 3)
    assert got["url"] == f"http://127.0.0.1:{port}/#agent=emb"
    assert await run.wait() == 3


async def test_relay_refuses_a_notify_url_without_showing_its_path(
    spawn_cli: Callable[..., Awaitable[Cli]],
) -> None:
    relay = await spawn_cli(
        "relay", "--port", "0", "--jwt-secret", "x" * 40,
        "--notify-ntfy", "ftp://ntfy.example/SECRET-TOPIC",
    )
    text = await relay.rest_of_stderr()
    assert await relay.wait() == 2
    assert "http:// or https://" in text
    assert "SECRET" not in text


async def test_a_run_that_joins_another_relay_says_its_notify_options_do_not_apply(
    port: int, spawn_cli: Callable[..., Awaitable[Cli]], make_receiver: Callable[..., Awaitable[Receiver]]
) -> None:
    receiver = await make_receiver()
    host = await spawn_cli(
        "run", "--port", str(port), "--agent-id", "host", "--",
        PY, "-c", "import sys; print('up', flush=True); sys.stdin.readline()",
    )
    await host.line(r"^Dashboard: ")
    joined = await spawn_cli(
        "run", "--port", str(port), "--agent-id", "joined", "--notify-webhook", receiver.url,
        "--", PY, "-c", "print('hi')",
    )
    line = await joined.line(r"joined the relay on port \d+")
    assert "apply only if this run takes the relay over" in line.string
    assert "SECRET" not in line.string
    assert await joined.wait() == 0
    host.signal(15)
    await host.wait()
