"""Record the activity corpus: real programs under a PTY, driven by a script, saved as
asciicast v2 (``tests/data/activity/NAME.cast``) with the expected activity over time
(``NAME.labels.json``).

A scenario is a list of steps: ``("expect", regex)`` waits until the rendered screen
(pyte) matches; ``("send", text)`` types; ``("sleep", s)``; ``("label", state, reason)``
says what a person would call the activity from now on. Labels are set by the script at
the moment the screen shows the situation, so they are exact to the recorder's clock.

    .venv/bin/python scripts/corpus/record.py [NAME...]     # all when none given

Claude Code runs against scripts/corpus/fake_anthropic.py on port 18401 (start it first).
Each agent gets its own HOME under /tmp/actside-rec-*. Recording only, never in CI.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import sys
import time
from pathlib import Path

import pyte
from ptyprocess import PtyProcess

from agent_sidecar.activity.screen import TolerantScreen

from scenarios import SCENARIOS, Scenario

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "activity"
COLS, ROWS = 100, 30
MAX_EVENT = 4096


def record(name: str, sc: Scenario) -> None:
    home = Path(f"/tmp/actside-rec-{name}")
    shutil.rmtree(home, ignore_errors=True)
    (home / "proj").mkdir(parents=True)
    for rel, text in sc.files.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "TERM": "xterm-256color",
           "LANG": "C.UTF-8", "PS1": "$ ", **sc.env}
    env = {k: v.replace("{home}", str(home)) for k, v in env.items()}
    argv = [a.replace("{home}", str(home)) for a in sc.argv]
    proc = PtyProcess.spawn(argv, env=env, cwd=str(home / "proj"), dimensions=(ROWS, COLS))
    screen = TolerantScreen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    events: list[list[object]] = []
    labels: list[list[object]] = []
    start = time.monotonic()

    def now() -> float:
        return round(time.monotonic() - start, 3)

    def pump(timeout: float) -> None:
        r, _, _ = select.select([proc.fd], [], [], timeout)
        if not r:
            return
        try:
            data = os.read(proc.fd, 65536)
        except OSError:
            return
        if data:
            stream.feed(data)
            events.append([now(), "o", data.decode("utf-8", "replace")])

    try:
        for step in sc.steps:
            kind = step[0]
            if kind == "expect":
                pattern = re.compile(str(step[1]), re.M)
                deadline = time.monotonic() + float(step[2]) if len(step) > 2 else time.monotonic() + 30
                while not pattern.search("\n".join(line.rstrip() for line in screen.display)):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name}: no {pattern.pattern!r} on screen:\n"
                                           + "\n".join(screen.display))
                    pump(0.05)
            elif kind == "send":
                text = str(step[1])
                events.append([now(), "i", text])
                proc.write(text.encode())
            elif kind == "sleep":
                end = time.monotonic() + float(step[1])
                while time.monotonic() < end:
                    pump(end - time.monotonic())
            elif kind == "label":
                labels.append([now(), step[1], step[2] if len(step) > 2 else None])
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            pump(0.05)
    finally:
        proc.terminate(force=True)
    # Merge tiny events and trim long outputs (the corpus stays small in bytes).
    out = merge(events)
    OUT.mkdir(parents=True, exist_ok=True)
    header = {"version": 2, "width": COLS, "height": ROWS, "timestamp": 1796000000,
              "title": name, "env": {"TERM": "xterm-256color"}}
    with (OUT / f"{name}.cast").open("w") as f:
        f.write(json.dumps(header) + "\n")
        for ev in out:
            f.write(json.dumps(ev, ensure_ascii=False) + "\n")
    meta = {"description": sc.description, "agent_kind": sc.agent_kind,
            "command": sc.shown_argv or sc.argv, "labels": labels}
    (OUT / f"{name}.labels.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{name}: {len(out)} events, {sum(len(str(e[2])) for e in out)} chars, "
          f"{len(labels)} labels")


def merge(events: list[list[object]]) -> list[list[object]]:
    out: list[list[object]] = []
    for ev in events:
        if (out and ev[1] == "o" and out[-1][1] == "o" and float(ev[0]) - float(out[-1][0]) < 0.02
                and len(str(out[-1][2])) < MAX_EVENT):
            out[-1][2] = str(out[-1][2]) + str(ev[2])
        else:
            out.append(list(ev))
    return out


def main() -> None:
    names = sys.argv[1:] or list(SCENARIOS)
    if names[0] == "--from":
        keys = list(SCENARIOS)
        names = keys[keys.index(names[1]):]
    for name in names:
        record(name, SCENARIOS[name])


if __name__ == "__main__":
    main()
