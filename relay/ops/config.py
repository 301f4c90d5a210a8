"""What an operator turns on: metrics listener, audit log, recordings.

One frozen object, carried by :class:`relay.config.RelayConfig` as ``ops``, that validates
itself. Every default keeps the relay as it was without these options: ``/metrics``
answers admins on the relay's own port, the audit keeps recent records in memory only,
and recordings live in memory next to the scrollback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024


class OpsConfigError(ValueError):
    """An operations option is unusable; the message says which and why."""


@dataclass(frozen=True, slots=True)
class OpsConfig:
    #: ``(host, port)`` of a separate listener serving ``/metrics`` without a token
    #: (bind it to a private address); None: ``/metrics`` on the relay's port, admins only.
    metrics_listen: tuple[str, int] | None = None
    #: One JSON line per control action; None: no file (records stay in memory and, with
    #: Redis, in the shared stream).
    audit_log: Path | None = None
    #: The audit file is rotated when it would pass this size.
    audit_max_bytes: int = 10 * MIB
    #: Rotated audit files kept (``FILE.1`` .. ``FILE.N``).
    audit_backups: int = 5
    #: Records the relay keeps in memory for ``GET /api/audit`` without Redis.
    audit_memory_records: int = 10_000
    #: With Redis: approximate length cap of the shared audit stream (``XADD MAXLEN ~``).
    audit_stream_max: int = 100_000
    #: Directory keeping each agent's asciicast past the scrollback; None: memory only.
    record_dir: Path | None = None
    #: Largest recording file per agent; past it the recording stops with a marker.
    record_max_bytes: int = 64 * MIB

    def __post_init__(self) -> None:
        for name in (
            "audit_max_bytes",
            "audit_memory_records",
            "audit_stream_max",
            "record_max_bytes",
        ):
            if getattr(self, name) < 1:
                raise OpsConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.audit_backups < 0:
            raise OpsConfigError(f"audit_backups must be 0 or more, got {self.audit_backups}")
        if self.metrics_listen is not None and not 0 <= self.metrics_listen[1] <= 65535:
            raise OpsConfigError(f"metrics port must be 0-65535, got {self.metrics_listen[1]}")


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9100`` for IPv6) as a pair; raises :class:`OpsConfigError`."""
    host, sep, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdecimal() or not 0 <= int(port) <= 65535:
        raise OpsConfigError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)
