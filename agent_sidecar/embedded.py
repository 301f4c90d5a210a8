"""Embedded mode: start a relay in-process on 127.0.0.1, or join the one already there.

The first ``agent-sidecar run`` without ``--relay`` hosts the relay and writes the
runtime file ``$XDG_RUNTIME_DIR/agent-sidecar/relay-PORT.json`` (mode 0600: URL, secret,
pid). Later local ``run``s (and ``token``) read it and join. When the host exits, its
relay goes with it; a sidecar that had joined notices on its next reconnection attempt
and takes the port over with the same secret, so the dashboard link printed earlier
keeps working (see :meth:`LocalRelay.ensure`).

So that the successor does not start empty, the exiting host writes a snapshot of its
agents (records and the newest part of each scrollback, :mod:`relay.hub.snapshot`) to
``relay-PORT.snapshot`` next to the runtime file, mode 0600, and the successor loads it
(and removes it) when it takes the port over with the same secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from relay.appkeys import HUB
from relay.auth import mint_token
from relay.config import RelayConfig
from relay.handlers.agent import attach_in_process
from relay.handlers.pipe import PipeEnd
from relay.hub.local import LocalHub
from relay.hub.snapshot import SnapshotError, bounded, dumps, loads
from relay.server import RunningRelay, start_relay

from .errors import RelayUnavailable

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
SECRET_BYTES = 32
#: Lifetime of the tokens the embedded relay's users get.
DASHBOARD_TOKEN_TTL = 7 * 24 * 3600.0
AGENT_TOKEN_TTL = 24 * 3600.0
#: How long a taken-over agent that was connected has to reconnect before it shows as
#: disconnected (sidecars retry within seconds; their backoff caps at 30 s).
TAKEOVER_GRACE = 45.0


def runtime_dir(env: dict[str, str] | None = None) -> Path:
    """``$XDG_RUNTIME_DIR/agent-sidecar``, else ``~/.local/state/agent-sidecar``."""
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_RUNTIME_DIR")
    if base and os.path.isabs(base):
        return Path(base) / "agent-sidecar"
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "state" / "agent-sidecar"


def runtime_file(port: int, directory: Path) -> Path:
    return directory / f"relay-{port}.json"


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    """What the runtime file holds."""

    url: str
    port: int
    secret: bytes
    pid: int

    def to_json(self) -> str:
        return json.dumps(
            {"url": self.url, "port": self.port, "secret": self.secret.hex(), "pid": self.pid}
        )

    @classmethod
    def from_json(cls, text: str) -> RuntimeInfo:
        obj = json.loads(text)
        secret = bytes.fromhex(obj["secret"])
        if len(secret) < SECRET_BYTES:
            raise ValueError("secret too short")
        return cls(url=str(obj["url"]), port=int(obj["port"]), secret=secret, pid=int(obj["pid"]))


def snapshot_file(port: int, directory: Path) -> Path:
    return directory / f"relay-{port}.snapshot"


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically, owner-only, in an owner-only directory."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_runtime(path: Path) -> RuntimeInfo | None:
    try:
        return RuntimeInfo.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_runtime(path: Path, info: RuntimeInfo) -> None:
    """Write atomically, owner-only (the file holds the relay's secret)."""
    _write_private(path, info.to_json().encode())


def remove_runtime(path: Path, pid: int) -> None:
    """Remove the file if it is still ours (a successor may have rewritten it)."""
    info = read_runtime(path)
    if info is not None and info.pid == pid:
        with contextlib.suppress(OSError):
            path.unlink()


async def relay_healthy(url: str, timeout: float = 2.0) -> bool:
    """True if ``url`` answers ``/healthz`` as a relay of this project does."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s:
            async with s.get(f"{url}/healthz") as resp:
                body = await resp.json(content_type=None) if resp.status == 200 else None
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return False
    return isinstance(body, dict) and body.get("status") == "ok"


async def relay_answers(url: str, secret: bytes, timeout: float = 2.0) -> bool:
    """True if a relay of this project serves ``url`` and accepts tokens from ``secret``."""
    if not await relay_healthy(url, timeout):
        return False
    token = mint_token(secret, sub="agent-sidecar-probe", role="viewer", ttl=60)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s:
            headers = {"Authorization": f"Bearer {token}"}
            async with s.get(f"{url}/api/agents", headers=headers) as resp:
                return resp.status == 200
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return False


class LocalRelay:
    """The local relay this sidecar hosts or has joined."""

    def __init__(
        self,
        port: int,
        directory: Path,
        *,
        notify: Callable[[str], None],
        join_wait: float = 2.0,
        notify_webhooks: tuple[str, ...] = (),
        notify_ntfy: tuple[str, ...] = (),
    ) -> None:
        self.port = port
        #: Notification channels of the relay when this sidecar hosts it (also after a
        #: takeover); a sidecar that joins another's relay gets that relay's.
        self._notify_webhooks = notify_webhooks
        self._notify_ntfy = notify_ntfy
        self.directory = directory
        self._notify = notify
        self._join_wait = join_wait
        self._secret = b""
        self._url = ""
        self.hosted: RunningRelay | None = None
        self._path: Path | None = None
        #: The relay's side of this process's in-process agent connections.
        self._attached: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return self._url

    @property
    def agent_url(self) -> str:
        return self._url.replace("http://", "ws://", 1) + "/ws/agent"

    def agent_token(self, agent_id: str) -> str:
        """A fresh token for each connection, so a long run never holds an expired one."""
        return mint_token(
            self._secret, sub=agent_id, role="agent", agents=[agent_id], ttl=AGENT_TOKEN_TTL
        )

    def dashboard_url(self) -> str:
        token = mint_token(
            self._secret, sub="local-operator", role="operator", ttl=DASHBOARD_TOKEN_TTL
        )
        return f"{self._url}/#token={token}"

    def in_process(self) -> PipeEnd | None:
        """While this sidecar hosts the relay: a connection to it in this process (no
        socket, no WebSocket framing), served like ``/ws/agent``; else None (join over
        the WebSocket at :attr:`agent_url`)."""
        if self.hosted is None:
            return None
        end, task = attach_in_process(self.hosted.app)
        self._attached.add(task)
        task.add_done_callback(self._attached.discard)
        return end

    async def start_or_join(self) -> None:
        """Join the relay on the port if it is ours and answers; else host a new one."""
        deadline = asyncio.get_running_loop().time() + self._join_wait
        while True:
            if await self._try_join():
                return
            try:
                await self._host(secrets.token_bytes(SECRET_BYTES))
                return
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise RelayUnavailable(
                        f"cannot start the relay on {HOST}:{self.port}: {exc.strerror}"
                    ) from None
            # Someone else holds the port: maybe a sidecar that is writing its runtime file
            # right now. Give it a moment, then give up.
            if asyncio.get_running_loop().time() >= deadline:
                raise RelayUnavailable(await self._port_taken_reason())
            await asyncio.sleep(0.1)

    async def _port_taken_reason(self) -> str:
        where = runtime_file(self.port, self.directory)
        if await relay_healthy(f"http://{HOST}:{self.port}"):
            return (
                f"port {self.port} on {HOST} is held by an agent-sidecar relay this user "
                f"cannot join (no runtime file of it at {where}: another user's, or one "
                "started with another XDG_RUNTIME_DIR or HOME); choose another --port"
            )
        return (
            f"port {self.port} on {HOST} is in use by a program that is not an "
            "agent-sidecar relay; choose another with --port"
        )

    async def ensure(self) -> None:
        """Before a reconnection: if the relay we joined went away, take its port over."""
        if self.hosted is not None:
            return
        info = read_runtime(runtime_file(self.port, self.directory))
        moved = info is not None and info.secret != self._secret
        if moved and info is not None and await relay_answers(info.url, info.secret):
            self._secret, self._url = info.secret, info.url
            log.info("joined the relay that took over port %d", self.port)
            return
        if await relay_answers(self._url, self._secret):
            return
        try:
            await self._host(self._secret)
        except OSError as exc:
            log.info("could not take over port %d: %s", self.port, exc.strerror)
            return
        self._notify(
            f"agent-sidecar: the relay on port {self.port} went away; this sidecar hosts it now"
            " (the dashboard link stays valid)"
        )

    async def _try_join(self) -> bool:
        info = read_runtime(runtime_file(self.port, self.directory))
        if info is None or not await relay_answers(info.url, info.secret):
            return False
        self._secret, self._url = info.secret, info.url
        log.info("joined the local relay on port %d (pid %d)", self.port, info.pid)
        if self._notify_webhooks or self._notify_ntfy:
            self._notify(
                f"agent-sidecar: joined the relay on port {self.port} (pid {info.pid}); "
                "--notify-webhook/--notify-ntfy apply only if this run takes the relay over"
            )
        return True

    async def _host(self, secret: bytes) -> None:
        config = RelayConfig(
            host=HOST,
            port=self.port,
            jwt_secret=secret,
            notify_webhooks=self._notify_webhooks,
            notify_ntfy=self._notify_ntfy,
        )
        self.hosted = await start_relay(config)
        self._secret = secret
        self._url = f"http://{HOST}:{self.hosted.port}"
        self._load_snapshot()
        self._path = runtime_file(self.hosted.port, self.directory)
        write_runtime(
            self._path,
            RuntimeInfo(url=self._url, port=self.hosted.port, secret=secret, pid=os.getpid()),
        )
        log.info("hosting the relay on %s", self._url)

    def _hub(self) -> LocalHub | None:
        hub = self.hosted.app[HUB] if self.hosted is not None else None
        return hub if isinstance(hub, LocalHub) else None

    def _save_snapshot(self) -> None:
        """Leave this relay's agents to whoever takes the port over."""
        hub = self._hub()
        if hub is None or self.hosted is None:
            return
        if hub.connected_agents() == 0:
            # Nobody left to take the port over: leave no agents' output on disk.
            return
        records = bounded(hub.export_agents())
        if not records:
            return
        path = snapshot_file(self.hosted.port, self.directory)
        try:
            _write_private(path, dumps(records, secret=self._secret, written_at=time.time()))
        except OSError as exc:
            log.warning("could not write the relay snapshot %s: %s", path, exc.strerror)
            return
        log.info("left %d agents for a successor relay in %s", len(records), path)

    def _load_snapshot(self) -> None:
        """Take over what a predecessor on this port left, if it had our secret."""
        hub = self._hub()
        if hub is None or self.hosted is None:
            return
        path = snapshot_file(self.hosted.port, self.directory)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("could not read the relay snapshot %s: %s", path, exc.strerror)
            return
        with contextlib.suppress(OSError):
            path.unlink()  # it holds agents' output: read once, then gone
        try:
            records = loads(raw, secret=self._secret)
        except SnapshotError as exc:
            log.info("ignored the relay snapshot %s: %s", path, exc)
            return
        taken = hub.import_agents(records, grace=TAKEOVER_GRACE)
        log.info("took over %d agents from the previous relay on port %d", taken, self.port)

    async def close(self) -> None:
        if self.hosted is not None:
            self._save_snapshot()
        if self._path is not None:
            remove_runtime(self._path, os.getpid())
            self._path = None
        if self.hosted is not None:
            hosted, self.hosted = self.hosted, None
            await hosted.close()
        for task in list(self._attached):
            task.cancel()
        await asyncio.gather(*self._attached, return_exceptions=True)
