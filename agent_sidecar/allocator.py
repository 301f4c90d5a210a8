"""Allocator tuning for the long-running commands (``run`` and ``relay``).

Output frames are 100 KiB to 1 MiB. glibc serves allocations above its mmap threshold
(128 KiB at start) with fresh ``mmap`` calls and returns a freed heap top to the kernel
past its trim threshold, so every frame of a burst faults in freshly zeroed pages:
300-480 minor faults per MB in the sidecar (``scripts/bench``). Raising both thresholds
keeps those buffers in the heap, where they are reused.

Nothing happens where ``mallopt`` does not exist (musl, macOS): the tuning is an
optimisation, never a requirement.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameters (``malloc.h``).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Above the largest frame (the relay's default message limit is 1 MiB).
MMAP_THRESHOLD = 2 * 1024 * 1024
TRIM_THRESHOLD = 32 * 1024 * 1024


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds; True if the allocator took both."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    log.debug("allocator thresholds raised: %s", ok)
    return bool(ok)
