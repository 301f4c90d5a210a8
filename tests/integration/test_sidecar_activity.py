"""Activity end to end: a real relay, a real sidecar, a stand-in ``claude`` that runs the
hooks it was given exactly as Claude Code does (a shell command, JSON on stdin, the
answer on stdout), and a dashboard that reads the activity and decides."""

from __future__ import annotations

import stat
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from agent_sidecar.activity.settings import ActivityConfig
from agent_sidecar.config import RunConfig
from relay.config import RelayConfig
from relay.server import RunningRelay, start_relay
from tests.integration.conftest import Dashboard, Sidecar, free_port

# Runs the hooks from --settings like Claude Code: SessionStart, then PermissionRequest
# with the request on stdin; prints what the permission hook answered. With "abandon" it
# kills the permission hook after a moment, as Claude Code does when the person answers
# the dialog in the terminal first.
FAKE_CLAUDE = textwrap.dedent("""\
    #!{python}
    import json, subprocess, sys, time
    args = sys.argv[1:]
    if "--settings" not in args:
        print("no-settings", flush=True)
        sys.stdin.readline()
        sys.exit(0)
    hooks = json.load(open(args[args.index("--settings") + 1]))["hooks"]
    def command(event):
        return hooks[event][0]["hooks"][0]["command"]
    def run(event, payload, **kw):
        payload = dict(payload, hook_event_name=event, session_id="s1")
        return subprocess.run(command(event), shell=True, input=json.dumps(payload),
                              capture_output=True, text=True, **kw).stdout
    run("SessionStart", {{"source": "startup"}})
    print("ready", flush=True)
    request = {{"tool_name": "Bash",
               "tool_input": {{"command": "rm -rf build", "description": "Clean"}}}}
    if "abandon" in args:
        proc = subprocess.Popen(command("PermissionRequest"), shell=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        proc.stdin.write(json.dumps(dict(request, hook_event_name="PermissionRequest")))
        proc.stdin.close()
        sys.stdin.readline()  # the test says when the dialog was answered locally
        proc.kill()
        print("abandoned", flush=True)
        sys.stdin.readline()
        sys.exit(0)
    out = run("PermissionRequest", request)
    print("hook-said:" + (out.strip() or "nothing"), flush=True)
    run("Stop", {{}})
    sys.stdin.readline()
""")


