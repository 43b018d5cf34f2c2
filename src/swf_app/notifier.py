"""Waiting for the engine's progress without polling.

The engine bumps a generation number after every committed tick, and one per workflow
the tick touched; a waiter checks its condition (usually a store query) and sleeps until
the generation it watches moves or its time is up. Checking outside the lock and
sleeping on the generation means no wake-up is lost; watching only its workflows means
a waiter does not query the store on every tick of a busy engine, and a waiter that
only cares about a workflow's status (``wait_workflow``) watches status changes, which
happen a few times per workflow instead of once per tick.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable

from swf_domain.errors import EngineError


class ChangeNotifier:
    """Generation counters (global and per workflow) plus a condition variable."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._generation = 0
        self._by_workflow: dict[int, int] = {}
        self._status_by_workflow: dict[int, int] = {}
        self._deletions = 0
        self._failure: str | None = None

    def changed(
        self,
        workflow_ids: Iterable[int] = (),
        forgotten: Iterable[int] = (),
        status_changed: Iterable[int] = (),
    ) -> None:
        """Called by the engine after each commit, with the workflows it touched, those
        whose status changed, and those it deleted (their counters are dropped; every
        workflow waiter wakes)."""
        with self._condition:
            self._generation += 1
            for workflow_id in workflow_ids:
                self._by_workflow[workflow_id] = self._by_workflow.get(workflow_id, 0) + 1
            for workflow_id in status_changed:
                counters = self._status_by_workflow
                counters[workflow_id] = counters.get(workflow_id, 0) + 1
            for workflow_id in forgotten:
                self._by_workflow.pop(workflow_id, None)
                self._status_by_workflow.pop(workflow_id, None)
                self._deletions += 1
            self._condition.notify_all()

    def fail(self, reason: str) -> None:
        """The engine stopped for good: waiters stop waiting and get an EngineError."""
        with self._condition:
            self._failure = reason
            self._generation += 1
            self._condition.notify_all()

    def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float | None,
        workflow_ids: Collection[int] | None = None,
        status_only: bool = False,
    ) -> bool:
        """True once ``predicate()`` holds; False after ``timeout`` seconds (None: never).

        With ``workflow_ids``, the predicate is checked again only when a tick touched
        one of those workflows (or deleted it); with ``status_only`` too, only when the
        status of one of them changed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._condition:
                seen = self._watched(workflow_ids, status_only)
                failure = self._failure
            if predicate():
                return True
            if failure is not None:
                raise EngineError(f"the engine is not running: {failure}")
            with self._condition:
                while self._watched(workflow_ids, status_only) == seen and self._failure is None:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return predicate()
                    self._condition.wait(remaining)

    def _watched(
        self, workflow_ids: Collection[int] | None, status_only: bool = False
    ) -> tuple[int, ...]:
        if workflow_ids is None:
            return (self._generation,)
        by_workflow = self._status_by_workflow if status_only else self._by_workflow
        # any deletion wakes the workflow waiters (rare): their counter is dropped
        counters = tuple(by_workflow.get(workflow_id, 0) for workflow_id in workflow_ids)
        return (self._deletions, *counters)
