"""Giving memory back to the operating system after a burst of image work.

glibc keeps the heap a process has freed, so a web worker that just decoded hundreds of
photos (freezing a dossier) would stay that large while it streams downloads for hours.
malloc_trim(0) returns the free heap; elsewhere (no glibc) this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_free_heap() -> bool:
    """Return freed heap memory to the OS; True if the C library could do it."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
