"""What a person types for an agent: its id, or the name ``run --name`` gave it."""

from __future__ import annotations

from collections.abc import Mapping

from relay.protocol import AgentInfo

from .errors import UnknownAgent


def resolve_agent(agents: Mapping[str, AgentInfo], agent: str) -> str:
    """``agent`` as an agent id: an id in ``agents``, else the agent with that name (of
    several, the one that is live, if only one is). Unchanged when no agent has it: the
    relay then answers ``unknown_agent`` or ``forbidden``. :class:`UnknownAgent` when
    the name is ambiguous, naming the ids."""
    if agent in agents:
        return agent
    named = sorted(i.agent_id for i in agents.values() if i.name == agent)
    if len(named) > 1:
        live = [a for a in named if agents[a].state in ("running", "idle")]
        if len(live) != 1:
            raise UnknownAgent(
                f"{len(named)} agents are named {agent!r}: give the id ({', '.join(named)})")
        named = live
    return named[0] if named else agent
