"""Waiting for the engine's progress without polling.

The engine bumps a generation number after every committed tick; a waiter checks its
condition (usually a store query), and sleeps until the generation moves or its time is
up. Checking outside the lock and sleeping on the generation means no wake-up is lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from swf_domain.errors import EngineError


class ChangeNotifier:
    """A generation counter plus a condition variable."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._generation = 0
        self._failure: str | None = None

    def changed(self) -> None:
        """Called by the engine after each commit."""
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def fail(self, reason: str) -> None:
        """The engine stopped for good: waiters stop waiting and get an EngineError."""
        with self._condition:
            self._failure = reason
            self._generation += 1
            self._condition.notify_all()

    def reset(self) -> None:
        with self._condition:
            self._failure = None

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """True once ``predicate()`` holds; False after ``timeout`` seconds (None: never)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._condition:
                seen = self._generation
                failure = self._failure
            if predicate():
                return True
            if failure is not None:
                raise EngineError(f"the engine is not running: {failure}")
            with self._condition:
                while self._generation == seen:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return predicate()
                    self._condition.wait(remaining)
