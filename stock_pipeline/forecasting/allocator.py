"""Keep the C allocator from handing training memory back to the kernel after every step.

A recurrent network's training step on XLA:CPU allocates its scan buffers afresh each
step (every time step's gates, kept for the backward pass: 240 steps x 512 sequences x
100 gates x 4 bytes = 49 MB for the pooled model) and frees them at its end. glibc
serves blocks above 32 MB with ``mmap`` and returns them with ``munmap`` on free, and
trims its heaps when their free top grows, so the next step page-faults the same memory
in again. Measured on 2 cores (``benchmarks/allocator.py``, 16,384 sequences, the
default batch of 512): 3.9 million page faults and 9 s of kernel CPU per process
before, 0.23 million and 0.7 s with one arena, no ``mmap`` for large blocks and no
trimming; training throughput 1.27x (1.38x at batches of 2,048).

The per-ticker networks (20-step windows, batches of 64) allocate little and measured
no change; the backend (``stock_pipeline/backend.py``, which every module that uses keras
imports first) tunes the allocator for both, before JAX starts. The price is that the
process keeps its peak heap until it exits, which is what a training process wants.
``keep_freed_memory`` only acts on Linux with glibc (elsewhere it does nothing) and must
run before JAX starts its threads, which is why the backend calls it before importing jax.
"""

from __future__ import annotations

import ctypes
import platform
import sys

# mallopt parameters from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc's malloc for training (once per process); True when it was applied."""
    global _applied
    if _applied is None:
        _applied = _tune_glibc()
    return _applied


def _tune_glibc() -> bool:
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    # one arena: XLA's worker threads would otherwise each grow (and trim) their own heap
    # -1 is SIZE_MAX to glibc: never trim the heap's free top
    # 0 mmapped blocks: large blocks come from the heap and are reused after free
    # (glibc still falls back to mmap when the heap cannot grow)
    settings = ((_M_ARENA_MAX, 1), (_M_TRIM_THRESHOLD, -1), (_M_MMAP_MAX, 0))
    return all(libc.mallopt(param, value) == 1 for param, value in settings)
