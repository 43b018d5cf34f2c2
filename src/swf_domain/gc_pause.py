"""Pausing Python's cyclic garbage collector while building a big workflow.

Building a million-job workflow allocates millions of container objects that all stay
alive; the collector would walk the growing heap again and again (more than doubling
the submission time) to find nothing. Reference counting still frees everything
acyclic meanwhile; the previous collector state is restored afterwards.

The one definition for every layer (reading and validating a document here, the store's
bulk rows, the service's submission): a pause may be nested and taken by several threads
at once, and the collector comes back only when the last one ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collector off inside the block (nesting and threads allowed)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()


def freeze_survivors() -> None:
    """Leave every object alive now out of the collector's future passes (``gc.freeze``).

    For the engine daemon after a big submission: the millions of objects built while
    the collector was paused (the workflow's model, kept while it runs) would otherwise
    all be walked by the first collection after the pause (0.45 s per 200,000 jobs), and
    again by each full one. Only for a model without reference cycles (no special paths:
    ``serialization.declares_special_paths``; tested): when it is dropped, reference
    counting frees it, frozen or not. What a freeze can keep for good is cyclic garbage
    among the other objects alive at that moment; the daemon freezes only after
    submissions of tens of thousands of jobs, so that stays small.
    """
    gc.freeze()
