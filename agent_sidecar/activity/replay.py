"""Replay asciicast v2 recordings through the detector, and score it against labels.

A recording ``NAME.cast`` has ``[t, "o", text]`` output events, ``[t, "i", text]``
keystrokes, ``[t, "r", "COLSxROWS"]`` resizes and ``[t, "m", text]`` markers; a marker
``process:{json}`` is a process sample (process.py) and ``hook:{json}`` a hook claim,
taken while recording. ``NAME.labels.json`` says what a person would call the activity
from each time on: ``labels: [[t, state, reason|null], ...]``.

Scoring samples the timeline every ``step`` seconds and leaves out ``grace`` seconds
after each labelled change (the detector waits for the screen to settle by design),
the stretches labelled ``unknown`` (transitions whose moment the recorder cannot know,
such as an agent starting up) and everything after an ``end`` label (the program exited).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..agents import AgentKind, agent_kind
from .detector import Detector
from .model import Activity, Claim, Option
from .process import ProcessSample


@dataclass(frozen=True, slots=True)
class Recording:
    name: str
    cols: int
    rows: int
    events: tuple[tuple[float, str, str], ...]
    labels: tuple[tuple[float, str, str | None], ...]
    kind: AgentKind
    description: str
    #: When the recording ended (the labels hold until then).
    end: float | None = None

    @property
    def duration(self) -> float:
        return max(self.events[-1][0] if self.events else 0.0,
                   self.labels[-1][0] if self.labels else 0.0, self.end or 0.0)


def load(cast: Path) -> Recording:
    lines = cast.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    if header.get("version") != 2:
        raise ValueError(f"{cast.name}: not asciicast v2")
    events = tuple((float(e[0]), str(e[1]), str(e[2])) for e in map(json.loads, lines[1:]))
    meta = json.loads(cast.with_suffix(".labels.json").read_text(encoding="utf-8"))
    labels = tuple((float(x[0]), str(x[1]), x[2]) for x in meta["labels"])
    kind = meta.get("agent_kind") or agent_kind(meta.get("command", []))
    return Recording(cast.stem, int(header["width"]), int(header["height"]), events, labels,
                     kind, meta.get("description", ""), meta.get("duration"))


@dataclass
class Timeline:
    """The detector's activity over time: ``(t, activity)`` at each change."""

    changes: list[tuple[float, Activity]] = field(default_factory=list)
    typed: list[str] = field(default_factory=list)

    def at(self, t: float) -> Activity | None:
        found = None
        for when, activity in self.changes:
            if when > t:
                break
            found = activity
        return found


def replay(rec: Recording, *, step: float = 0.1, sources: frozenset[str] | None = None
           ) -> Timeline:
    d = Detector(rec.kind, cols=rec.cols, rows=rec.rows, sources=sources)
    out = Timeline()

    def tick(t: float) -> None:
        changed = d.tick(t)
        if changed is not None:
            out.changes.append((t, changed))

    t = 0.0
    for when, kind, text in rec.events:
        while t + step < when:
            t += step
            tick(t)
        if kind == "o":
            d.output(when, text.encode("utf-8", "surrogateescape"))
        elif kind == "i":
            out.typed.append(text)
            d.input(when)
        elif kind == "r":
            cols, _, rows = text.partition("x")
            d.resize(int(cols), int(rows))
        elif kind == "m":
            _marker(d, text)
        tick(when)
    end = rec.duration + 1.0
    while t < end:
        t += step
        tick(t)
    return out


def _marker(d: Detector, text: str) -> None:
    what, _, body = text.partition(":")
    if what == "process":
        d.process(ProcessSample(**json.loads(body)))
    elif what == "hook":
        data = json.loads(body)
        if data is None:
            d.hook(None)
            return
        options = data.pop("options", None)
        if options:
            data["options"] = tuple(Option(o["label"], o["keys"]) for o in options)
        d.hook(Claim(**data))


# ---------------------------------------------------------------------- scoring


@dataclass
class Score:
    """Sample counts: ``pairs[(expected, predicted)]``, and per winning source."""

    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_source: Counter[tuple[str, bool]] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, other: Score) -> None:
        self.pairs.update(other.pairs)
        self.by_source.update(other.by_source)
        self.reasons.update(other.reasons)

    def precision(self, state: str) -> float | None:
        predicted = sum(n for (_, p), n in self.pairs.items() if p == state)
        return self.pairs[(state, state)] / predicted if predicted else None

    def recall(self, state: str) -> float | None:
        expected = sum(n for (e, _), n in self.pairs.items() if e == state)
        return self.pairs[(state, state)] / expected if expected else None

    def accuracy(self) -> float:
        total = sum(self.pairs.values())
        return sum(n for (e, p), n in self.pairs.items() if e == p) / total if total else 1.0


def samples(rec: Recording, *, step: float = 0.1, grace: float = 1.5
            ) -> Iterator[tuple[float, str, str | None]]:
    """``(t, expected state, expected reason)`` at every scored sample time."""
    n = int(rec.duration / step)
    for i in range(n + 1):
        t = i * step
        current = None
        for when, state, reason in rec.labels:
            if when > t:
                break
            current = (when, state, reason)
        if current is None or t - current[0] < grace or current[1] in ("unknown", "end"):
            continue  # a transition (the recorder cannot tell), or after the program ended
        yield t, current[1], current[2]


def score(rec: Recording, timeline: Timeline, *, step: float = 0.1, grace: float = 1.5) -> Score:
    s = Score()
    for t, state, reason in samples(rec, step=step, grace=grace):
        got = timeline.at(t)
        predicted = got.state if got is not None else "unknown"
        s.pairs[(state, predicted)] += 1
        if got is not None:
            s.by_source[(got.source, predicted == state)] += 1
        if state == "waiting" and predicted == "waiting" and reason and got is not None:
            s.reasons[(reason, got.reason or "")] += 1
    return s
