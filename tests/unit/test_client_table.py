"""The ``agent-sidecar ls`` table: durations, the order (who needs a person first), the
columns, and lines cut at the terminal's width."""

from __future__ import annotations

import pytest

from agent_sidecar.client.table import duration, render
from relay.protocol import Activity, ActivityOption, AgentInfo

NOW = 1_800_000_000.0


def info(agent_id: str, state: str = "running", activity: Activity | None = None,
         exit_code: int | None = None, signal: str | None = None,
         state_since: float | None = NOW - 5) -> AgentInfo:
    return AgentInfo(
        agent_id=agent_id, name=agent_id, host="h", command=("x",), labels={}, pid=1,
        cols=80, rows=24, started_at=NOW - 100, state=state, exit_code=exit_code,  # type: ignore[arg-type]
        last_seen=NOW, offset=0, state_since=state_since, signal=signal, activity=activity,
    )


def waiting(prompt: str) -> Activity:
    return Activity(state="waiting", since=NOW - 75, agent_kind="claude", source="hook",
                    reason="permission", prompt=prompt,
                    options=(ActivityOption("Yes", "1"), ActivityOption("No", "2")))


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (59.9, "59s"), (60, "1m00s"), (3599, "59m59s"), (3600, "1h00m"),
    (86399, "23h59m"), (90000, "1d01h"), (-3, "0s"),
])
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_waiting_agents_come_first_then_working_then_the_rest() -> None:
    working = Activity(state="working", since=NOW - 3, agent_kind="shell", source="process")
    agents = [
        info("a-exited", "exited", exit_code=130, signal="SIGINT"),
        info("b-plain"),
        info("c-working", activity=working),
        info("d-waiting", activity=waiting("Allow Bash(ls)?\n  in /tmp")),
        info("e-gone", "disconnected", state_since=None),
    ]
    lines = render(agents, NOW).splitlines()
    assert lines[0].split() == ["AGENT", "STATE", "FOR", "ACTIVITY", "PROMPT"]
    assert [line.split()[0] for line in lines[1:]] == [
        "d-waiting", "c-working", "b-plain", "e-gone", "a-exited"]
    assert lines[1].split(None, 3)[1:3] == ["running", "5s"]
    assert "waiting (permission) 1m15s" in lines[1]
    assert lines[1].endswith("Allow Bash(ls)? in /tmp [1] Yes [2] No")
    assert "exited 130 SIGINT" in lines[5]
    assert lines[4].split()[:3] == ["e-gone", "disconnected", "-"]


def test_an_agent_with_another_name_shows_it_after_its_id() -> None:
    import dataclasses

    named = dataclasses.replace(info("vm-bash-08a294"), name="builder")
    lines = render([named, info("plain")], NOW).splitlines()
    assert lines[1].startswith("plain  ")
    assert lines[2].startswith("vm-bash-08a294 (builder)  running")


def test_lines_are_cut_at_the_width() -> None:
    lines = render([info("x", activity=waiting("a long question " * 20))], NOW, width=60)
    assert all(len(line) <= 60 for line in lines.splitlines())
    assert lines.splitlines()[1].endswith("…")


def test_no_agents() -> None:
    assert render([], NOW) == "no agents\n"
