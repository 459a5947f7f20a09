"""Freed heap goes back to the operating system after a burst of work."""
from __future__ import annotations

from fieldapp.memory import release_free_heap


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def test_freed_heap_is_returned():
    # 64 KiB blocks stay on the heap (below glibc's mmap threshold); a block allocated
    # after them keeps glibc from trimming the heap's top by itself.
    blocks = [bytearray(64 * 1024) for _ in range(3200)]  # 200 MiB, touched (zeroed)
    sentinel = bytearray(64 * 1024)
    del blocks
    before = _rss_mb()
    assert release_free_heap() is True
    after = _rss_mb()
    assert before - after > 100, (before, after)
    del sentinel
