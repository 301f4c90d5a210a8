"""Where the relay is and which token to show it: ``--relay``/``--token``, or the
embedded relay of ``agent-sidecar run`` on ``--port`` through its runtime file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from relay.auth import mint_token

from .errors import ClientError, ClientExit, RelayUnreachable

#: Identity and lifetime of the token minted for the embedded relay (as the dashboard
#: link's: a long ``attach`` is not cut at the token's expiry after an hour).
LOCAL_SUB = "local-operator"
LOCAL_TOKEN_TTL = 7 * 24 * 3600.0

_WS = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
_HTTP = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
_ENDPOINT_PATHS = ("/ws/dashboard", "/ws/agent")


class EndpointError(ClientError):
    """A relay URL or token that cannot be used (a usage error)."""

    exit_code = ClientExit.USAGE


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A relay (its base URL, any scheme) and the token to present (never in ``repr``)."""

    url: str
    token: str = field(repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme.lower() not in _WS or not parts.netloc:
            raise EndpointError(
                f"invalid relay URL {self.url!r}: use ws://HOST:PORT or wss://HOST[/PATH]"
            )
        if parts.query or parts.fragment:
            raise EndpointError(
                f"invalid relay URL {self.url!r}: no query or fragment (never put a token "
                "in a URL)"
            )
        if not self.token:
            raise EndpointError("no token: give --token or set AGENT_SIDECAR_TOKEN")

    def _base(self, schemes: dict[str, str]) -> str:
        parts = urlsplit(self.url)
        path = parts.path.rstrip("/")
        for suffix in _ENDPOINT_PATHS:
            path = path.removesuffix(suffix)
        return urlunsplit((schemes[parts.scheme.lower()], parts.netloc, path, "", ""))

    @property
    def dashboard_url(self) -> str:
        """The ``/ws/dashboard`` WebSocket URL."""
        return self._base(_WS) + "/ws/dashboard"

    @property
    def http_url(self) -> str:
        """The relay's HTTP base (for ``/api/...``), without a trailing slash."""
        return self._base(_HTTP)


def embedded_endpoint(port: int, directory: Path, token: str | None = None) -> Endpoint:
    """The embedded relay on ``port``, from the runtime file ``run`` wrote in ``directory``.

    Without ``token``, an operator token signed with the relay's secret (the file is the
    user's own, mode 0600, so whoever can read it could sign one anyway).
    """
    from agent_sidecar.embedded import read_runtime, runtime_file

    path = runtime_file(port, directory)
    info = read_runtime(path)
    if info is None:
        raise RelayUnreachable(
            f"no local relay on port {port} (no {path}): start one with 'agent-sidecar run', "
            "or give --relay URL and --token"
        )
    if token is None:
        token = mint_token(info.secret, sub=LOCAL_SUB, role="operator", ttl=LOCAL_TOKEN_TTL)
    return Endpoint(url=info.url, token=token)


def resolve_endpoints(
    relays: Sequence[str], token: str | None, port: int, directory: Path
) -> list[Endpoint]:
    """One endpoint per ``--relay`` (all with ``token``), else the embedded relay."""
    if relays:
        if not token:
            raise EndpointError("--relay needs a token: give --token or set AGENT_SIDECAR_TOKEN")
        return [Endpoint(url=url, token=token) for url in relays]
    return [embedded_endpoint(port, directory, token or None)]
