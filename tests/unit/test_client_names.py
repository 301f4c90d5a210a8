"""An agent addressed by id or by name (``agent_sidecar.client.names``)."""

from __future__ import annotations

import pytest

from agent_sidecar.client.errors import UnknownAgent
from agent_sidecar.client.names import resolve_agent
from relay.protocol import AgentInfo


def info(agent_id: str, name: str, state: str = "running") -> AgentInfo:
    return AgentInfo(
        agent_id=agent_id, name=name, host="h", command=("x",), labels={}, pid=1,
        cols=80, rows=24, started_at=1.0, state=state,  # type: ignore[arg-type]
        exit_code=None, last_seen=1.0, offset=0,
    )


def agents(*infos: AgentInfo) -> dict[str, AgentInfo]:
    return {i.agent_id: i for i in infos}


def test_an_id_wins_over_a_name_and_a_name_gives_its_id() -> None:
    known = agents(info("build", "deploy"), info("vm-bash-1", "build"))
    assert resolve_agent(known, "build") == "build"  # the id, not the other's name
    assert resolve_agent(known, "deploy") == "build"


def test_of_several_agents_with_one_name_the_only_live_one_is_meant() -> None:
    known = agents(info("a1", "builder", "exited"), info("a2", "builder"))
    assert resolve_agent(known, "builder") == "a2"


def test_an_ambiguous_name_names_the_ids() -> None:
    known = agents(info("a1", "builder"), info("a2", "builder", "idle"))
    with pytest.raises(UnknownAgent, match=r"2 agents are named 'builder': give the id \(a1, a2\)"):
        resolve_agent(known, "builder")


def test_an_unknown_name_is_left_for_the_relay_to_answer() -> None:
    assert resolve_agent(agents(info("a1", "x")), "nobody") == "nobody"
