"""Job index <-> job id for one workflow, cheaply for a million jobs.

Stores hand out consecutive ids for a workflow's bulk insert; then the mapping is two
additions and costs nothing. Otherwise a dictionary is built (once per workflow).
"""

from __future__ import annotations

from collections.abc import Sequence


class JobIds:
    """The ids of a workflow's jobs, by job index."""

    __slots__ = ("_first", "_ids", "_index")

    def __init__(self, ids: Sequence[int]) -> None:
        count = len(ids)
        self._first: int | None = None
        self._ids: Sequence[int] = ids
        self._index: dict[int, int] | None = None
        if count == 0 or _consecutive(ids):
            self._first = ids[0] if count else 0
            self._ids = range(self._first, self._first + count)
        else:
            self._ids = list(ids)
            self._index = {job_id: index for index, job_id in enumerate(self._ids)}

    def id_of(self, index: int) -> int:
        if self._first is not None:
            return self._first + index
        return self._ids[index]

    def index_of(self, job_id: int) -> int | None:
        """The job's index, or None when the id is not one of this workflow's."""
        if self._index is not None:
            return self._index.get(job_id)
        assert self._first is not None
        offset = job_id - self._first
        return offset if 0 <= offset < len(self._ids) else None

    def __len__(self) -> int:
        return len(self._ids)


def _consecutive(ids: Sequence[int]) -> bool:
    if isinstance(ids, range):
        return ids.step == 1
    first = ids[0]
    if ids[-1] - first != len(ids) - 1:
        return False
    return all(job_id == first + offset for offset, job_id in enumerate(ids))
