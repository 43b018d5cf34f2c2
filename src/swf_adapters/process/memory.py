"""Giving freed memory back to the system after a bulky operation.

Decoding a million-job submission allocates gigabytes of short-lived objects; glibc
keeps the pages they freed inside its heaps (one per thread that allocated) until asked.
The engine daemon lives for days: without this, its resident size stays at the peak
of its largest submission.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None (another C library: nothing to do)."""
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


def release_freed_memory() -> None:
    """Return the free pages of every malloc heap to the system (glibc; else a no-op).

    Costs a few milliseconds per gigabyte of heap: meant for after a submission, not
    for every call.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
