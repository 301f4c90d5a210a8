"""Every recording of the labelled corpus replayed through the detector.

The figures in docs/activity.md come from ``scripts/activity-accuracy`` on the same
files; these floors keep them from sliding back unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_sidecar.activity.replay import Score, load, replay, score

DATA = Path(__file__).resolve().parents[2] / "data" / "activity"
CASTS = sorted(DATA.glob("*.cast"))


def test_the_corpus_has_at_least_30_labelled_recordings() -> None:
    assert len(CASTS) >= 30
    for cast in CASTS:
        assert cast.with_suffix(".labels.json").exists(), cast.name


def test_the_corpus_is_small() -> None:
    assert sum(p.stat().st_size for p in DATA.iterdir()) < 1_000_000


@pytest.fixture(scope="module")
def scores() -> dict[str, Score]:
    return {cast.stem: score(rec, replay(rec)) for cast in CASTS for rec in [load(cast)]}


def test_published_accuracy_holds(scores: dict[str, Score]) -> None:
    total = Score()
    for s in scores.values():
        total.add(s)
    assert total.accuracy() >= 0.90
    for state in ("working", "waiting", "idle"):
        assert (total.precision(state) or 0) >= 0.85, state
        assert (total.recall(state) or 0) >= 0.80, state
    assert sum(n for (e, p), n in total.reasons.items() if e == p) >= 0.95 * sum(
        total.reasons.values())


@pytest.mark.parametrize("cast", CASTS, ids=[c.stem for c in CASTS])
def test_no_prompt_ever_carries_what_was_typed_into_a_password_field(cast: Path) -> None:
    rec = load(cast)
    timeline = replay(rec)
    in_password = [t for t, state, reason in rec.labels if reason == "password"]
    if not in_password:
        return
    typed = [text for when, kind, text in rec.events
             if kind == "i" and when >= in_password[0] and len(text.strip()) >= 4]
    assert typed, "a password scenario types something"
    for _, activity in timeline.changes:
        for text in typed:
            assert text.strip() not in (activity.prompt or ""), (cast.stem, activity.prompt)
