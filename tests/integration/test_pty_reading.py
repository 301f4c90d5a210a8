"""PtyChild.start_reading: every byte in order, end of output last, a pause obeyed at once.

One wakeup reads on while the PTY has output and hands each read to ``on_data`` before
the next one; a pause that ``on_data`` asks for (flow control) has to stop that loop
before the next read, or a burst could overrun the retention buffer flow control
protects.
"""

from __future__ import annotations

import asyncio
import os
import sys

from agent_sidecar.pty import PtyChild
from tests.timing import scaled

#: 1 MiB of numbered lines in raw mode (no \n -> \r\n), written in one go, then exit.
WRITER = (
    "import os, sys, tty; tty.setraw(0); "
    "data = b''.join(b'%07d\\n' % i for i in range(131072)); "
    "view = memoryview(data)\n"
    "while view: view = view[os.write(1, view):]\n"
)
EXPECTED = b"".join(b"%07d\n" % i for i in range(131072))


async def _spawn(code: str) -> PtyChild:
    return await PtyChild.spawn([sys.executable, "-c", code], env=dict(os.environ),
                                cols=80, rows=24)


async def test_a_burst_arrives_exactly_and_end_of_output_comes_after_the_last_byte() -> None:
    child = await _spawn(WRITER)
    got = bytearray()
    ended = asyncio.Event()
    at_end: list[int] = []

    def on_eof() -> None:
        at_end.append(len(got))
        ended.set()

    try:
        child.start_reading(got.extend, on_eof)
        async with asyncio.timeout(scaled(20)):
            await ended.wait()
            await child.wait()
    finally:
        child.close()
    assert bytes(got) == EXPECTED
    assert at_end == [len(EXPECTED)]


async def test_a_pause_asked_for_inside_on_data_stops_the_reads_of_that_wakeup() -> None:
    child = await _spawn(WRITER)
    loop = asyncio.get_running_loop()
    calls: list[int] = []
    after_return: asyncio.Future[int] = loop.create_future()
    got = bytearray()
    ended = asyncio.Event()

    def on_data(data: bytes) -> None:
        got.extend(data)
        calls.append(len(data))
        if len(calls) == 1:
            child.pause_reading()
            # Runs once the reader's callback has returned: no read may have followed.
            loop.call_soon(lambda: after_return.set_result(len(calls)))

    try:
        child.start_reading(on_data, ended.set)
        async with asyncio.timeout(scaled(20)):
            assert await after_return == 1
            child.resume_reading()
            await ended.wait()
            await child.wait()
    finally:
        child.close()
    assert bytes(got) == EXPECTED
