"""Precision and recall of the activity detector on the labelled corpus (markdown)."""

from __future__ import annotations

import sys
from pathlib import Path

from agent_sidecar.activity.replay import Score, load, replay, score

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "activity"
STATES = ("working", "waiting", "idle", "unknown")
SOURCES = ("hook", "escape", "screen", "process", "output")


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def main(names: list[str]) -> None:
    total = Score()
    rows = []
    for cast in sorted(DATA.glob("*.cast")):
        rec = load(cast)
        timeline = replay(rec)
        s = score(rec, timeline)
        total.add(s)
        wrong = sorted(((e, p), n) for (e, p), n in s.pairs.items() if e != p)
        rows.append((rec.name, rec.kind, s.accuracy(), sum(s.pairs.values()), wrong))
        if rec.name in names:
            print(f"### {rec.name}: {rec.description}\n")
            for t, a in timeline.changes:
                print(f"    {t:6.1f} {a.state:8} {a.source:8} {a.reason or '':10} "
                      f"{(a.prompt or a.detail or '')[:60]!r}")
            print("    labels:", ", ".join(f"{t:.1f} {st}" for t, st, _ in rec.labels), "\n")
    print(f"{len(rows)} recordings, {sum(r[3] for r in rows)} samples (every 0.1 s, "
          "1.5 s after each labelled change left out).\n")
    print("| state | precision | recall | samples labelled |")
    print("|---|---|---|---|")
    for st in STATES:
        n = sum(c for (e, _), c in total.pairs.items() if e == st)
        if n:
            print(f"| {st} | {pct(total.precision(st))} | {pct(total.recall(st))} | {n} |")
    print(f"\nOverall: {pct(total.accuracy())} of samples right.\n")
    right = sum(n for (_, ok), n in total.by_source.items() if ok)
    print("| source (the one that won) | samples | precision | share of right answers |")
    print("|---|---|---|---|")
    for src in SOURCES:
        ok = total.by_source[(src, True)]
        bad = total.by_source[(src, False)]
        if ok + bad:
            share = pct(ok / right if right else None)
            print(f"| {src} | {ok + bad} | {pct(ok / (ok + bad))} | {share} |")
    print("\nEach source alone (the others turned off), precision / recall per state:\n")
    print("| source alone | working | waiting | idle |")
    print("|---|---|---|---|")
    recs = [load(cast) for cast in sorted(DATA.glob("*.cast"))]
    for src in SOURCES:
        alone = Score()
        for rec in recs:
            alone.add(score(rec, replay(rec, sources=frozenset({src}))))
        cells = [f"{pct(alone.precision(st))} / {pct(alone.recall(st))}"
                 for st in ("working", "waiting", "idle")]
        print(f"| {src} | {' | '.join(cells)} |")
    reasons = sum(total.reasons.values())
    same = sum(n for (e, p), n in total.reasons.items() if e == p)
    print(f"\nWaiting with the right reason: {pct(same / reasons if reasons else None)} "
          f"of {reasons} samples.\n")
    print("| recording | kind | right | wrong (labelled → detected: samples) |")
    print("|---|---|---|---|")
    for name, kind, acc, _, wrong in rows:
        text = ", ".join(f"{e}→{p}: {n}" for (e, p), n in wrong) or ""
        print(f"| {name} | {kind} | {pct(acc)} | {text} |")


if __name__ == "__main__":
    main(sys.argv[1:])
