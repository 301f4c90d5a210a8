"""ActivityMonitor on a real event loop: when it looks at the agent again.

After output stops, the monitor's next look is when "working" runs out (5 s after the
last output). New output before then must bring that look forward to when the screen
settles, or a question printed a second after a build line is reported seconds late.
"""

from __future__ import annotations

import asyncio
import time

from agent_sidecar.activity.live import ActivityMonitor
from agent_sidecar.activity.model import Activity
from agent_sidecar.activity.settings import ActivityConfig
from tests.timing import deadline


async def test_new_output_brings_the_next_look_forward_to_when_the_screen_settles() -> None:
    sent: list[Activity] = []
    changed = asyncio.Event()

    def send(activity: Activity) -> None:
        sent.append(activity)
        changed.set()

    async def until(state: str) -> None:
        async with deadline(10):
            while not sent or sent[-1].state != state:
                changed.clear()
                await changed.wait()

    monitor = ActivityMonitor("other", send, ActivityConfig(), cols=40, rows=5)
    try:
        monitor.output(b"building...\r\n")
        await until("working")
        armed = monitor.next_look
        assert armed is not None
        assert armed > time.time() + 3  # the end of "working"
        monitor.output(b"Deploy to production? [y/N] ")
        armed = monitor.next_look
        assert armed is not None
        assert armed <= time.time() + 1.0  # settle: 0.4 s
        await until("waiting")
        assert sent[-1].reason == "confirm"
    finally:
        await monitor.close()
