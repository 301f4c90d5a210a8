"""The hub side of the relay imports no aiohttp (it talks to connections via Peer)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module", ["relay.hub", "relay.local_hub", "relay.scrollback", "relay.outbox",
               "relay.auth", "relay.ratelimit"],
)
def test_module_imports_no_aiohttp(module: str) -> None:
    code = f"import sys, {module}; sys.exit('aiohttp' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
