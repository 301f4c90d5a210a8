"""Control from the relay: input, commands, resize, interrupts, states, exit codes."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable

import pytest

from agent_sidecar.config import RunConfig
from relay.server import RunningRelay
from tests.integration.conftest import Dashboard, Sidecar, py

ECHO_LINE = "import sys; print('ready', flush=True); print('got:' + sys.stdin.readline().strip())"

SIZE_REPORTER = """
import os, signal, sys
def report(*_):
    c, r = os.get_terminal_size(0)
    print(f"size:{c}x{r}", flush=True)
signal.signal(signal.SIGWINCH, report)
report()
print("ready", flush=True)
sys.stdin.readline()
"""

RAW_INTERRUPT = """
import os, signal, sys, tty
def on_int(*_):
    os.write(1, b"caught-int")
    os._exit(0)
signal.signal(signal.SIGINT, on_int)
tty.setraw(0)
os.write(1, b"raw-ready")
while True:
    signal.pause()
"""


async def test_command_request_writes_the_input_and_a_carriage_return_then_acks(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(ECHO_LINE)))
    await dash.until_output(b"ready")
    ack = await dash.request("command:request", "req-1", input="hello", submit=True)
    assert ack.ok
    assert ack.error is None
    await dash.until_output(b"got:hello")
    assert await sidecar.result() == 0


async def test_terminal_input_is_written_as_it_is(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(ECHO_LINE)))
    await dash.until_output(b"ready")
    await dash.send("terminal:input", agent_id="itest-agent", data="ab")
    await dash.send("terminal:input", agent_id="itest-agent", data="c\r")
    await dash.until_output(b"got:abc")
    assert await sidecar.result() == 0


async def test_resize_reaches_the_child_and_is_reported_in_the_status(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(SIZE_REPORTER), cols=90, rows=30))
    await dash.until_output(b"ready")
    assert b"size:90x30" in dash.stream
    await dash.send("terminal:resize", agent_id="itest-agent", cols=132, rows=43)
    await dash.until_output(b"size:132x43")
    await dash.until(lambda: dash.info is not None and (dash.info.cols, dash.info.rows) == (132, 43))
    await dash.request("command:request", "done", input="")
    assert await sidecar.result() == 0


async def test_interrupt_signals_a_raw_mode_program(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(RAW_INTERRUPT)))
    await dash.until_output(b"raw-ready")
    ack = await dash.request("command:interrupt", "int-1", signal="SIGINT")
    assert ack.ok
    await dash.until_output(b"caught-int")
    assert await sidecar.result() == 0


async def test_interrupt_stops_the_current_job_of_an_interactive_shell(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    dash = await dashboard(live_relay)
    argv = ("bash", "--norc", "--noprofile", "-i")
    sidecar = start_sidecar(make_run_config(live_relay.url, argv))
    await dash.until_state("running")
    await dash.request("command:request", "job", input="sh -c 'echo job-$((1+1)); exec sleep 60'")
    await dash.until_output(b"job-2")
    ack = await dash.request("command:interrupt", "int", signal="SIGINT")
    assert ack.ok
    await dash.request("command:request", "after", input="echo after-$((6*7))")
    await dash.until_output(b"after-42")
    await dash.request("command:request", "exit", input="exit 3")
    assert await sidecar.result() == 3


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGKILL, 137)])
async def test_a_command_killed_by_a_signal_exits_128_plus_n(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
    sig: int,
    code: int,
) -> None:
    dash = await dashboard(live_relay)
    kill = f"import os; print('bye', flush=True); os.kill(os.getpid(), {int(sig)})"
    sidecar = start_sidecar(make_run_config(live_relay.url, py(kill)))
    info = await dash.until_state("exited")
    assert info.exit_code == code
    assert sidecar.runner.exit is not None
    assert sidecar.runner.exit.signal == signal.Signals(sig).name
    assert await sidecar.result() == code


async def test_state_goes_idle_without_output_and_running_again_with_output(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(ECHO_LINE), idle_after=0.2))
    await dash.until_output(b"ready")
    await dash.until_state("idle")
    await dash.send("terminal:input", agent_id="itest-agent", data="x")  # echoed: output
    await dash.until_state("running")
    await dash.request("command:request", "end", input="")
    assert await sidecar.result() == 0


async def test_control_after_the_command_exited_is_acked_with_an_error(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
) -> None:
    from relay.protocol import CommandRequest

    sidecar = start_sidecar(make_run_config(live_relay.url, py("print('x')")))
    assert await sidecar.result() == 0
    with pytest.raises(Exception, match="not running"):
        sidecar.runner.apply(CommandRequest(request_id="late", input="x"))


async def test_a_background_process_holding_the_terminal_does_not_hang_the_sidecar(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    dash = await dashboard(live_relay)
    argv = ("sh", "-c", "sleep 60 & echo parent-done; exit 4")
    sidecar = start_sidecar(make_run_config(live_relay.url, argv, eof_grace=0.2))
    assert await sidecar.result(timeout=5) == 4
    await dash.until_output(b"parent-done")


async def test_an_interrupt_is_not_held_up_by_input_the_command_never_reads(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    """A paste bigger than the terminal's input buffer stays queued while the command
    ignores its input; the Interrupt sent after it still arrives and is acked at once,
    and the paste's ack reports the failure once the command is gone."""
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(RAW_INTERRUPT)))
    await dash.until_output(b"raw-ready")  # a raw-mode program that never reads
    await dash.send(
        "command:request", agent_id="itest-agent", request_id="paste", input="y" * 300_000
    )
    ack = await dash.request("command:interrupt", "int", signal="SIGINT")
    assert ack.ok
    await dash.until_output(b"caught-int")
    await dash.until(lambda: "paste" in dash.acks)
    assert not dash.acks["paste"].ok
    assert dash.acks["paste"].error
    assert await sidecar.result() == 0


