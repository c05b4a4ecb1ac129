"""A process that imports a network keeps large freed blocks in its heap instead of
returning them to the kernel (``forecasting/allocator.py``), read back from glibc's own
accounting (``mallinfo2``) in a fresh interpreter for each case."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)

# Allocates, touches and frees one 100 MB block, then reports where glibc put it:
# hblkhd = bytes in mmapped blocks, arena = bytes of the heap.
PROBE = """
import ctypes, json, sys
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
        "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "network":
    import stock_pipeline.universe.network  # noqa: F401  (its import tunes the allocator)
size = 100 << 20
block = libc.malloc(size)
ctypes.memset(block, 1, size)
during = libc.mallinfo2()
libc.free(block)
after = libc.mallinfo2()
print(json.dumps({"mmapped_during": during.hblkhd, "heap_during": during.arena,
                  "heap_after": after.arena}))
"""

BLOCK = 100 << 20


def probe(case: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, case], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_importing_a_network_keeps_freed_training_memory_in_the_heap():
    tuned = probe("network")
    # the block came from the heap, not from mmap, and freeing it did not shrink the heap
    assert tuned["mmapped_during"] < BLOCK
    assert tuned["heap_during"] >= BLOCK
    assert tuned["heap_after"] == tuned["heap_during"]


def test_without_the_tuning_glibc_maps_and_unmaps_the_block():
    # the control: what the tuning changes (a 100 MB block is mmapped and given back)
    plain = probe("plain")
    assert plain["mmapped_during"] >= BLOCK
    assert plain["heap_during"] < BLOCK
