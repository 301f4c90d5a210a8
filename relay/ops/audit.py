"""The audit log (contract section 12): every control action, wherever it is kept.

:meth:`AuditLog.record` is the one call the dashboard handler makes per control action,
after the relay decided its outcome. The record goes to

- memory: the last ``audit_memory_records`` records of this relay (always);
- the audit file, ``--audit-log FILE`` (:mod:`relay.ops.audit_file`), when configured;
- the shared Redis stream (:mod:`relay.ops.audit_stream`) when the relay runs with Redis.

:meth:`AuditLog.query` answers ``GET /api/audit``: from the shared stream with Redis (the
records of every relay of the fleet), else from memory.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from relay.hub.interface import Scope
from relay.ops.audit_file import RotatingFile
from relay.ops.audit_record import AuditRecord, build
from relay.ops.config import OpsConfig
from relay.ops.metrics import RelayMetrics

if TYPE_CHECKING:
    from relay.ops.audit_stream import AuditStream

log = logging.getLogger(__name__)

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of ``GET /api/audit``; None means any. Times are epoch seconds."""

    agent_id: str | None = None
    sub: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100
    #: Only agents this scope may see (an admin token with ``agents``).
    scope: Scope | None = None

    def keeps(self, record: AuditRecord) -> bool:
        return (
            (self.scope is None or self.scope.may_see(record.agent_id))
            and (self.agent_id is None or record.agent_id == self.agent_id)
            and (self.sub is None or record.sub == self.sub)
            and (self.since is None or record.time >= self.since)
            and (self.until is None or record.time <= self.until)
        )


class AuditLog:
    def __init__(
        self,
        config: OpsConfig,
        metrics: RelayMetrics,
        *,
        relay_id: str,
        redis_url: str | None = None,
        redis_prefix: str = "agent-relay",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._metrics = metrics
        self._relay_id = relay_id
        self._clock = clock
        self._memory: deque[AuditRecord] = deque(maxlen=config.audit_memory_records)
        self._file = (
            RotatingFile(config.audit_log, max_bytes=config.audit_max_bytes,
                         backups=config.audit_backups)
            if config.audit_log is not None
            else None
        )
        self._stream: AuditStream | None = None
        if redis_url is not None:
            # Imported only with Redis: a relay without --redis never loads redis.
            from relay.ops.audit_stream import AuditStream

            self._stream = AuditStream(
                redis_url, redis_prefix, max_len=config.audit_stream_max,
                on_dropped=metrics.audit_dropped, on_roundtrip=metrics.redis_roundtrip,
            )

    async def start(self) -> None:
        if self._file is not None:
            self._file.open()
        if self._stream is not None:
            await self._stream.start()

    async def close(self) -> None:
        if self._stream is not None:
            await self._stream.close()
        if self._file is not None:
            self._file.close()

    def record(
        self,
        *,
        sub: str,
        role: str,
        session_id: str | None,
        message: object,
        outcome: str,
    ) -> AuditRecord:
        """Keep one control action and its outcome (``sent`` or the error code)."""
        record = build(
            time=self._clock(), sub=sub, role=role, session_id=session_id,
            relay=self._relay_id, message=message, outcome=outcome,
        )
        self._memory.append(record)
        if self._file is not None:
            try:
                self._file.write_line(record.to_json())
            except OSError as exc:
                self._metrics.audit_dropped()
                log.error("audit file %s: write failed: %s", self._file.path, exc)
        if self._stream is not None:
            self._stream.append(record)
        self._metrics.audit_recorded(record.action, record.outcome)
        return record

    async def query(self, query: AuditQuery) -> list[AuditRecord]:
        """Newest first, at most ``query.limit`` records."""
        limit = max(1, min(query.limit, MAX_LIMIT))
        if self._stream is not None:
            return await self._stream.read(
                query.keeps, since=query.since, until=query.until, limit=limit
            )
        found: list[AuditRecord] = []
        for record in reversed(self._memory):
            if query.keeps(record):
                found.append(record)
                if len(found) == limit:
                    break
        return found
