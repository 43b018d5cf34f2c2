"""Jobs that may run but wait for a slot: higher priority first, FIFO within a priority.

One heap per scheduler queue. Each entry is one packed int (priority rank, arrival
number, workflow serial, job index) rather than a tuple: a million-job fan-out puts a
million entries here at once, and an int costs a third of a tuple of four.

Entries are never searched for: the engine drops stale ones (a job stopped or already
submitted) when they reach the top, by checking the job's state.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

_INDEX_BITS = 32
_SERIAL_BITS = 32
_SEQ_BITS = 40
_PRIORITY_LIMIT = 1 << 30
_SERIAL_SHIFT = _INDEX_BITS
_SEQ_SHIFT = _INDEX_BITS + _SERIAL_BITS
_RANK_SHIFT = _SEQ_SHIFT + _SEQ_BITS
_INDEX_MASK = (1 << _INDEX_BITS) - 1
_SERIAL_MASK = (1 << _SERIAL_BITS) - 1


def _rank(priority: int) -> int:
    """Smaller rank pops first: rank grows as priority falls (clamped to +-2**30)."""
    clamped = max(-_PRIORITY_LIMIT, min(_PRIORITY_LIMIT, priority))
    return _PRIORITY_LIMIT - clamped


class ReadyQueue:
    """Per-queue heaps of (workflow serial, job index) ordered by priority then arrival."""

    def __init__(self) -> None:
        self._heaps: dict[str | None, list[int]] = {}
        self._arrivals = 0

    def push(self, queue: str | None, priority: int, serial: int, index: int) -> None:
        self.push_many(queue, serial, [(priority, index)])

    def push_many(self, queue: str | None, serial: int, entries: list[tuple[int, int]]) -> None:
        """Push (priority, index) entries of one workflow at once: one heapify instead of
        a push each when many (a fan-out releases many jobs in one tick)."""
        first = self._arrivals + 1
        self._arrivals += len(entries)
        base = serial << _SERIAL_SHIFT
        ranks: dict[int, int] = {}
        keys: list[int] = []
        append = keys.append
        for arrival, (priority, index) in enumerate(entries, first):
            rank = ranks.get(priority)
            if rank is None:
                rank = ranks[priority] = _rank(priority) << _RANK_SHIFT
            append(rank | (arrival << _SEQ_SHIFT) | base | index)
        heap = self._heaps.get(queue)
        if not heap:
            keys.sort()  # a sorted list is a heap
            self._heaps[queue] = keys
        elif len(keys) * max(len(heap).bit_length(), 1) < len(heap):
            for key in keys:  # a few into a big heap: pushing is cheaper than heapify
                heapq.heappush(heap, key)
        else:
            heap.extend(keys)
            heapq.heapify(heap)

    def queues_by_urgency(self) -> list[str | None]:
        """Queues holding entries, the one whose best entry should go first first."""
        tops = [
            (heap[0], position, queue)
            for position, (queue, heap) in enumerate(self._heaps.items())
            if heap
        ]
        tops.sort()
        return [queue for _, _, queue in tops]

    def peek(self, queue: str | None) -> tuple[int, int] | None:
        """(workflow serial, job index) of the queue's next entry, or None."""
        heap = self._heaps.get(queue)
        if not heap:
            return None
        return _decode(heap[0])

    def pop(self, queue: str | None) -> None:
        heapq.heappop(self._heaps[queue])

    def entries(self) -> Iterator[tuple[str | None, int, int]]:
        """Every entry as (queue, serial, index), in no particular order."""
        for queue, heap in self._heaps.items():
            for key in heap:
                serial, index = _decode(key)
                yield queue, serial, index

    def __len__(self) -> int:
        return sum(len(heap) for heap in self._heaps.values())


def _decode(key: int) -> tuple[int, int]:
    return (key >> _SERIAL_SHIFT) & _SERIAL_MASK, key & _INDEX_MASK