@pytest.fixture
def fake_claude(tmp_path: Path) -> str:
    path = tmp_path / "bin" / "claude"
    path.parent.mkdir()
    path.write_text(FAKE_CLAUDE.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def until_activity(dash: Dashboard, predicate: Callable[..., bool]) -> None:
    await dash.until(lambda: dash.info is not None and dash.info.activity is not None
                     and predicate(dash.info.activity))


async def test_a_held_permission_request_is_answered_from_the_dashboard(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
    fake_claude: str,
) -> None:
    dash = await dashboard(live_relay)
    sidecar = start_sidecar(make_run_config(live_relay.url, (fake_claude,)))
    await until_activity(dash, lambda a: a.decision_id is not None)
    assert dash.info is not None
    assert dash.info.activity is not None
    activity = dash.info.activity
    assert (activity.state, activity.reason, activity.source) == ("waiting", "permission", "hook")
    assert activity.agent_kind == "claude"
    assert activity.prompt is not None
    assert "rm -rf build" in activity.prompt
    ack = await dash.request("permission:decide", "d1", decision_id=activity.decision_id,
                             decision="allow")
    assert ack.ok
    await dash.until_output(b"hook-said:")
    assert b'"behavior": "allow"' in dash.stream
    await until_activity(dash, lambda a: a.decision_id is None)
    await dash.send("terminal:input", agent_id="itest-agent", data="\r")
    assert await sidecar.result() == 0


async def test_the_first_answer_wins_and_a_second_is_stale(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
    fake_claude: str,
) -> None:
    dash = await dashboard(live_relay)
    start_sidecar(make_run_config(live_relay.url, (fake_claude,)))
    await until_activity(dash, lambda a: a.decision_id is not None)
    assert dash.info is not None
    assert dash.info.activity is not None
    decision_id = dash.info.activity.decision_id
    await dash.send("permission:decide", agent_id="itest-agent", request_id="d1",
                    decision_id=decision_id, decision="deny", message="not today")
    await dash.send("permission:decide", agent_id="itest-agent", request_id="d2",
                    decision_id=decision_id, decision="allow")
    await dash.until(lambda: "d1" in dash.acks and ("d2" in dash.acks or any(
        e.ref == "d2" for e in dash.errors)))
    assert dash.acks["d1"].ok
    assert "d2" not in dash.acks or not dash.acks["d2"].ok
    await dash.until_output(b"hook-said:")
    assert b'"behavior": "deny"' in dash.stream
    assert b"not today" in dash.stream
    assert b'"allow"' not in dash.stream


async def test_an_unanswered_request_goes_back_to_the_terminal_never_allowed(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
    fake_claude: str,
) -> None:
    dash = await dashboard(live_relay)
    config = make_run_config(live_relay.url, (fake_claude,),
                             activity=ActivityConfig(decision_timeout=0.3))
    start_sidecar(config)
    await dash.until_output(b"hook-said:")
    assert b"hook-said:nothing" in dash.stream


async def test_a_request_answered_in_the_terminal_is_withdrawn(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
    fake_claude: str,
) -> None:
    dash = await dashboard(live_relay)
    start_sidecar(make_run_config(live_relay.url, (fake_claude, "abandon")))
    await until_activity(dash, lambda a: a.decision_id is not None)
    assert dash.info is not None
    assert dash.info.activity is not None
    decision_id = dash.info.activity.decision_id
    await dash.send("terminal:input", agent_id="itest-agent", data="\r")
    await dash.until_output(b"abandoned")
    await until_activity(dash, lambda a: a.decision_id is None)
    await dash.send("permission:decide", agent_id="itest-agent", request_id="late",
                    decision_id=decision_id, decision="allow")
    await dash.until(lambda: "late" in dash.acks or any(e.ref == "late" for e in dash.errors))
    assert "late" not in dash.acks or not dash.acks["late"].ok


async def test_no_agent_hooks_leaves_the_command_line_alone(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
    fake_claude: str,
) -> None:
    dash = await dashboard(live_relay)
    start_sidecar(make_run_config(live_relay.url, (fake_claude,),
                                  activity=ActivityConfig(hooks=False)))
    await dash.until_output(b"no-settings")
    await until_activity(dash, lambda a: a.agent_kind == "claude")


async def test_a_shell_question_is_waiting_and_its_prompt_is_the_question(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dash = await dashboard(live_relay)
    monkeypatch.setenv("PS1", "$ ")
    start_sidecar(make_run_config(live_relay.url, ("bash", "--norc", "--noprofile")))
    await until_activity(dash, lambda a: a.state == "idle" and a.agent_kind == "shell")
    await dash.send("terminal:input", agent_id="itest-agent",
                    data='read -p "Deploy to production? " answer\r')
    await until_activity(dash, lambda a: a.state == "waiting")
    assert dash.info is not None
    assert dash.info.activity is not None
    assert dash.info.activity.reason == "question"
    assert dash.info.activity.prompt == "Deploy to production?"
    await dash.send("terminal:input", agent_id="itest-agent", data="yes\rexit\r")


async def test_a_shell_loop_that_prints_is_working_though_the_shell_was_idle_before_it(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The process is sampled only while output is quiet: its last sample (the shell at
    # its prompt) must not keep the agent "idle" through a loop that prints for seconds.
    dash = await dashboard(live_relay)
    monkeypatch.setenv("PS1", "$ ")
    start_sidecar(make_run_config(live_relay.url, ("bash", "--norc", "--noprofile"),
                                  activity=ActivityConfig(process_interval=0.2)))
    # Idle once the prompt settled (0.4 s quiet); the sampler (every 0.2 s, once output
    # has been quiet that long) has seen the shell at its prompt by then.
    await until_activity(dash, lambda a: a.state == "idle")
    await dash.send("terminal:input", agent_id="itest-agent",
                    data="for i in $(seq 1 100); do echo tick $i; sleep 0.1; done\r")
    await until_activity(dash, lambda a: a.state == "working")
    await dash.send("terminal:input", agent_id="itest-agent", data="\x03")
    await until_activity(dash, lambda a: a.state == "idle")
    await dash.send("terminal:input", agent_id="itest-agent", data="exit\r")


# Like Claude Code 2.1 when the person answers its dialog in the terminal: the permission
# hook is left running, and the agent moves on (the next hook event, a new screen).
MOVES_ON = textwrap.dedent("""\
    #!{python}
    import json, subprocess, sys
    args = sys.argv[1:]
    hooks = json.load(open(args[args.index("--settings") + 1]))["hooks"]
    def command(event):
        return hooks[event][0]["hooks"][0]["command"]
    request = {{"hook_event_name": "PermissionRequest", "tool_name": "Bash",
               "tool_input": {{"command": "make"}}}}
    held = subprocess.Popen(command("PermissionRequest"), shell=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    held.stdin.write(json.dumps(request))
    held.stdin.close()
    print("dialog", flush=True)
    sys.stdin.readline()  # answered in the terminal
    subprocess.run(command("PostToolUse"), shell=True, text=True, capture_output=True,
                   input=json.dumps({{"hook_event_name": "PostToolUse", "tool_name": "Bash"}}))
    print("held-hook-said:" + (held.stdout.read().strip() or "nothing"), flush=True)
    sys.stdin.readline()
""")


async def test_a_request_answered_in_the_terminal_while_its_hook_runs_is_withdrawn(
    live_relay: RunningRelay,
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
    tmp_path: Path,
) -> None:
    path = tmp_path / "claude"
    path.write_text(MOVES_ON.format(python=sys.executable))
    path.chmod(0o755)
    dash = await dashboard(live_relay)
    start_sidecar(make_run_config(live_relay.url, (str(path),)))
    await until_activity(dash, lambda a: a.decision_id is not None)
    await dash.send("terminal:input", agent_id="itest-agent", data="\r")
    await dash.until_output(b"held-hook-said:")
    assert b"held-hook-said:nothing" in dash.stream
    await until_activity(dash, lambda a: a.decision_id is None and a.state == "working")


async def test_a_restarted_relay_gets_the_current_activity_at_once(
    make_config: Callable[..., RelayConfig],
    make_run_config: Callable[..., RunConfig],
    start_sidecar: Callable[[RunConfig], Sidecar],
    dashboard: Callable[[RunningRelay], Awaitable[Dashboard]],
) -> None:
    port = free_port()
    relay = await start_relay(make_config(port=port))
    code = "input('Release which tag? ')"
    start_sidecar(make_run_config(f"ws://127.0.0.1:{port}", (sys.executable, "-c", code)))
    dash = await dashboard(relay)
    await until_activity(dash, lambda a: a.state == "waiting")
    await relay.close()  # a fresh relay knows nothing of the agent
    relay = await start_relay(make_config(port=port))
    try:
        dash = await dashboard(relay)
        await until_activity(dash, lambda a: a.state == "waiting")
        assert dash.info is not None
        assert dash.info.activity is not None
        assert dash.info.activity.prompt == "Release which tag?"
        await dash.send("terminal:input", agent_id="itest-agent", data="v1\r")
    finally:
        await relay.close()
