"""Issue 11, item 9: a DNS-rebinding-shaped upgrade (a foreign host name that resolves
to the relay, sent as both ``Host`` and ``Origin``) is refused by a relay that listens
on a loopback address, unless ``--public-url`` or ``--allowed-origin`` names it."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import WSServerHandshakeError


async def _upgrade(relay: Any, host: str, origin: str) -> int:
    try:
        ws = await relay.ws_connect("/ws/dashboard", headers={"Host": host, "Origin": origin})
    except WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


async def test_a_rebound_host_name_is_refused_on_a_loopback_relay(relay: Any) -> None:
    name = f"attacker.example:{relay.port}"
    assert await _upgrade(relay, name, f"http://{name}") == 403


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "127.1.2.3", "[::1]",
                                  "LOCALHOST", "app.localhost"])
async def test_loopback_host_names_are_accepted(relay: Any, name: str) -> None:
    host = f"{name}:{relay.port}"
    assert await _upgrade(relay, host, f"http://{host}") == 101


async def test_an_allowed_origin_is_accepted_on_a_loopback_relay(make_relay: Any) -> None:
    relay = await make_relay(allowed_origins=("http://box.lan:8765",))
    assert await _upgrade(relay, "box.lan:8765", "http://box.lan:8765") == 101


async def test_the_public_url_is_accepted_on_a_loopback_relay(make_relay: Any) -> None:
    relay = await make_relay(public_url="https://relay.example/")
    assert await _upgrade(relay, "relay.example", "https://relay.example") == 101


async def test_a_relay_listening_on_all_addresses_trusts_its_host(make_relay: Any) -> None:
    relay = await make_relay(host="0.0.0.0")
    name = f"box.lan:{relay.port}"
    assert await _upgrade(relay, name, f"http://{name}") == 101
