"""The hub side of the relay imports no aiohttp (it talks to connections via Peer)."""

from __future__ import annotations

import subprocess
import sys

HUB_SIDE = ["relay.hub.interface", "relay.hub.local", "relay.hub.scrollback", "relay.handlers.outbox", "relay.auth",
            "relay.handlers.ratelimit"]


def test_the_hub_side_imports_no_aiohttp() -> None:
    code = f"import sys, {', '.join(HUB_SIDE)}; sys.exit('aiohttp' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
