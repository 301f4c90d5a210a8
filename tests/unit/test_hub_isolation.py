"""The hub side of the relay imports no aiohttp (it talks to connections via Peer)."""

from __future__ import annotations

import subprocess
import sys

HUB_SIDE = ["relay.hub", "relay.local_hub", "relay.scrollback", "relay.outbox", "relay.auth",
            "relay.ratelimit"]


def test_the_hub_side_imports_no_aiohttp() -> None:
    code = f"import sys, {', '.join(HUB_SIDE)}; sys.exit('aiohttp' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
