"""relay.hub.presence and relay.redis.presence: seats folded per identity, merged across
relays, ordered and bounded; summaries of a relay that stopped refreshing go stale."""

from __future__ import annotations

import json
from typing import Any

from relay.hub.interface import DashboardConn
from relay.hub.presence import Entry, Presence, merge, presence_message, summarize
from relay.protocol import Role
from relay.redis.keys import Keys
from relay.redis.presence import SharedPresence
from tests.unit.fakes import FakePeer


class _Everyone:
    def may_see(self, agent_id: str) -> bool:
        return True


def _conn(sub: str, role: Role = "operator") -> DashboardConn:
    return DashboardConn(session_id=sub, sub=sub, role=role, scope=_Everyone(), binary=False,
                         peer=FakePeer(), presence=True)


def test_seats_fold_into_one_entry_per_identity_with_the_newest_input() -> None:
    entries = summarize([
        ("alice", "operator", True, None, None),
        ("alice", "operator", True, "terminal:input", 5.0),
        ("alice", "operator", False, "command:request", 7.0),
        ("alice", "admin", True, None, None),
    ])
    assert entries == [
        Entry("alice", "operator", 2, "command:request", 7.0),
        Entry("alice", "admin", 1),
    ]


def test_merge_adds_connections_across_relays() -> None:
    merged = merge([Entry("bob", "viewer", 1, "terminal:input", 3.0)],
                   [Entry("bob", "viewer", 2, "command:request", 2.0), Entry("eve", "admin", 1)])
    assert merged == [Entry("bob", "viewer", 3, "terminal:input", 3.0), Entry("eve", "admin", 1)]


def test_the_message_puts_typists_first_and_bounds_the_list() -> None:
    entries = [Entry(f"u{n:02}", "viewer", 1) for n in range(20)]
    entries.append(Entry("zed", "operator", 1, "terminal:input", 99.0))
    entries.append(Entry("old", "operator", 1, "terminal:input", 10.0))
    msg = presence_message("a1", entries, now=100.0, typing_seconds=5.0)
    assert [w.sub for w in msg.watchers[:3]] == ["zed", "old", "u00"]
    assert [w.typing for w in msg.watchers[:2]] == [True, False]
    assert (len(msg.watchers), msg.more) == (16, 6)


async def test_a_burst_of_input_announces_once() -> None:
    announced: list[str] = []
    now = [100.0]
    book = Presence(announce=announced.append, clock=lambda: now[0], typing_seconds=5.0)
    alice = _conn("alice")
    book.subscribed(alice, "a1")
    for _ in range(4):
        now[0] += 1.0
        book.typed(alice, "a1", "terminal:input")
    book.typed(alice, "a1", "terminal:resize")
    assert announced == ["a1", "a1"]  # the subscribe and the first keystroke
    book._lapse("a1")  # the timer, early (the fake clock says 0 s since the last key)
    assert announced == ["a1", "a1"]
    now[0] += 10.0
    book._lapse("a1")  # the timer, due: typing stopped
    assert announced == ["a1", "a1", "a1"]
    book.typed(alice, "a1", "terminal:input")  # typing again after a pause
    assert announced == ["a1", "a1", "a1", "a1"]
    book.close()


async def test_one_typist_lapses_while_another_keeps_typing() -> None:
    announced: list[str] = []
    now = [100.0]
    book = Presence(announce=announced.append, clock=lambda: now[0], typing_seconds=5.0)
    alice, bob = _conn("alice"), _conn("bob")
    book.typed(alice, "a1", "terminal:input")
    now[0] += 3.0
    book.typed(bob, "a1", "terminal:input")
    assert announced == ["a1", "a1"]
    now[0] += 2.5  # alice's last key is 5.5 s old, bob's 2.5 s
    book._lapse("a1")
    assert announced == ["a1", "a1", "a1"]
    entries = {e.sub: e for e in book.entries("a1")}
    msg = presence_message("a1", list(entries.values()), now[0], 5.0)
    assert [(w.sub, w.typing) for w in msg.watchers] == [("bob", True), ("alice", False)]
    book.close()


async def test_summaries_of_a_relay_that_stopped_refreshing_go_stale() -> None:
    now = [1000.0]
    shared = SharedPresence(
        None, Keys(), "me", clock=lambda: now[0], refresh=10.0,  # type: ignore[arg-type]
        is_known=lambda a: True, on_down=lambda: None, typing_seconds=5.0,
    )
    alice = _conn("alice")
    peer = alice.peer
    assert isinstance(peer, FakePeer)
    await shared.on_message({"k": "presence", "relay": "other", "agent": "a1",
                             "w": [["bob", "viewer", 1, None, None], ["junk"], ["x", "cook", 1,
                                                                             None, None]]})
    shared.subscribed(alice, "a1")  # (publishing is run()'s job; not started here)
    last: dict[str, Any] = json.loads(str(peer.frames[-1][0]))
    assert [w["sub"] for w in last["watchers"]] == ["alice", "bob"]
    now[0] += 25.0
    shared._drop_stale()
    assert len(peer.frames) == 1  # 25 s < three periods: kept
    now[0] += 10.0
    shared._drop_stale()
    last = json.loads(str(peer.frames[-1][0]))
    assert [w["sub"] for w in last["watchers"]] == ["alice"]
    shared.close()
