"""Statistics over runs, the goals, the table and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Metric:
    key: str
    label: str
    unit: str
    values: list[float] = field(default_factory=list)
    #: Reference figures from the issue (ttyd / terminado), for the table.
    reference: str = ""
    #: Key of the physical limit this metric is a ratio of.
    limit_key: str | None = None
    goal: str = ""
    check: Callable[[float, float | None], bool] | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def as_dict(self, limits: dict[str, Metric]) -> dict[str, Any]:
        d: dict[str, Any] = {
            "label": self.label, "unit": self.unit, "values": self.values,
            "n": len(self.values), "reference": self.reference, "goal": self.goal,
        }
        if self.values:
            d.update(median=self.median, min=min(self.values), max=max(self.values))
        limit = self.limit_value(limits)
        if limit is not None and self.values:
            d["limit"] = limit
            d["ratio"] = self.median / limit
        met = self.met(limits)
        if met is not None:
            d["met"] = met
        return d

    def limit_value(self, limits: dict[str, Metric]) -> float | None:
        if self.limit_key is None:
            return None
        lim = limits.get(self.limit_key)
        if lim is None or not lim.values or not lim.median:
            return None
        return lim.median

    def met(self, limits: dict[str, Metric]) -> bool | None:
        if self.check is None or not self.values:
            return None
        return self.check(self.median, self.limit_value(limits))


def _fmt(v: float) -> str:
    if v != v:
        return "-"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if a >= 0.1 else f"{v:.3f}"


def table(metrics: list[Metric], limits: dict[str, Metric]) -> str:
    head = ["metric", "unit", "median", "min-max", "N", "ref ttyd / terminado",
            "limit", "ratio", "goal", "met"]
    rows = [head]
    for m in metrics:
        if not m.values:
            continue
        lim = m.limit_value(limits)
        met = m.met(limits)
        rows.append([
            m.label, m.unit, _fmt(m.median),
            f"{_fmt(min(m.values))}-{_fmt(max(m.values))}", str(len(m.values)),
            m.reference, "" if lim is None else _fmt(lim),
            "" if lim is None else f"{m.median / lim:.2f}x", m.goal,
            "" if met is None else ("yes" if met else "NO"),
        ])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
        "python": sys.version.split()[0], "loadavg_at_start": os.getloadavg(),
        "commit": commit, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json(path: Path, info: dict[str, Any], metrics: list[Metric],
               limits: dict[str, Metric], extra: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "machine": info,
        "metrics": {m.key: m.as_dict(limits) for m in metrics if m.values},
        "runs": extra,
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
