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

import asyncio
import dataclasses
import json
import os
import re
import secrets
import select
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyte
from ptyprocess import PtyProcess
from scenarios import SCENARIOS, Scenario

from agent_sidecar.activity.hooks.events import claim_for
from agent_sidecar.activity.hooks.hookcall import SECRET_ENV, SOCKET_ENV
from agent_sidecar.activity.hooks.inject import plan, write_files
from agent_sidecar.activity.hooks.server import HookServer
from agent_sidecar.activity.process import probe
from agent_sidecar.activity.screen import TolerantScreen

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
    for command in sc.setup:
        subprocess.run(command, cwd=home / "proj", check=True)
    start = time.monotonic()
    markers: list[list[object]] = []
    hooks = Hooks(home, start, markers)
    injection = plan(sc.agent_kind, argv, env, hooks.dir, hold_seconds=60)  # type: ignore[arg-type]
    if injection is not None:
        write_files(injection)
        argv = injection.argv
        env.update(injection.env)
        env.update(hooks.env())
    proc = PtyProcess.spawn(argv, env=env, cwd=str(home / "proj"), dimensions=(ROWS, COLS))
    screen = TolerantScreen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    events: list[list[object]] = []
    labels: list[list[object]] = []
    next_sample = 0.0

    def now() -> float:
        return round(time.monotonic() - start, 3)

    def pump(timeout: float) -> None:
        nonlocal next_sample
        if time.monotonic() >= next_sample:
            next_sample = time.monotonic() + 0.5
            sample = probe(proc.fd, proc.pid, now())
            if sample is not None:
                events.append([now(), "m", "process:" + json.dumps(dataclasses.asdict(sample))])
        events.extend(hooks.take())
        r, _, _ = select.select([proc.fd], [], [], min(timeout, 0.5))
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
                wait = float(step[2]) if len(step) > 2 else 30.0
                deadline = time.monotonic() + wait
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
        duration = now()
    finally:
        proc.terminate(force=True)
        hooks.close()
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
            "command": sc.shown_argv or sc.argv, "duration": duration,
            "hooks": injection is not None, "labels": labels}
    (OUT / f"{name}.labels.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{name}: {len(out)} events, {sum(len(str(e[2])) for e in out)} chars, "
          f"{len(labels)} labels")


class Hooks:
    """The sidecar's hook socket in a thread: events become ``hook:`` markers."""

    def __init__(self, home: Path, start: float, markers: list[list[object]]) -> None:
        self.dir = home / "hooks"
        self.dir.mkdir(mode=0o700)
        self.secret = secrets.token_urlsafe(16)
        self._start = start
        self._lock = threading.Lock()
        self._out: list[list[object]] = []
        self._loop = asyncio.new_event_loop()
        self._server = HookServer(self.dir, self.secret, self._handle)
        self._loop.run_until_complete(self._server.start())
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def env(self) -> dict[str, str]:
        return {SOCKET_ENV: str(self._server.path), SECRET_ENV: self.secret}

    async def _handle(self, agent: str, event: str, payload: dict[str, object]) -> str:
        t = round(time.monotonic() - self._start, 3)
        claim = claim_for(agent, event, payload, t)
        if claim is not None:
            body = dataclasses.asdict(claim)
            with self._lock:
                self._out.append([t, "m", "hook:" + json.dumps(body)])
        return ""

    def take(self) -> list[list[object]]:
        with self._lock:
            out, self._out = self._out, []
        return out

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


#: Output kept per second of a burst; the rest of a burst is trimmed from the middle (the
#: corpus stays small; the end of each burst, which the screen shows, is always kept).
BURST_BUDGET = 4 * 1024


def trim(events: list[list[object]]) -> list[list[object]]:
    outs = [i for i, e in enumerate(events) if e[1] == "o"]
    keep = set(range(len(events))) - set(outs)
    spent: dict[int, int] = {}
    for n, i in enumerate(outs):
        t = float(events[i][0])
        nxt = float(events[outs[n + 1]][0]) if n + 1 < len(outs) else None
        second = int(t)
        size = len(str(events[i][2]))
        last_of_burst = nxt is None or nxt - t > 0.5
        if last_of_burst or spent.get(second, 0) + size <= BURST_BUDGET:
            spent[second] = spent.get(second, 0) + size
            keep.add(i)
    return [e for i, e in enumerate(events) if i in keep]


def merge(events: list[list[object]]) -> list[list[object]]:
    out: list[list[object]] = []
    for ev in trim(sorted(events, key=lambda e: float(e[0]))):
        if (out and ev[1] == "o" and out[-1][1] == "o" and float(ev[0]) - float(out[-1][0]) < 0.02
                and len(str(out[-1][2])) < MAX_EVENT):
            out[-1][2] = str(out[-1][2]) + str(ev[2])
        else:
            out.append(list(ev))
    return out


def retrim(path: Path) -> None:
    """Apply ``trim`` to a recorded cast again (after the budget changed)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines[1:]]
    kept = merge(events)
    path.write_text("\n".join([lines[0], *(json.dumps(e, ensure_ascii=False) for e in kept)])
                    + "\n", encoding="utf-8")


def main() -> None:
    names = sys.argv[1:] or list(SCENARIOS)
    if names[0] == "--retrim":
        for path in sorted(OUT.glob("*.cast")):
            retrim(path)
        return
    if names[0] == "--from":
        keys = list(SCENARIOS)
        names = keys[keys.index(names[1]):]
    for name in names:
        record(name, SCENARIOS[name])


if __name__ == "__main__":
    main()
