"""The allocator tuning keeps large frame buffers in glibc's heap instead of fresh mmaps.

Each check runs in a fresh interpreter: ``mallopt`` changes the allocator for the whole
process, and the tests' own process must keep glibc's defaults.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

#: Prints whether the tuning took, and how many bytes glibc serves from mmap'ed chunks
#: (``mallinfo2().hblkhd``) before and while a 1 MiB buffer (a large frame) is alive.
PROBE = """
import ctypes, json, sys
from agent_sidecar.allocator import tune_allocator

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
tuned = tune_allocator() if sys.argv[1] == "tuned" else None
before = mallinfo2().hblkhd
frame = bytearray(1 << 20)
during = mallinfo2().hblkhd
print(json.dumps({"tuned": tuned, "mmapped": during - before}))
"""


def _probe(mode: str) -> dict[str, int | bool | None]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, int | bool | None] = json.loads(out)
    return result


def test_by_default_glibc_serves_a_large_frame_from_a_fresh_mmap() -> None:
    # The baseline the tuning changes: without it the buffer is a fresh mmap.
    mmapped = _probe("default")["mmapped"]
    assert isinstance(mmapped, int)
    assert mmapped >= 1 << 20


def test_tuned_glibc_serves_a_large_frame_from_the_heap() -> None:
    result = _probe("tuned")
    assert result["tuned"] is True
    assert result["mmapped"] == 0
