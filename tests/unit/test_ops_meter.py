"""The outbox reports output frames and slow-consumer closes to the relay's metrics."""

from __future__ import annotations

import asyncio

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from relay.handlers.outbox import Outbox
from relay.ops.metrics import RelayMetrics
from relay.protocol import CloseCode
from tests.timing import deadline


class _StuckTransport:
    """A peer that never reads: the first send waits forever."""

    def __init__(self) -> None:
        self.sending = asyncio.Event()
        self.closed_with: int | None = None

    async def send(self, frame: str | bytes) -> None:
        self.sending.set()
        await asyncio.Event().wait()

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = code


def samples(metrics: RelayMetrics) -> dict[str, float]:
    text = generate_latest(metrics.registry).decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
            if not s.labels}


async def test_a_slow_consumer_close_is_counted_once_and_only_output_frames_are_metered() -> None:
    metrics = RelayMetrics()
    transport = _StuckTransport()
    outbox = Outbox(transport, limit=10, meter=metrics)
    outbox.start()
    outbox.send_text("12345", agent_id="a1")
    async with deadline(5):
        await transport.sending.wait()          # the writer holds the first frame
    outbox.send_text("control")                 # not output; 7 bytes queued
    outbox.send_text("123456", agent_id="a1")   # 13 bytes queued: past the bound, 4503
    outbox.close(CloseCode.GOING_AWAY, "later") # already closed: not counted again
    await outbox.wait_closed()
    assert transport.closed_with == CloseCode.SLOW_CONSUMER
    seen = samples(metrics)
    assert seen["agent_relay_slow_consumer_closes_total"] == 1
    assert seen["agent_relay_output_sent_bytes_total"] == 5
