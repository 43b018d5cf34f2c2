"""Waking an event loop when a child ends, without polling the children.

SIGCHLD needs a handler for ``signal.set_wakeup_fd`` to see it; the handler does
nothing, the loop reaps (see ``ends.reap_children``) when the pipe becomes readable.
"""

from __future__ import annotations

import contextlib
import os
import signal
from types import FrameType


def wake_on_child_end() -> tuple[int, int]:
    """(read end, write end) of a non-blocking pipe that receives a byte per signal."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, _ignore_signal)
    return wake_r, wake_w


def drain(wake_r: int) -> None:
    """Empty the pipe: one read is enough, signals coalesce (and a byte left over only
    makes the loop look once more)."""
    with contextlib.suppress(BlockingIOError, InterruptedError):
        os.read(wake_r, 4096)


def _ignore_signal(signum: int, frame: FrameType | None) -> None:
    """The loop does the work."""