async def test_keystroke_echoes_typed_one_at_a_time_arrive_exactly(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    """Typed one key at a time, each echo reaches the dashboard, and the stream is exact
    and in order."""
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(ECHO_LINE)))
    # The whole line first: the kernel may put an echo between "ready" and its "\r\n".
    await dash.until_output(b"ready\r\n")
    typed = "".join(chr(ord("a") + i % 26) for i in range(40))
    for i, key in enumerate(typed):
        await dash.send("terminal:input", agent_id="itest-agent", data=key)
        await dash.until_output(b"ready\r\n" + typed[: i + 1].encode())
    await dash.send("terminal:input", agent_id="itest-agent", data="\r")
    await dash.until_output(b"got:" + typed.encode())
    assert dash.stream.count(typed.encode()) == 2  # the echo, then the program's line
    assert await sidecar.result() == 0


async def test_input_beyond_a_megabyte_queued_for_a_command_that_does_not_read_is_refused(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    """The sidecar does not hold every paste sent to a stuck command: once a backlog is
    queued, input that would take it past 1 MiB is refused at once with a clear ack."""
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, py(RAW_INTERRUPT)))
    await dash.until_output(b"raw-ready")  # a raw-mode program that never reads
    await dash.send(
        "command:request", agent_id="itest-agent", request_id="paste-1", input="y" * 700_000
    )
    refused = await dash.request("command:request", "paste-2", input="z" * 700_000)
    assert not refused.ok
    assert refused.error is not None
    assert "not read" in refused.error
    assert "paste-1" not in dash.acks  # still waiting for the command
    ack = await dash.request("command:interrupt", "int", signal="SIGINT")
    assert ack.ok
    await dash.until_output(b"caught-int")
    await dash.until(lambda: "paste-1" in dash.acks)
    assert not dash.acks["paste-1"].ok
    assert await sidecar.result() == 0
