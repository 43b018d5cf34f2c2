"""Which jobs may run now: the engine's bookkeeping of a workflow being executed.

The tracker holds one byte of state and one counter per job (the number of its parents
not yet DONE), so a million-job workflow costs a few megabytes, and every event costs
O(1) per edge it touches: a job finishing decrements its children's counters, and a
child whose counter reaches zero becomes READY.

Rules it enforces:

- a job is released (READY) only once ALL its parents are DONE;
- when a job fails, every descendant that has not run yet (PENDING or READY) is ABORTED:
  it will never run (the engine reports it FAILED with exit status
  ``aborted_before_running``); independent branches go on;
- ``restart(S)`` brings back the FAILED / ABORTED / PENDING jobs of ``S`` together with
  every ABORTED descendant of them. Each of those whose ancestors include a job that is
  still FAILED or ABORTED (one that was not restarted) is ABORTED again, because it
  still cannot run; the others become PENDING, or READY once their parents are all DONE.
  DONE, READY and RUNNING jobs are never touched, so a restart is safe while other jobs
  run: a restarted job whose parent is still RUNNING simply waits for it.

Stopping a workflow is the engine's business: it kills the running jobs and reports
each one through ``failed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from enum import IntEnum
from itertools import compress

from .graph import Adjacency


class NodeState(IntEnum):
    """Where a job stands in one execution of its workflow."""

    PENDING = 0  # waiting for a parent
    READY = 1  # every parent DONE, not yet handed to the engine
    RUNNING = 2  # handed to the engine (queued or running on the resource)
    DONE = 3
    FAILED = 4
    ABORTED = 5  # never ran because an ancestor failed


_PENDING, _READY, _RUNNING, _DONE, _FAILED, _ABORTED = (int(state) for state in NodeState)
_NOT_RUN = (_PENDING, _READY)
_BLOCKING = (_FAILED, _ABORTED)
_STATES = tuple(NodeState)


class TrackerError(ValueError):
    """The engine reported an event that cannot happen to a job in its current state."""


class ReadyTracker:
    """Job states and ready set of one workflow execution (jobs are indices)."""

    __slots__ = ("_children", "_counts", "_missing", "_parents", "_ready", "_state", "aborted")

    def __init__(
        self,
        parents: Sequence[Sequence[int]],
        children: Sequence[Sequence[int]],
        states: Sequence[NodeState] | None = None,
    ) -> None:
        """Start a fresh execution, or resume one from stored ``states``.

        When resuming, a PENDING or READY job below a FAILED or ABORTED one is ABORTED
        at once (the store may have been written between a failure and its
        consequences); those jobs are listed in ``aborted`` so the engine can record
        them. A READY job stays READY and is returned by the first ``take_ready``.
        """
        self._parents = parents
        self._children = children
        #: Jobs ABORTED while resuming from ``states`` (empty for a fresh execution).
        self.aborted: list[int] = []
        self._ready: list[int] = []
        self._missing = _lengths(parents)
        if states is None:
            self._state = bytearray(len(parents))
        else:
            self._state = _state_bytes(states, len(parents))
            self._discount_done_parents()
        self._counts = [self._state.count(value) for value in range(len(_STATES))]
        if states is not None:
            self._abort_below_blocked()
        self._release_initial()

    # -- queries --------------------------------------------------------------------------

    def state(self, job: int) -> NodeState:
        return _STATES[self._state[job]]

    def counts(self) -> dict[NodeState, int]:
        """How many jobs are in each state (maintained as states change: O(1))."""
        return {state: self._counts[state] for state in _STATES}

    def is_finished(self) -> bool:
        """True when no job is PENDING, READY or RUNNING: nothing more will happen."""
        counts = self._counts
        return counts[_PENDING] + counts[_READY] + counts[_RUNNING] == 0

    # -- events ---------------------------------------------------------------------------

    def take_ready(self) -> list[int]:
        """The jobs that became READY since the last call, now marked RUNNING."""
        state = self._state
        taken: list[int] = []
        for job in self._ready:
            if state[job] == _READY:  # may have failed, or be listed twice after a restart
                state[job] = _RUNNING
                taken.append(job)
        self._ready = []
        self._counts[_READY] -= len(taken)
        self._counts[_RUNNING] += len(taken)
        return taken

    def succeeded(self, job: int) -> None:
        """``job`` ended well: RUNNING -> DONE, and its children may become READY.

        Reporting the success of a DONE job again does nothing (events may repeat).
        """
        state = self._state
        current = state[job]
        if current == _DONE:
            return
        if current != _RUNNING:
            raise TrackerError(f"job #{job} cannot succeed: it is {_STATES[current].name}")
        self._move(job, _DONE)
        missing = self._missing
        ready = self._ready
        released = 0
        for child in self._children[job]:
            left = missing[child] - 1
            missing[child] = left
            if left == 0 and state[child] == _PENDING:
                state[child] = _READY
                ready.append(child)
                released += 1
        self._counts[_PENDING] -= released
        self._counts[_READY] += released

    def failed(self, job: int) -> list[int]:
        """``job`` failed (or was killed): RUNNING|READY -> FAILED.

        Every descendant that has not run is ABORTED; they are returned so the engine
        can record them. Reporting the failure of a FAILED job again returns [].
        """
        current = self._state[job]
        if current == _FAILED:
            return []
        if current not in (_RUNNING, _READY):
            raise TrackerError(f"job #{job} cannot fail: it is {_STATES[current].name}")
        self._move(job, _FAILED)
        return self._abort_descendants([job])

    def restart(self, jobs: Iterable[int]) -> list[int]:
        """Bring back the FAILED / ABORTED / PENDING ``jobs`` and their ABORTED descendants.

        See the module docstring for the rule; other jobs of ``jobs`` are ignored.
        Returns the jobs that left FAILED or ABORTED (now PENDING or READY), so the
        engine can record them as not run yet.
        """
        state = self._state
        reset = [job for job in dict.fromkeys(jobs) if state[job] in (_FAILED, _ABORTED, _PENDING)]
        was_pending = {job for job in reset if state[job] == _PENDING}
        for job in reset:
            self._move(job, _PENDING)
        reset.extend(self._aborted_descendants(reset))
        parents = self._parents
        missing = self._missing
        still_blocked: list[int] = []
        for job in reset:
            its_parents = parents[job]
            missing[job] = sum(1 for parent in its_parents if state[parent] != _DONE)
            if any(state[parent] in _BLOCKING for parent in its_parents):
                still_blocked.append(job)
        for job in still_blocked:
            if state[job] == _PENDING:
                self._move(job, _ABORTED)
        self._abort_descendants(still_blocked)
        released = [job for job in reset if state[job] == _PENDING and missing[job] == 0]
        for job in released:
            state[job] = _READY
        self._counts[_PENDING] -= len(released)
        self._counts[_READY] += len(released)
        self._ready.extend(released)
        return [job for job in reset if state[job] in _NOT_RUN and job not in was_pending]

    # -- internals ------------------------------------------------------------------------

    def _move(self, job: int, target: int) -> None:
        counts = self._counts
        counts[self._state[job]] -= 1
        counts[target] += 1
        self._state[job] = target

    def _abort_descendants(self, sources: list[int]) -> list[int]:
        """ABORT every PENDING / READY job below ``sources``; return them.

        Only not-run jobs are walked through: below a job that has not run, nothing
        has run either (a job runs only after its parents are DONE).
        """
        state = self._state
        children = self._children
        counts = self._counts
        aborted: list[int] = []
        stack = list(sources)
        while stack:
            for child in children[stack.pop()]:
                current = state[child]
                if current in _NOT_RUN:
                    counts[current] -= 1
                    state[child] = _ABORTED
                    aborted.append(child)
                    stack.append(child)
        counts[_ABORTED] += len(aborted)
        return aborted

    def _aborted_descendants(self, sources: list[int]) -> list[int]:
        """The ABORTED jobs reachable from ``sources`` through ABORTED jobs, now PENDING."""
        state = self._state
        children = self._children
        found: list[int] = []
        stack = list(sources)
        while stack:
            for child in children[stack.pop()]:
                if state[child] == _ABORTED:
                    self._move(child, _PENDING)
                    found.append(child)
                    stack.append(child)
        return found

    def _discount_done_parents(self) -> None:
        """Resuming: each DONE job no longer counts as missing for its children."""
        missing = self._missing
        children = self._children
        for job in _positions(self._state, _DONE):
            for child in children[job]:
                missing[child] -= 1

    def _abort_below_blocked(self) -> None:
        state = self._state
        blocked = [*_positions(state, _FAILED), *_positions(state, _ABORTED)]
        self.aborted = self._abort_descendants(blocked)

    def _release_initial(self) -> None:
        """Queue every READY job and make READY every PENDING job with no missing parent.

        The scans run in C (``compress`` over ``map``): this is the one O(jobs) step.
        """
        state = self._state
        ready = self._ready
        ready.extend(_positions(state, _READY))
        no_parent_left = compress(range(len(state)), map((0).__eq__, self._missing))
        released = [job for job in no_parent_left if state[job] == _PENDING]
        for job in released:
            state[job] = _READY
        ready.extend(released)
        ready.sort()
        self._counts[_PENDING] -= len(released)
        self._counts[_READY] += len(released)


def _lengths(lists: Sequence[Sequence[int]]) -> list[int]:
    """How many entries each list has; an ``Adjacency`` knows without a slice per job."""
    if isinstance(lists, Adjacency):
        return lists.lengths()
    return list(map(len, lists))


def _state_bytes(states: Sequence[NodeState], size: int) -> bytearray:
    """``states`` as one byte per job, refusing a wrong length or an unknown value."""
    if len(states) != size:
        raise TrackerError(f"{len(states)} states for {size} jobs")
    try:
        packed = bytearray(map(int, states))
    except (TypeError, ValueError) as error:
        raise TrackerError(f"states must be NodeState values: {error}") from None
    if packed and max(packed) >= len(_STATES):
        raise TrackerError(f"unknown state {max(packed)} (states are 0 to {len(_STATES) - 1})")
    return packed


def _positions(state: bytearray, value: int) -> Iterator[int]:
    """Indices of the jobs in state ``value``, found by ``bytearray.find`` (C speed)."""
    position = state.find(value)
    while position != -1:
        yield position
        position = state.find(value, position + 1)
