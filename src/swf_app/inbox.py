"""The engine's inbox: the one way other threads talk to the engine thread.

Scheduler event batches and commands (a function to run on the engine thread, with a
future for its result) go into one FIFO, so the engine sees them in arrival order and
can drain everything available before one tick. Waiting on it needs no polling: a put
wakes the engine at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from .ports import SchedulerReport


@dataclass(slots=True)
class Command:
    """Work for the engine thread; ``run`` gets the tick's changes and returns the result."""

    run: Callable[[Any], Any]
    future: Future[Any] = field(default_factory=Future)


InboxItem = Command | Sequence[SchedulerReport]


class Inbox:
    """A thread-safe FIFO of commands and event batches, with a blocking take."""

    def __init__(self) -> None:
        self._items: deque[InboxItem] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._closed = False

    def put_events(self, events: Sequence[SchedulerReport]) -> None:
        """The scheduler's sink: may be called from any thread."""
        if events:
            self._put(events)

    def put_command(self, command: Command) -> None:
        self._put(command)

    def take_all(self, timeout: float | None) -> list[InboxItem]:
        """Everything queued, waiting up to ``timeout`` seconds for the first item."""
        with self._ready:
            if not self._items and not self._closed:
                self._ready.wait(timeout)
            items = list(self._items)
            self._items.clear()
            return items

    def wake(self) -> None:
        """Make a waiting ``take_all`` return (used to stop the engine)."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def _put(self, item: InboxItem) -> None:
        with self._ready:
            self._items.append(item)
            self._ready.notify()
