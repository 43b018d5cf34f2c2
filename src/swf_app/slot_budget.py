"""How many slots jobs may take: the resource's total and optional per-queue limits.

A job reserves its ``parallel_job_info`` slots (nodes x cpus per node). A job asking
for more than a limit is clamped to it, or it would never run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def requested_slots(parallel_job_info: Mapping[str, Any] | None) -> int:
    """Slots a job asks for: ``nodes_number * cpu_per_node`` (1 by default)."""
    if not parallel_job_info:
        return 1
    nodes = _positive(parallel_job_info.get("nodes_number", 1))
    cpus = _positive(parallel_job_info.get("cpu_per_node", 1))
    return nodes * cpus


def _positive(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return max(number, 1)


class SlotBudget:
    """Slots in use, in total and per queue, against their limits."""

    def __init__(self, total: int, queue_limits: Mapping[str | None, int] | None = None) -> None:
        self.total = max(total, 1)
        self._limits = {queue: max(limit, 1) for queue, limit in (queue_limits or {}).items()}
        self.used = 0
        self._used_by_queue: dict[str | None, int] = {}

    def resize(self, total: int) -> None:
        """A new total (soma's ``set_proc_nb``); a default-queue limit equal to the old
        total (the local scheduler's CPU_NB) follows it. Running jobs keep their slots."""
        if self._limits.get(None) == self.total:
            self._limits[None] = max(total, 1)
        self.total = max(total, 1)

    def capacity(self, queue: str | None) -> int:
        return min(self.total, self._limits.get(queue, self.total))

    def clamp(self, queue: str | None, slots: int) -> int:
        return max(1, min(slots, self.capacity(queue)))

    def has_room(self, queue: str | None) -> bool:
        return self.used < self.total and self._used_by_queue.get(queue, 0) < self.capacity(queue)

    def fits(self, queue: str | None, slots: int) -> bool:
        in_queue = self._used_by_queue.get(queue, 0)
        return self.used + slots <= self.total and in_queue + slots <= self.capacity(queue)

    def take(self, queue: str | None, slots: int) -> None:
        self.used += slots
        self._used_by_queue[queue] = self._used_by_queue.get(queue, 0) + slots

    def release(self, queue: str | None, slots: int) -> None:
        self.used -= slots
        self._used_by_queue[queue] = self._used_by_queue.get(queue, 0) - slots
