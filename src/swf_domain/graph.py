"""A workflow compiled to integer adjacency lists, its topological order and its cycles.

Everything downstream (validation, the ready-set tracker, the store's bulk insert) works
on job *indices*, never on job objects: a million-job workflow must fit in memory and be
walked in seconds, so there is one Python list per job and each edge is one int in it.
Every walk is iterative: recursion would hit Python's limit on a long chain of jobs.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate, chain, compress, repeat
from operator import itemgetter, sub
from typing import Any, overload

from .errors import WorkflowError
from .gc_pause import gc_paused
from .job_rules import shown
from .model import Job, Workflow


@dataclass(slots=True)
class CompiledWorkflow:
    """The DAG of a workflow, by job index (position in ``workflow.jobs``)."""

    #: ``workflow.jobs``, same order; a job's index is its position here.
    jobs: list[Job]
    #: job -> index, by identity (``Job`` compares by identity).
    index: dict[Job, int]
    #: ``parents[i]``: indices of the parents of job ``i``, each once, in dependency order.
    parents: Sequence[Sequence[int]]
    #: ``children[i]``: indices of the children of job ``i``, each once.
    children: Sequence[Sequence[int]]

    def compacted(self, keep_index: bool) -> CompiledWorkflow:
        """The same DAG held the way an engine keeps it for the workflow's whole run.

        A list per job costs ~120 bytes plus an int object per entry (~210 bytes a job
        for a fan-out, both directions); ``Adjacency`` costs 4 bytes per edge and 8 per
        job. The job -> index map (~85 bytes a job) is only kept when ``keep_index``
        (the engine needs it for param links alone).
        """
        return replace(
            self,
            index=self.index if keep_index else {},
            parents=Adjacency.of(self.parents),
            children=Adjacency.of(self.children),
        )


class Adjacency(Sequence[Sequence[int]]):
    """Lists of job indices packed in two flat arrays (compressed sparse rows).

    Read-only: ``adjacency[i]`` is a new small array of job ``i``'s entries. Built once
    a workflow is valid, for memory that lasts as long as the workflow runs.
    """

    __slots__ = ("_offsets", "_targets")

    def __init__(self, offsets: array[int], targets: array[int]) -> None:
        self._offsets = offsets
        self._targets = targets

    @classmethod
    def of(cls, lists: Sequence[Sequence[int]]) -> Adjacency:
        """``lists`` packed (an Adjacency already is); the loops run in C."""
        if isinstance(lists, Adjacency):
            return lists
        offsets = array("q", accumulate(map(len, lists), initial=0))
        return cls(offsets, array("i", chain.from_iterable(lists)))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int) -> Sequence[int]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Sequence[int]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        offsets = self._offsets
        if index < 0:
            index += len(self)
        return self._targets[offsets[index] : offsets[index + 1]]

    def __iter__(self) -> Iterator[Sequence[int]]:
        targets, offsets = self._targets, self._offsets
        return map(targets.__getitem__, map(slice, offsets, offsets[1:]))

    def lengths(self) -> list[int]:
        """How many entries each job has, computed in C (no array per job)."""
        offsets = self._offsets
        return list(map(sub, offsets[1:], offsets))

    def nbytes(self) -> int:
        """The memory its two arrays take."""
        return sum(part.itemsize * len(part) for part in (self._offsets, self._targets))


#: Receives one problem found while compiling; compiling goes on with the next element.
ProblemSink = Callable[[str, str], None]


def job_name(compiled_jobs: list[Job], index: int) -> str:
    """``'name'`` of job ``index`` (its position when it has no name), for messages."""
    name = compiled_jobs[index].name
    return repr(name) if name is not None else f"<unnamed job at jobs[{index}]>"


def describe_job(job: object) -> str:
    """``job 'name'`` for a job outside any index, whatever it is, for messages."""
    if isinstance(job, Job):
        return f"job {shown(job.name)}" if job.name is not None else "job <unnamed>"
    return f"{type(job).__name__} {shown(job)}"


def compile_workflow(workflow: Workflow) -> CompiledWorkflow:
    """Index ``workflow``'s jobs and dependencies.

    Raises WorkflowError naming the culprit for a job listed twice, an element of
    ``jobs`` that is not a Job, or a dependency whose endpoint is not in ``jobs``. Cycles
    are not looked for here (see ``topological_order``).
    """

    def fail(culprit: str, message: str) -> None:
        raise WorkflowError(message)

    return compile_collecting(workflow, fail)


def compile_collecting(workflow: Workflow, report: ProblemSink) -> CompiledWorkflow:
    """Compile ``workflow``, reporting each bad job or dependency and skipping it.

    ``report(culprit, message)`` may raise to stop at the first problem. A skipped job
    keeps its position in ``jobs`` but has no edges; a skipped dependency is left out.

    A valid workflow goes through a fast path whose per-job and per-edge loops run in C
    (``map``, ``zip``, ``dict``); the element-by-element path with its messages only runs
    when the fast one saw something wrong. The garbage collector is paused meanwhile:
    the million lists built here hold only ints and cannot form cycles, yet each batch
    of them would make the collector walk every object of the workflow again.
    """
    with gc_paused():
        jobs = _as_list(workflow.jobs, "workflow.jobs", report)
        dependencies = _as_list(workflow.dependencies or [], "workflow.dependencies", report)
        index = _index_jobs_fast(jobs)
        if index is None:
            index = _index_jobs(jobs, report)
        edges = _edges_fast(dependencies, index)
        if edges is None:
            edges = _edges(dependencies, index, report)
        parents: list[list[int]] = [[] for _ in range(len(jobs))]
        children: list[list[int]] = [[] for _ in range(len(jobs))]
        for parent, child in zip(*edges, strict=True):
            parents[child].append(parent)
            children[parent].append(child)
        _deduplicate(parents)
        _deduplicate(children)
        return CompiledWorkflow(jobs=jobs, index=index, parents=parents, children=children)


def _as_list(value: object, field: str, report: ProblemSink) -> list[Any]:
    """``value`` as a list; anything else than a list or tuple is reported (and empty)."""
    if isinstance(value, list | tuple):
        return list(value)
    report(field, f"{field} must be a list, not {type(value).__name__}")
    return []


def _index_jobs_fast(jobs: list[Job]) -> dict[Job, int] | None:
    """job -> position, or None when some element is not a Job or is listed twice."""
    if not all(map(isinstance, jobs, repeat(Job))):
        return None
    index = dict(zip(jobs, range(len(jobs)), strict=True))
    return index if len(index) == len(jobs) else None


def _index_jobs(jobs: list[Job], report: ProblemSink) -> dict[Job, int]:
    """job -> first position, reporting non-jobs and jobs listed twice."""
    index: dict[Job, int] = {}
    for position, job in enumerate(jobs):
        if not isinstance(job, Job):
            report(
                f"workflow.jobs[{position}]",
                f"workflow.jobs[{position}] is a {type(job).__name__}, not a Job: "
                f"only jobs may be listed in a workflow's jobs",
            )
            continue
        first = index.setdefault(job, position)
        if first != position:
            report(
                describe_job(job),
                f"{describe_job(job)} is listed twice in workflow.jobs "
                f"(positions {first} and {position})",
            )
    return index


#: Parallel lists of (parent index, child index), one entry per dependency kept.
Edges = tuple[list[int], list[int]]


def _edges_fast(dependencies: list[tuple[Any, Any]], index: dict[Job, int]) -> Edges | None:
    """Every dependency as indices, or None when one is malformed or names an unknown job."""
    lookup = index.get
    try:
        if not all(map(isinstance, dependencies, repeat(tuple | list))):
            return None
        if dependencies and set(map(len, dependencies)) != {2}:
            return None
        sources = list(map(lookup, map(itemgetter(0), dependencies)))
        targets = list(map(lookup, map(itemgetter(1), dependencies)))
    except TypeError:  # an unhashable endpoint: the slow path names it
        return None
    if None in sources or None in targets:
        return None
    return sources, targets  # type: ignore[return-value]  # no None left


def _edges(
    dependencies: list[tuple[Any, Any]], index: dict[Job, int], report: ProblemSink
) -> Edges:
    """Every well-formed dependency between known jobs as indices; report the others."""
    sources: list[int] = []
    targets: list[int] = []
    for number, dependency in enumerate(dependencies, start=1):
        try:
            source, target = dependency
        except (TypeError, ValueError):
            report(
                f"dependency #{number}",
                f"dependency #{number} is {shown(dependency)}, not a (parent, child) pair",
            )
            continue
        parent = index.get(source) if isinstance(source, Job) else None
        child = index.get(target) if isinstance(target, Job) else None
        if parent is not None and child is not None:
            sources.append(parent)
            targets.append(child)
            continue
        unknown = [end for end, found in ((source, parent), (target, child)) if found is None]
        what = " and ".join(describe_job(end) for end in unknown)
        verb = "is" if len(unknown) == 1 else "are"
        report(
            f"dependency #{number}",
            f"dependency #{number} ({describe_job(source)} -> {describe_job(target)}): "
            f"{what} {verb} not in workflow.jobs",
        )
    return sources, targets


def _deduplicate(adjacency: list[list[int]]) -> None:
    """Drop repeated entries of each list in place, keeping first occurrences in order.

    Only lists of two or more entries are looked at (found in C), with one set each:
    O(edges), and no per-edge object survives the call.
    """
    several = compress(range(len(adjacency)), map((1).__lt__, map(len, adjacency)))
    for position in several:
        entries = adjacency[position]
        if len(set(entries)) != len(entries):
            adjacency[position] = list(dict.fromkeys(entries))


def topological_order(compiled: CompiledWorkflow) -> list[int]:
    """Job indices, each after all its parents (Kahn's algorithm).

    Deterministic: the jobs without parents in listing order, then each job right after
    its last parent is placed (first in, first out).

    Raises WorkflowError naming the jobs of one cycle, in order, when there is one.
    """
    order = _kahn(compiled.parents, compiled.children)
    if len(order) != len(compiled.jobs):
        cycle = _cycle_outside(compiled.parents, order)
        raise WorkflowError(cycle_message(compiled.jobs, cycle))
    return order


def find_cycle(compiled: CompiledWorkflow) -> list[int] | None:
    """One cycle of the DAG, or None: ``cycle[k] -> cycle[k + 1]`` are edges, and so is
    ``cycle[-1] -> cycle[0]`` (the edge that closes it). ``cycle[0]`` is the cycle's job
    listed first in ``workflow.jobs``, so the answer does not depend on the walk.
    """
    order = _kahn(compiled.parents, compiled.children)
    if len(order) == len(compiled.jobs):
        return None
    return _cycle_outside(compiled.parents, order)


def find_cycles(compiled: CompiledWorkflow) -> list[list[int]]:
    """One cycle per knot of the graph (strongly connected component), by first job.

    Two cycles sharing a job are in the same knot and only one of them is named: the
    user breaking it will see the other on the next try, while cycles in different
    knots are all named at once. Read like ``find_cycle``'s. O(jobs + edges) overall.
    """
    parents, children = compiled.parents, compiled.children
    blocked = bytearray(b"\x01") * len(parents)
    for done in _kahn(parents, children):
        blocked[done] = 0
    cycles: list[list[int]] = []
    for component in _knots(children, blocked):
        inside = bytearray(len(parents))
        for node in component:
            inside[node] = 1
        cycles.append(_walk_back_to_cycle(parents, inside, min(component)))
    cycles.sort()
    return cycles


def _knots(children: Sequence[Sequence[int]], blocked: bytearray) -> list[list[int]]:
    """The strongly connected components among ``blocked`` jobs that hold a cycle.

    Tarjan's algorithm with an explicit stack of (job, next child position) instead of
    recursion. A component holds a cycle when it has two jobs or more, or one job that
    depends on itself.
    """
    size = len(children)
    number = [0] * size  # discovery rank, 0 while not yet visited
    low = [0] * size
    on_stack = bytearray(size)
    pending: list[int] = []
    knots: list[list[int]] = []
    counter = 0
    for root in range(size):
        if not blocked[root] or number[root]:
            continue
        counter += 1
        number[root] = low[root] = counter
        pending.append(root)
        on_stack[root] = 1
        work = [(root, 0)]
        while work:
            node, position = work[-1]
            kids = children[node]
            descended = False
            while position < len(kids):
                child = kids[position]
                position += 1
                if not blocked[child]:
                    continue
                if not number[child]:
                    work[-1] = (node, position)
                    counter += 1
                    number[child] = low[child] = counter
                    pending.append(child)
                    on_stack[child] = 1
                    work.append((child, 0))
                    descended = True
                    break
                if on_stack[child] and number[child] < low[node]:
                    low[node] = number[child]
            if descended:
                continue
            work.pop()
            if work and low[node] < low[work[-1][0]]:
                low[work[-1][0]] = low[node]
            if low[node] == number[node]:
                component: list[int] = []
                while True:
                    member = pending.pop()
                    on_stack[member] = 0
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in children[node]:
                    knots.append(component)
    return knots


def cycle_message(jobs: list[Job], cycle: list[int]) -> str:
    """``cycle: 'a' -> 'b' -> 'c' -> 'a'``, the same job named first and last."""
    names = [job_name(jobs, node) for node in cycle]
    names.append(names[0])
    return "cycle: " + " -> ".join(names)


def _kahn(parents: Sequence[Sequence[int]], children: Sequence[Sequence[int]]) -> list[int]:
    """Every job that is not on or below a cycle, parents first.

    First in, first out from the parentless jobs in listing order, so the order is
    deterministic and close to the user's listing order.
    """
    missing = [len(its_parents) for its_parents in parents]
    order = [node for node, count in enumerate(missing) if count == 0]
    append = order.append
    position = 0
    while position < len(order):
        node = order[position]
        position += 1
        for child in children[node]:
            left = missing[child] - 1
            missing[child] = left
            if left == 0:
                append(child)
    return order


def _cycle_outside(parents: Sequence[Sequence[int]], ordered: list[int]) -> list[int]:
    """One cycle among the jobs not in ``ordered`` (there must be some)."""
    blocked = bytearray(b"\x01") * len(parents)
    for node in ordered:
        blocked[node] = 0
    return _walk_back_to_cycle(parents, blocked, blocked.find(1))


def _walk_back_to_cycle(
    parents: Sequence[Sequence[int]], blocked: bytearray, start: int
) -> list[int]:
    """Follow blocked parents from ``start`` until a job repeats: that loop is a cycle.

    Every blocked job has a blocked parent (otherwise Kahn's algorithm would have
    released it), so the walk never gets stuck and ends within ``len(parents)`` steps.
    """
    seen_at: dict[int, int] = {}
    path: list[int] = []
    node = start
    while node not in seen_at:
        seen_at[node] = len(path)
        path.append(node)
        node = next(parent for parent in parents[node] if blocked[parent])
    loop = path[seen_at[node] :]
    loop.reverse()  # the walk went child -> parent; a cycle reads parent -> child
    first = loop.index(min(loop))
    return loop[first:] + loop[:first]
