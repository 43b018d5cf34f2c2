"""The engine's inbox: the one way other threads talk to the engine thread.

Scheduler event batches and commands (a function to run on the engine thread, with a
future for its result) go into one FIFO, so the engine sees them in arrival order and
can drain everything available before one tick. Waiting on it needs no polling: a put
wakes the engine at once.

It is a ``queue.SimpleQueue`` (put and get in C) rather than a deque under a
``threading.Condition``: the engine takes from it once per tick and the local scheduler's
reader puts into it once per message, a few times per job, and a Condition's wait and
notify are Python code that allocates a lock per wait (measured: a tenth of the engine
thread's profile in a 2-slot run of short jobs).
"""

from __future__ import annotations

import queue
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

#: Put by ``wake`` so that a waiting ``take_all`` returns; never handed out (no real
#: item is an empty batch: ``put_events`` drops those).
_WAKE_UP: Sequence[SchedulerReport] = ()


class Inbox:
    """A thread-safe FIFO of commands and event batches, with a blocking take."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[InboxItem] = queue.SimpleQueue()
        self._closed = False

    def put_events(self, events: Sequence[SchedulerReport]) -> None:
        """The scheduler's sink: may be called from any thread."""
        if events:
            self._queue.put(events)

    def put_command(self, command: Command) -> None:
        self._queue.put(command)

    def take_all(self, timeout: float | None) -> list[InboxItem]:
        """Everything queued, waiting up to ``timeout`` seconds for the first item
        (not at all once ``wake`` was called). Only the engine thread takes."""
        inbox = self._queue
        items: list[InboxItem] = []
        if inbox.empty() and not self._closed:
            try:
                items.append(inbox.get(timeout=timeout))
            except queue.Empty:
                return items
        while not inbox.empty():
            items.append(inbox.get_nowait())
        if self._closed:
            return [item for item in items if item is not _WAKE_UP]
        return items

    def wake(self) -> None:
        """Make a waiting ``take_all`` return (used to stop the engine)."""
        self._closed = True
        self._queue.put(_WAKE_UP)
