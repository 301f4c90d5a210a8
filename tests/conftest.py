"""Shared fixtures for relay and sidecar tests.

- ``secret``: a 48-byte HS256 secret (pyjwt warns below 32 bytes; warnings are errors).
- ``make_token(role, sub, agents=None, ttl=600, **claims)``: a signed JWT for ``secret``.
- ``relay_config``: a :class:`RelayConfig` on port 0 with short timeouts (hello 1 s,
  close 2 s) so failing tests fail fast; ``make_config(**overrides)`` for variants.
- ``relay``: a test client of ``create_app(relay_config)`` (real sockets on 127.0.0.1);
  ``make_relay(**overrides)`` starts one with other settings.
- ``connect_agent(client, agent_id, ...)`` / ``connect_dashboard(client, ...)``: raw
  WebSocket clients (:class:`tests.wsclient.WsPeer`) that have already done the
  hello/connect exchange; ``open_ws(client, path, headers=...)`` for one that has not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import pytest
from aiohttp.test_utils import TestClient

from relay.app import create_app
from relay.auth import mint_token
from relay.config import RelayConfig
from tests.timing import scale
from tests.tools import TOOLS, in_ci
from tests.wsclient import JsonDict, WsPeer

SECRET = b"test-secret-that-is-long-enough-for-hs256-0123"

#: pytest stash key: {missing tool: number of tests skipped for it}.
SKIPPED_FOR = pytest.StashKey[dict[str, int]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests whose tool is missing (see tests/tools.py); in CI, refuse to run."""
    skipped: dict[str, int] = {}
    for tool in TOOLS:
        needing = [
            item for item in items
            if item.get_closest_marker(tool.marker)
            or any(name in getattr(item, "fixturenames", ()) for name in tool.fixtures)
        ]
        missing = tool.check() if needing else None
        if missing is None:
            continue
        if in_ci():
            raise pytest.UsageError(
                f"CI=true but {missing} is missing for {len(needing)} tests "
                f"marked {tool.marker!r} ({tool.install})"
            )
        skip = pytest.mark.skip(reason=f"{missing} is missing ({tool.install})")
        for item in needing:
            item.add_marker(skip)
        skipped[missing] = skipped.get(missing, 0) + len(needing)
    config.stash[SKIPPED_FOR] = skipped
    _scale_test_timeouts(config, items)


def _scale_test_timeouts(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest-timeout's limit (a test's own ``timeout`` marker, else --timeout or the
    ini value) times AGENT_SIDECAR_TEST_TIMEOUT_SCALE (tests/timing.py)."""
    factor = scale()
    if factor == 1:
        return
    default = config.getoption("timeout", None) or config.getini("timeout") or 0
    for item in items:
        marker = item.get_closest_marker("timeout")
        base = float(marker.args[0] if marker and marker.args else default)
        if base > 0:
            kwargs = dict(marker.kwargs) if marker else {}
            item.add_marker(pytest.mark.timeout(base * factor, **kwargs), append=False)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    skipped = config.stash.get(SKIPPED_FOR, {})
    if skipped:
        terminalreporter.section("skipped for missing tools", yellow=True)
        for missing, count in sorted(skipped.items()):
            terminalreporter.line(f"{count} tests: {missing} is missing")


class MakeToken(Protocol):
    def __call__(
        self,
        role: str = ...,
        sub: str = ...,
        agents: list[str] | None = ...,
        ttl: float = ...,
    ) -> str: ...


@pytest.fixture
def secret() -> bytes:
    return SECRET


@pytest.fixture
def make_token(secret: bytes) -> MakeToken:
    def make(
        role: str = "operator", sub: str = "alice", agents: list[str] | None = None,
        ttl: float = 600,
    ) -> str:
        return mint_token(secret, sub=sub, role=role, agents=agents, ttl=ttl)  # type: ignore[arg-type]

    return make


@pytest.fixture
def make_config(secret: bytes) -> Callable[..., RelayConfig]:
    def make(**overrides: Any) -> RelayConfig:
        base = RelayConfig(
            port=0,
            jwt_secret=secret,
            hello_timeout=1.0,
            heartbeat_interval=5.0,
            dead_after=10.0,
            shutdown_timeout=2.0,
        )
        return dataclasses.replace(base, **overrides)

    return make


@pytest.fixture
def relay_config(make_config: Callable[..., RelayConfig]) -> RelayConfig:
    return make_config()


@pytest.fixture
def make_relay(
    aiohttp_client: Any, make_config: Callable[..., RelayConfig]
) -> Callable[..., Awaitable[TestClient[Any, Any]]]:
    async def make(**overrides: Any) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = await aiohttp_client(create_app(make_config(**overrides)))
        return client

    return make


@pytest.fixture
async def relay(aiohttp_client: Any, relay_config: RelayConfig) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(relay_config))
    return client


async def _open_ws(
    client: TestClient[Any, Any], path: str, headers: dict[str, str] | None = None
) -> WsPeer:
    return WsPeer(await client.ws_connect(path, headers=headers or {}, autoping=True))


@pytest.fixture
def open_ws() -> Callable[..., Awaitable[WsPeer]]:
    """``await open_ws(client, "/ws/agent", headers={...})``: upgraded, nothing sent."""
    return _open_ws


def hello(agent_id: str, **fields: Any) -> JsonDict:
    """The fields of an ``agent:hello`` (without ``type``)."""
    base: JsonDict = {
        "protocol": 1, "agent_id": agent_id, "name": agent_id, "host": "testhost",
        "command": ["sh"], "pid": 4242, "cols": 80, "rows": 24, "started_at": 1.0,
        "labels": {},
    }
    base.update(fields)
    return base


@pytest.fixture
def connect_agent(make_token: MakeToken) -> Callable[..., Awaitable[WsPeer]]:
    """``await connect_agent(client, "a1")``: a sidecar that got ``agent:welcome``
    (kept on ``peer.welcome``). ``token=`` overrides the default agent token for
    ``sub=agent_id``; extra keywords go into the hello."""

    async def connect(
        client: TestClient[Any, Any], agent_id: str = "a1", *, token: str | None = None,
        **fields: Any,
    ) -> WsPeer:
        peer = await _open_ws(client, "/ws/agent")
        tok = token if token is not None else make_token("agent", sub=agent_id)
        await peer.send("agent:hello", token=tok, **hello(agent_id, **fields))
        peer.welcome = await peer.expect("agent:welcome")  # type: ignore[attr-defined]
        return peer

    return connect


@pytest.fixture
def connect_dashboard(make_token: MakeToken) -> Callable[..., Awaitable[WsPeer]]:
    """``await connect_dashboard(client, role="viewer", agents=[...], binary=True)``: a
    dashboard that got ``dashboard:connected`` (kept on ``peer.connected``);
    ``presence=True`` asks for ``agent:presence``."""

    async def connect(
        client: TestClient[Any, Any], *, role: str = "operator", sub: str = "dash",
        agents: list[str] | None = None, binary: bool = False, token: str | None = None,
        presence: bool = False,
    ) -> WsPeer:
        peer = await _open_ws(client, "/ws/dashboard")
        tok = token if token is not None else make_token(role, sub=sub, agents=agents)
        fields: JsonDict = {"protocol": 1, "token": tok}
        if binary:
            fields["binary"] = True
        if presence:
            fields["presence"] = True
        await peer.send("dashboard:connect", **fields)
        peer.connected = await peer.expect("dashboard:connected")  # type: ignore[attr-defined]
        return peer

    return connect
