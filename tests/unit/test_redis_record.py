"""The agent record's field codec (relay.redis.keys): the 1.1 fields ``signal`` and
``activity``, and records an older (or newer) relay wrote."""

from __future__ import annotations

from relay.protocol import Activity, ActivityOption, encode_activity
from relay.redis.keys import record_from_fields

STATIC = '{"name":"n","host":"h","command":["sh"],"labels":{},"started_at":1.0}'
BASE = {"static": STATIC, "state": "exited", "pid": "7", "cols": "80", "rows": "24",
        "exit_code": "130", "seen": "5.0", "end": "10", "start": "0", "conn": "",
        "relay": "", "v": "3", "since": "4.0"}
WAITING = Activity("waiting", 3.0, "claude", "hook", reason="permission", prompt="ok?",
                   options=(ActivityOption("Yes", "1"),), decision_id="d1")


def test_signal_and_activity_round_trip() -> None:
    record = record_from_fields(
        "a1", {**BASE, "state": "running", "exit_code": "", "signal": "",
               "activity": encode_activity(WAITING)})
    assert record is not None
    assert (record.info.activity, record.info.signal) == (WAITING, None)
    exited = record_from_fields("a1", {**BASE, "signal": "SIGINT", "activity": ""})
    assert exited is not None
    assert (exited.info.signal, exited.info.activity) == ("SIGINT", None)


def test_a_record_an_older_relay_wrote_has_neither() -> None:
    record = record_from_fields("a1", BASE)
    assert record is not None
    assert (record.info.signal, record.info.activity) == (None, None)


def test_an_activity_this_relay_cannot_read_is_none() -> None:
    for junk in ('{"state": "thinking"}', "not json", "[]"):
        record = record_from_fields("a1", {**BASE, "activity": junk})
        assert record is not None
        assert record.info.activity is None
