"""``Ops``: the one object the relay's handlers call for metrics, audit and recordings.

Created by ``create_app`` as ``app[OPS]``; its lifetime (the audit file, the audit
stream, the metrics listener, open recordings) follows the app's. Each method is one
call per event from a handler, so the handlers stay free of operations detail::

    dashboard handler   control(conn, message, outcome)   audit + decision marker
    agent handler       agent_started(hello)              recording opens / resizes
                        agent_output(chunk)               bytes in + recording
                        agent_status(agent_id, status)    resize + exit marker
                        agent_activity(agent_id, activity) activity marker
                        agent_gone(agent_id)              recording file flushed
    both                metrics.*                         counters (relay.ops.metrics)
"""

from __future__ import annotations

import secrets
from typing import Final

from relay.config import RelayConfig
from relay.ops.audit import AuditLog
from relay.ops.audit_record import SENT
from relay.ops.metrics import RelayMetrics
from relay.ops.recorder import Recorder
from relay.protocol import Activity, AgentHello, AgentStatus, TerminalOutput

DECISION: Final = "permission:decide"


class Ops:
    def __init__(self, config: RelayConfig, relay_id: str | None = None) -> None:
        self.config = config
        self.relay_id = relay_id or secrets.token_hex(6)
        self.metrics = RelayMetrics()
        self.audit = AuditLog(
            config.ops, self.metrics, relay_id=self.relay_id,
            redis_url=config.redis_url, redis_prefix=config.redis_prefix,
        )
        #: The port of the ``--metrics-listen`` listener once it is bound.
        self.metrics_port: int | None = None
        self.recorder = Recorder(
            record_dir=config.ops.record_dir, max_file_bytes=config.ops.record_max_bytes,
            forget_after=config.forget_after,
        )

    async def start(self) -> None:
        await self.audit.start()

    async def close(self) -> None:
        self.recorder.close()
        await self.audit.close()

    # ------------------------------------------------------------------ dashboards

    def control(
        self, *, sub: str, role: str, session_id: str, message: object, outcome: str
    ) -> None:
        """A control action was handled: ``outcome`` is ``sent`` or the error code."""
        record = self.audit.record(
            sub=sub, role=role, session_id=session_id, message=message, outcome=outcome
        )
        if record.action == DECISION and outcome == SENT:
            self.recorder.marker(
                record.agent_id, f"decision: {record.decision} by {record.sub}"
            )

    # ------------------------------------------------------------------ agents

    def agent_started(self, hello: AgentHello) -> None:
        self.recorder.agent_started(hello.agent_id, hello.cols, hello.rows, hello.name)

    def agent_output(self, chunk: TerminalOutput) -> None:
        self.metrics.output_received(len(chunk.data))
        self.recorder.output(chunk.agent_id, chunk.offset, chunk.data)

    def agent_status(self, agent_id: str, status: AgentStatus) -> None:
        self.recorder.resize(agent_id, status.cols, status.rows)
        if status.state == "exited":
            how = status.signal or f"code {status.exit_code}"
            self.recorder.marker(agent_id, f"exited ({how})")

    def agent_activity(self, agent_id: str, activity: Activity) -> None:
        label = f"activity: {activity.state}"
        if activity.reason is not None:
            label += f" ({activity.reason})"
        self.recorder.activity(agent_id, label)

    def agent_gone(self, agent_id: str) -> None:
        self.recorder.agent_gone(agent_id)
