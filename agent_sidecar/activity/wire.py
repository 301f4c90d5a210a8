"""The detector's activity as the wire's ``Activity`` (contract section 11)."""

from __future__ import annotations

from relay.protocol import Activity as WireActivity
from relay.protocol import ActivityOption

from .model import Activity


def to_wire(a: Activity) -> WireActivity:
    waiting = a.state == "waiting"
    return WireActivity(
        state=a.state,
        since=a.since,
        agent_kind=a.agent_kind,
        source=a.source,
        reason=a.reason if waiting else None,
        prompt=a.prompt if waiting else None,
        options=tuple(ActivityOption(o.label, o.keys) for o in a.options)
        if waiting and a.options else None,
        decision_id=a.decision_id if waiting and a.reason == "permission" else None,
        detail=a.detail,
    )
