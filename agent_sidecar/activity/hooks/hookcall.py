"""The hook command the agents run: forwards one event to its sidecar and prints the answer.

Run by path with the sidecar's interpreter (``python -S hookcall.py AGENT EVENT``): the
standard library only, no package imports, so it starts in a few milliseconds. The
event's JSON comes on stdin (Claude Code, Codex and Gemini hooks) or as the last argument
(Codex ``notify``). The socket and the run's secret come from the environment the sidecar
gave the agent. Whatever goes wrong (no sidecar, a refusal, a timeout), it exits 0 with
no output: the agent then carries on as if no hook were installed, which for a
permission request means it shows its own dialog. It never allows anything by itself.
"""

from __future__ import annotations

import json
import os
import socket
import sys

SOCKET_ENV = "AGENT_SIDECAR_HOOK_SOCKET"
SECRET_ENV = "AGENT_SIDECAR_HOOK_SECRET"  # noqa: S105 (a variable name)
MAX_INPUT = 1024 * 1024


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        return 0
    agent, event = argv[1], argv[2]
    path = os.environ.get(SOCKET_ENV)
    secret = os.environ.get(SECRET_ENV)
    if not path or not secret:
        return 0
    if len(argv) > 3:
        raw = argv[3]
    else:
        try:
            raw = sys.stdin.read(MAX_INPUT)
        except (OSError, ValueError):
            raw = ""
    try:
        payload = json.loads(raw) if raw.strip() else {}
    except ValueError:
        payload = {"unparsed": True}
    message = json.dumps({"secret": secret, "agent": agent, "event": event,
                          "payload": payload}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5.0)
            sock.connect(path)
            sock.sendall(message)
            sock.settimeout(None)  # a held permission request waits for its answer
            answer = b""
            while not answer.endswith(b"\n"):
                part = sock.recv(65536)
                if not part:
                    break
                answer += part
    except OSError:
        return 0
    try:
        reply = json.loads(answer) if answer.strip() else {}
    except ValueError:
        return 0
    out = reply.get("stdout") if isinstance(reply, dict) else None
    if isinstance(out, str) and out:
        sys.stdout.write(out)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
