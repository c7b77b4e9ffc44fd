"""Giving freed memory back to the system.

glibc's allocator keeps what a process freed in its arenas, one per thread that allocated,
for reuse: after a 2-minute clip's analysis (ONNX Runtime's buffers, the features, the
figures) a server kept well over 100 MB it no longer used. ``malloc_trim`` returns it. And
once a large block is freed, glibc raises the size from which it maps blocks of their own
(returned to the system on free) up to 32 MB, so that a clip's arrays (a 2-minute clip is
7.7 MB of samples) then come from the arenas and stay there; ``map_large_blocks`` pins it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
import time


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
LARGE_BLOCK_BYTES = 1 << 20


def map_large_blocks(threshold_bytes: int = LARGE_BLOCK_BYTES) -> bool:
    """Have every block of ``threshold_bytes`` or more mapped on its own, so that freeing it
    returns it to the system; False where the C library is not glibc."""
    libc = _libc()
    return bool(libc and libc.mallopt(M_MMAP_THRESHOLD, threshold_bytes))


def give_back() -> bool:
    """Return the memory the allocator holds free to the system: True when it could ask,
    False where the C library has no ``malloc_trim`` (not glibc), which keeps it for reuse."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


@functools.cache
def give_back_every(period_s: float) -> threading.Thread:
    """``give_back`` every ``period_s`` seconds on a daemon thread, started once per process:
    what the sessions of visitors who left freed goes back even while no one analyses."""
    def loop() -> None:
        while True:
            time.sleep(period_s)
            give_back()

    thread = threading.Thread(target=loop, name="ser-give-back", daemon=True)
    thread.start()
    return thread
