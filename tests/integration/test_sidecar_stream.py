"""Output reaches the relay exactly: offsets, bytes, UTF-8 boundaries, drain on exit."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from agent_sidecar.config import RunConfig
from relay.server import RunningRelay
from tests.integration.conftest import Dashboard, Sidecar, py, rest_output

NUMBERED = """
import sys
out = sys.stdout
for i in range(200_000 // 50):
    out.write(f"{i:08d} " + "abcdefghij" * 4 + "\\n")
out.flush()
"""


def numbered_lines() -> bytes:
    return b"".join(
        f"{i:08d} ".encode() + b"abcdefghij" * 4 + b"\r\n" for i in range(200_000 // 50)
    )


async def test_200_kb_of_numbered_lines_arrive_exactly_once_in_order(
    live_relay: RunningRelay,
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    sidecar = start_sidecar(make_run_config(live_relay.url, py(NUMBERED)))
    assert await sidecar.result() == 0
    start, data = await rest_output(live_relay.url, secret, "itest-agent")
    assert start == 0
    assert data == numbered_lines()  # the PTY turns \n into \r\n


async def test_bytes_that_are_not_utf8_arrive_unchanged(
    live_relay: RunningRelay,
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    code = "import os, tty; tty.setraw(1); os.write(1, bytes(range(256)) * 3 + b'\\xff\\xfe')"
    sidecar = start_sidecar(make_run_config(live_relay.url, py(code)))
    assert await sidecar.result() == 0
    _, data = await rest_output(live_relay.url, secret, "itest-agent")
    assert data == bytes(range(256)) * 3 + b"\xff\xfe"


async def test_multibyte_characters_written_byte_by_byte_are_never_split(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    text = "héllo wörld € 𝄞 日本語 done"
    code = (
        "import os, sys, time\n"
        f"for b in {text.encode()!r}:\n"
        "    os.write(1, bytes([b])); time.sleep(0.003)\n"
    )
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(code), utf8_flush_delay=0.5))
    await dash.until_output(b"done")
    assert dash.stream.decode() == text
    assert all("enc" not in chunk for chunk in dash.chunks), dash.chunks
    assert await sidecar.result() == 0


async def test_an_incomplete_character_is_sent_after_a_short_delay(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    # Half of "€" and then silence: the held bytes must not wait for ever.
    code = "import os, sys; os.write(1, b'half:\\xe2\\x82'); sys.stdin.readline()"
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(code), utf8_flush_delay=0.05))
    await dash.until_output(b"half:\xe2\x82")
    assert json.dumps(dash.chunks[-1]).find("base64") != -1  # sent as it is, base64
    await dash.request("command:request", "r1", input="")
    assert await sidecar.result() == 0


async def test_exit_is_reported_after_the_last_byte_and_the_drain_completes(
    live_relay: RunningRelay,
    secret: bytes,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    code = "import sys; sys.stdout.write('z' * 300_000 + 'END'); sys.stdout.flush(); sys.exit(5)"
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(code)))
    info = await dash.until_state("exited")
    # By the time the dashboard hears "exited", the relay holds every byte.
    assert info.offset == 300_003
    assert info.exit_code == 5
    assert await sidecar.result() == 5
    _, data = await rest_output(live_relay.url, secret, "itest-agent")
    assert data == b"z" * 300_000 + b"END"
