"""The real clock (the Clock port): wall time for dates, monotonic time for durations."""

from __future__ import annotations

import time


class SystemClock:
    """Clock port on the operating system's clocks."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()
