"""Fixtures for the dashboard's browser tests (headless Debian Chromium, Playwright)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from relay.handlers.page import missing_vendor_files
from tests.timing import scaled

from .harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    CustomRelay,
    LoopThread,
    MakeAgent,
    NewPage,
    Relay,
    Sidecar,
    StartSidecar,
    fake_agents,
)

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def _skip_reason() -> str | None:
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    missing = missing_vendor_files()
    if missing:
        return f"dashboard vendor files missing ({', '.join(missing)}): run scripts/fetch-assets"
    return None


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for this package's tests. Package scope, not session: the sync
    Playwright API keeps an event loop on the main thread while it is open, which
    would break the asyncio tests of other packages that run after these."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with playwright_sync.sync_playwright() as pw:
        # Every expect() without its own timeout waits this long (Playwright's 5 s, scaled).
        playwright_sync.expect.set_options(timeout=scaled(5_000))
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def relay(loop: LoopThread) -> Iterator[Relay]:
    r = Relay(loop)
    yield r
    r.stop()


@pytest.fixture
def make_agent(loop: LoopThread, relay: Relay) -> Iterator[MakeAgent]:
    with fake_agents(loop, relay) as make:
        yield make


def _console_error(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(message.text)


@pytest.fixture
def page_errors() -> list[str]:
    """Console errors and uncaught page errors of every page this test opened."""
    return []


@pytest.fixture
def new_page(
    browser: Any, request: pytest.FixtureRequest, page_errors: list[str]
) -> Iterator[NewPage]:
    """``page = new_page()``: a fresh browser context (own sessionStorage) and page;
    its console errors and page errors are collected in ``page_errors``."""
    contexts: list[Any] = []

    def make(
        width: int = 1440, height: int = 900, *, phone: bool = False, context: Any = None
    ) -> Page:
        """``phone=True``: touch, mobile viewport, 2x pixels (a 390x844 phone).
        ``context``: another tab in that page's browser context (shared storage)."""
        if context is None:
            options: dict[str, Any] = {"viewport": {"width": width, "height": height}}
            if phone:
                options.update(has_touch=True, is_mobile=True, device_scale_factor=2)
            context = browser.new_context(**options)
            contexts.append(context)
        page: Page = context.new_page()
        page.set_default_timeout(scaled(10_000))
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        page.on("console", lambda m: _console_error(m, page_errors))
        return page

    yield make
    for context in contexts:
        try:
            if context.pages:
                ARTIFACTS.mkdir(exist_ok=True)
                context.pages[-1].screenshot(path=str(ARTIFACTS / f"last-{request.node.name}.png"))
        finally:
            context.close()


@pytest.fixture
def sidecar(relay: Relay) -> Iterator[StartSidecar]:
    """``sidecar("a1", ["python3", "-c", ...], "--name", "x")``: the real CLI."""
    started: list[Sidecar] = []

    def start(agent_id: str, command: list[str], *extra: str) -> Sidecar:
        proc = Sidecar(relay, agent_id, command, *extra)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def custom_relay(loop: LoopThread) -> Iterator[CustomRelay]:
    """``relay, make_agent = custom_relay(scrollback_bytes=...)``: a relay with other
    limits and a fake-agent factory bound to it; all stopped at teardown."""
    with contextlib.ExitStack() as stack:

        def make(**overrides: Any) -> tuple[Relay, MakeAgent]:
            r = Relay(loop, **overrides)
            stack.callback(r.stop)
            return r, stack.enter_context(fake_agents(loop, r))

        yield make
