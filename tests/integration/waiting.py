"""Polling for a condition, written once for every integration fixture module."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], bool], timeout: float, period: float = 0.05) -> bool:
    """Whether ``predicate`` came true within ``timeout`` seconds; it is asked once more
    at the deadline, so a loaded machine's last sleep does not turn a pass into a fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return bool(predicate())
