"""What may be submitted now: the scheduler's capacity and the configured job limits.

Two kinds of limits, kept apart because they count different things:

- the scheduler's ``Capacity``, in its unit: CPUs (a job takes nodes x cpus per node,
  clamped to the capacity or it could never run) or jobs (a job takes one); it can
  change while the engine runs (an MPI pilot's allocation starts or ends);
- the configuration's job counts per queue, as soma-workflow reads them:
  ``MAX_JOB_RUNNING`` caps the jobs submitted and not ended, ``MAX_JOB_IN_QUEUE`` the
  jobs submitted and not yet started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .ports import Capacity, CapacityUnit, ParallelSpec

#: Limits by queue (None: the default queue); a queue absent has no limit.
QueueLimits = Mapping[str | None, int]


class CapacityBudget:
    """Capacity units and job counts in use, against their limits (engine thread only)."""

    def __init__(
        self,
        capacity: Capacity,
        max_running: QueueLimits | None = None,
        max_queued: QueueLimits | None = None,
    ) -> None:
        self.capacity = capacity
        self._max_running = {q: n for q, n in (max_running or {}).items() if n > 0}
        self._max_queued = {q: n for q, n in (max_queued or {}).items() if n > 0}
        #: Capacity units in use, in total and per queue.
        self.used = 0
        self._used_by_queue: dict[str | None, int] = {}
        #: Jobs submitted and not ended, and those not started yet, per queue.
        self._jobs: dict[str | None, int] = {}
        self._queued: dict[str | None, int] = {}

    def change(self, capacity: Capacity) -> None:
        """The scheduler's capacity changed; jobs already submitted keep their units."""
        self.capacity = capacity

    def resize(self, total: int) -> None:
        """soma's ``set_proc_nb`` on an engine in the client's process: a new capacity
        total; a default-queue MAX_JOB_RUNNING equal to the old total (the local
        scheduler's CPU_NB default) follows it. Running jobs keep their units."""
        old = self.capacity.total
        if old is not None and self._max_running.get(None) == old:
            self._max_running[None] = max(total, 1)
        self.capacity = replace(self.capacity, total=max(total, 1))

    def cap(self, queue: str | None) -> int | None:
        """Capacity units a queue may use at most (None: no limit)."""
        capacity = self.capacity
        per_queue = capacity.per_queue.get(queue)
        if capacity.total is None:
            return per_queue
        return capacity.total if per_queue is None else min(per_queue, capacity.total)

    def cost(self, queue: str | None, parallel: ParallelSpec | None) -> int:
        """Units a job takes: its CPUs clamped to the queue's cap, or 1 (job units)."""
        if parallel is None or self.capacity.unit is CapacityUnit.JOBS:
            return 1
        cap = self.cap(queue)
        return max(1, parallel.cpus if cap is None else min(parallel.cpus, cap))

    def has_room(self, queue: str | None) -> bool:
        """Whether one more job of the smallest kind could be submitted to ``queue``."""
        return self.fits(queue, 1)

    def fits(self, queue: str | None, cost: int) -> bool:
        total = self.capacity.total
        if total is not None and self.used + cost > total:
            return False
        cap = self.capacity.per_queue.get(queue)
        if cap is not None and self._used_by_queue.get(queue, 0) + cost > cap:
            return False
        limit = self._max_running.get(queue)
        if limit is not None and self._jobs.get(queue, 0) >= limit:
            return False
        limit = self._max_queued.get(queue)
        return limit is None or self._queued.get(queue, 0) < limit

    def take(self, queue: str | None, cost: int, queued: bool = True) -> None:
        """A job was submitted (``queued``: not started yet) or adopted."""
        self.used += cost
        self._used_by_queue[queue] = self._used_by_queue.get(queue, 0) + cost
        self._jobs[queue] = self._jobs.get(queue, 0) + 1
        if queued:
            self._queued[queue] = self._queued.get(queue, 0) + 1

    def started(self, queue: str | None) -> None:
        """A job taken as queued left the scheduler's queue (it runs)."""
        self._queued[queue] = self._queued.get(queue, 0) - 1

    def release(self, queue: str | None, cost: int, queued: bool) -> None:
        """A job ended (``queued``: before it was reported started)."""
        self.used -= cost
        self._used_by_queue[queue] = self._used_by_queue.get(queue, 0) - cost
        self._jobs[queue] = self._jobs.get(queue, 0) - 1
        if queued:
            self._queued[queue] = self._queued.get(queue, 0) - 1
