"""A stand-in for the Anthropic Messages API on loopback, for recording the corpus.

Claude Code reaches its real screens (prompt, spinner, permission dialog) against it
without a network: the first turn asks to run a Bash command (``FAKE_COMMAND``), the
turn after the tool result answers with text, after ``FAKE_DELAY`` seconds. Recording
only: never used by tests.

    python scripts/corpus/fake_anthropic.py PORT
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from aiohttp import web

COMMAND = os.environ.get("FAKE_COMMAND", "rm -rf build && make")
DELAY = float(os.environ.get("FAKE_DELAY", "2"))


def _events(blocks: list[dict[str, object]], stop: str) -> list[tuple[str, dict[str, object]]]:
    out: list[tuple[str, dict[str, object]]] = [("message_start", {"type": "message_start", "message": {
        "id": "msg_fake", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1}}})]
    for i, block in enumerate(blocks):
        if block["type"] == "tool_use":
            start = dict(block, input={})
            out.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                "content_block": start}))
            out.append(("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(block["input"])}}))
        else:
            out.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                "content_block": {"type": "text", "text": ""}}))
            out.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                "delta": {"type": "text_delta", "text": block["text"]}}))
        out.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    out.append(("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 20}}))
    out.append(("message_stop", {"type": "message_stop"}))
    return out


async def messages(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    msgs = body.get("messages", [])
    last = msgs[-1] if msgs else {}
    content = last.get("content")
    after_tool = isinstance(content, list) and any(
        isinstance(c, dict) and c.get("type") == "tool_result" for c in content)
    tools = [t.get("name") for t in body.get("tools", []) if isinstance(t, dict)]
    if "Bash" in tools and not after_tool:
        blocks: list[dict[str, object]] = [{"type": "tool_use", "id": "toolu_fake1", "name": "Bash",
                   "input": {"command": COMMAND, "description": "Clean and rebuild"}}]
        stop = "tool_use"
    else:
        blocks = [{"type": "text", "text": "Done: the build is clean."}]
        stop = "end_turn"
    if not body.get("stream"):
        return web.json_response({"id": "msg_fake", "type": "message", "role": "assistant",
                                  "model": "claude-sonnet-4-5", "content": blocks,
                                  "stop_reason": stop, "stop_sequence": None,
                                  "usage": {"input_tokens": 10, "output_tokens": 20}})
    if "Bash" in tools:
        await asyncio.sleep(20 if "slow:" in json.dumps(msgs) else DELAY)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for name, data in _events(blocks, stop):
        await resp.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
    await resp.write_eof()
    return resp


async def anything(request: web.Request) -> web.Response:
    return web.json_response({})


def main() -> None:
    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    app.router.add_route("*", "/{tail:.*}", anything)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
