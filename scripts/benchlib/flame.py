"""Summarise a py-spy ``--format raw`` profile: the hottest functions, self and total.

``python -m benchlib.flame FILE [N]``
"""

from __future__ import annotations

import sys
from collections import Counter


def summarise(path: str, top: int = 25) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            samples += n
            frames = [fr.split(" (")[0] + " " + fr.rsplit("/", 1)[-1].split(":")[0].rstrip(")")
                      for fr in stack.split(";")]
            own[frames[-1]] += n
            for fr in set(frames):
                total[fr] += n
    lines = [f"{samples} samples", "self%  total%  function"]
    for fr, n in own.most_common(top):
        lines.append(f"{100 * n / samples:5.1f}  {100 * total[fr] / samples:6.1f}  {fr}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25))
