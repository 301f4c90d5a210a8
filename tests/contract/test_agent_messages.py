"""Contract sections 5-6: the sidecar side, offsets, resume, gaps, status, registry."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import WSMsgType

from relay.protocol import encode_binary_output


async def _sync(agent: Any) -> None:
    """A heartbeat round trip: the relay has handled everything sent before it."""
    await agent.send("heartbeat", ts="sync")
    await agent.wait_for("heartbeat")


async def test_heartbeat_is_echoed_to_the_sidecar(relay: Any, connect_agent: Any) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.send("heartbeat", ts=123.5)
    assert await agent.expect("heartbeat") == {"type": "heartbeat", "ts": 123.5}


async def test_a_reconnecting_sidecar_resumes_from_the_first_missing_offset(
    relay: Any, connect_agent: Any
) -> None:
    first = await connect_agent(relay, "a1")
    await first.output("a1", 0, b"0123456789")
    await _sync(first)
    await first.close()
    second = await connect_agent(relay, "a1")
    assert second.welcome["resume_from"] == 10


async def test_resent_output_below_the_end_is_not_duplicated(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1")
    await dash.wait_for("subscribed")
    await agent.output("a1", 0, b"abcd")
    await agent.output("a1", 2, b"cdef")  # overlapping resend
    await agent.output("a1", 0, b"ab")  # pure duplicate
    await agent.output("a1", 6, b"g")
    assert await dash.read_output("a1", 0, 7) == b"abcdefg"


async def test_output_past_the_end_is_announced_as_a_gap(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1")
    await dash.wait_for("subscribed")
    await agent.output("a1", 0, b"ab")
    await agent.output("a1", 100, b"yz")
    assert await dash.read_output("a1", 0, 2) == b"ab"
    gap = await dash.expect("terminal:gap")
    assert (gap["from"], gap["to"]) == (2, 100)
    assert await dash.read_output("a1", 100, 102) == b"yz"


async def test_binary_output_frames_are_accepted(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay)
    await dash.send("subscribe", agent_id="a1")
    await dash.wait_for("subscribed")
    await agent.send_bytes(encode_binary_output("a1", 0, b"\xff\xfe raw"))
    out = await dash.wait_for("terminal:output")
    assert (out["enc"], base64.b64decode(out["data"])) == ("base64", b"\xff\xfe raw")


async def test_binary_output_is_forwarded_byte_for_byte_to_binary_dashboards(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    dash = await connect_dashboard(relay, binary=True)
    await dash.send("subscribe", agent_id="a1")
    await dash.wait_for("subscribed")
    frame = encode_binary_output("a1", 0, b"\x1b[0m")
    await agent.send_bytes(frame)
    assert await dash.frame() == (WSMsgType.BINARY, frame)


async def test_output_for_another_agent_id_is_forbidden(relay: Any, connect_agent: Any) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.output("b2", 0, b"x")
    assert (await agent.expect("error"))["code"] == "forbidden"


async def test_a_malformed_binary_frame_is_invalid_message(
    relay: Any, connect_agent: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    await agent.send_bytes(b"\x02junk")
    assert (await agent.expect("error"))["code"] == "invalid_message"


async def test_bad_sidecar_frames_keep_the_connection_open(
    relay: Any, connect_agent: Any
) -> None:
    agent = await connect_agent(relay, "a1")
    for text in ("nope", '{"type": "warp"}', '{"type": "agent:status", "state": "zzz"}'):
        await agent.send_text(text)
        assert (await agent.expect("error"))["code"] in (
            "invalid_json", "unknown_type", "invalid_message")
    await _sync(agent)


async def test_status_changes_reach_dashboards_as_agent_info(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    dash = await connect_dashboard(relay)
    agent = await connect_agent(relay, "a1")
    assert (await dash.wait_for("agent:status"))["agent"]["state"] == "running"
    await agent.send("agent:status", state="idle", pid=9, cols=120, rows=40)
    info = (await dash.wait_for("agent:status"))["agent"]
    assert (info["state"], info["pid"], info["cols"], info["rows"]) == ("idle", 9, 120, 40)


async def test_exit_code_is_kept_after_the_sidecar_disconnects(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    dash = await connect_dashboard(relay)
    agent = await connect_agent(relay, "a1")
    await agent.send("agent:status", state="exited", pid=9, cols=80, rows=24, exit_code=130,
                     signal="SIGINT")
    await dash.wait_for("agent:status", lambda m: m["agent"]["state"] == "exited")
    await agent.close()
    info = (await dash.wait_for("agent:status"))["agent"]  # the disconnect's event
    assert info["state"] == "exited"
    assert info["exit_code"] == 130


async def test_a_disconnected_agent_is_listed_as_disconnected(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    dash = await connect_dashboard(relay)
    agent = await connect_agent(relay, "a1")
    await agent.close()
    info = (await dash.wait_for("agent:status",
                                lambda m: m["agent"]["state"] == "disconnected"))["agent"]
    assert info["agent_id"] == "a1"


async def test_a_forgotten_agent_is_removed_after_forget_after(
    make_relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    relay = await make_relay(forget_after=0.05)
    dash = await connect_dashboard(relay)
    agent = await connect_agent(relay, "a1")
    await agent.close()
    assert await dash.wait_for("agent:removed") == {"type": "agent:removed", "agent_id": "a1"}


async def test_a_new_sidecar_process_continues_the_agents_stream(
    relay: Any, connect_agent: Any, connect_dashboard: Any
) -> None:
    first = await connect_agent(relay, "a1", pid=100)
    await first.output("a1", 0, b"first run\r\n")
    await first.send("agent:status", state="exited", pid=100, cols=80, rows=24, exit_code=0)
    await _sync(first)
    await first.close()
    second = await connect_agent(relay, "a1", pid=200)
    assert second.welcome["resume_from"] == 11
    await second.output("a1", 11, b"second")
    dash = await connect_dashboard(relay)
    (info,) = dash.connected["agents"]
    assert (info["pid"], info["state"], info["exit_code"]) == (200, "running", None)
    await dash.send("subscribe", agent_id="a1")
    await dash.wait_for("subscribed")
    assert await dash.read_output("a1", 0, 17) == b"first run\r\nsecond"


async def test_a_hello_after_registration_is_invalid_message(
    relay: Any, connect_agent: Any, make_token: Any
) -> None:
    from tests.conftest import hello

    agent = await connect_agent(relay, "a1")
    await agent.send("agent:hello", token=make_token("agent", sub="a1"), **hello("a1"))
    assert (await agent.expect("error"))["code"] == "invalid_message"
