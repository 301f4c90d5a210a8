"""The outside tools some suites need, and what happens when one is missing.

A test needs a tool when it carries the tool's marker (``@pytest.mark.redis``, ...) or
uses the fixture that starts it (``redis_server``, ``browser``). Without the tool such a
test is skipped with a reason naming it, and the run ends with a summary of what was
skipped for which tool. Under ``CI=true`` a missing tool is an error instead: CI installs
everything (``scripts/setup --system``), so a skip there would hide a broken install.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from relay.handlers.page import missing_vendor_files

CHROMIUM = "/usr/bin/chromium"


@dataclass(frozen=True, slots=True)
class Tool:
    marker: str
    #: Fixtures that imply the marker.
    fixtures: tuple[str, ...]
    #: What is missing ("redis-server", ...) or None when everything is there.
    check: Callable[[], str | None]
    install: str


def _command(name: str) -> Callable[[], str | None]:
    return lambda: None if shutil.which(name) else name


def _network() -> str | None:
    return "network access" if os.environ.get("AGENT_SIDECAR_TEST_OFFLINE") else None


def _browser() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return "chromium"
    if missing_vendor_files():
        return "the dashboard's xterm.js files (npm)"
    return None


TOOLS = (
    Tool("redis", ("redis_server",), _command("redis-server"), "apt-get install redis-server"),
    Tool("browser", ("browser",), _browser,
         "apt-get install chromium npm, then scripts/fetch-assets"),
    Tool("tmux", (), _command("tmux"), "apt-get install tmux"),
    Tool("npm", (), _command("npm"), "apt-get install npm"),
    Tool("systemd", (), _command("systemd-analyze"), "apt-get install systemd"),
    Tool("network", (), _network, "unset AGENT_SIDECAR_TEST_OFFLINE"),
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
