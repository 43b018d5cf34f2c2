"""WorkflowModel: one workflow as the monitor shows it, kept current by the change feed.

Built once from the submitted workflow (names, groups, dependencies: they never change)
and the jobs' states; then only changed jobs are applied. Pages ask it for a page of the
job table, the group tree with counts per group, the DAG view and the timeline, so a
100,000-job workflow is never sent whole to a browser.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from swf_domain.model import Workflow

from .shape import TreeNode, WorkflowShape
from .source import JobFacts, JobQuery, MonitorSource, job_row

#: One clock for every model's version: a model read again (evicted, then reloaded) never
#: goes back to a version a page has already shown, so a page can drop older answers.
_VERSIONS = itertools.count(1)

#: Statuses a job ends in.
FINISHED = frozenset({"done", "failed"})
#: Statuses counted as "in the queue" (submitted, not started).
QUEUED = frozenset(
    {"submission_pending", "queued_active", "system_on_hold", "user_on_hold", "undetermined"}
)
#: Sort keys of the job table -> how to read them from (index, facts).
SORT_KEYS = ("index", "name", "status", "started", "ended", "duration")
#: Jobs of a group listed in the tree; larger groups point to the job table instead.
TREE_JOBS_LIMIT = 200
#: Jobs listed in the whole tree (a thousand groups of 100 would be 100,000 lines).
TREE_JOBS_BUDGET = 2000


@dataclass(slots=True)
class GroupNode:
    """A group of the tree: its direct jobs (indices) and child groups (node ids)."""

    node_id: int
    name: str
    parent: int | None
    groups: list[int] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    size: int = 0


class WorkflowModel:
    """A workflow's static shape plus its jobs' current facts. Thread-safe."""

    def __init__(
        self, workflow_id: int, shape: WorkflowShape, read_workflow: Callable[[], Workflow]
    ) -> None:
        self.workflow_id = workflow_id
        self.name = shape.name
        #: Reads the full workflow, for the job page's details and the report only.
        self._read_workflow = read_workflow
        self.ids = shape.job_ids
        self.names = shape.names
        self.slots = shape.slots
        self.index_of = {job_id: i for i, job_id in enumerate(self.ids) if job_id is not None}
        self.parents, self.children = shape.parents, shape.children
        self.groups: list[GroupNode] = []
        #: For each job index, the node ids of the groups holding it (innermost last).
        self.job_groups: list[tuple[int, ...]] = [()] * len(self.ids)
        self._build_tree(shape.root)
        self.facts: list[JobFacts | None] = [None] * len(self.ids)
        self.counts: Counter[str] = Counter()
        self.status: str | None = None
        #: First start and last end seen (kept as jobs change: no scan of every job).
        self.first_started: float | None = None
        self.last_ended: float | None = None
        self.since: Any = None
        self.version = next(_VERSIONS)
        self.lock = threading.RLock()
        #: Held while the change feed is read for this model (one reader at a time).
        self.refresh_lock = threading.Lock()

    # -- static shape -----------------------------------------------------------------
    @functools.cached_property
    def workflow(self) -> Workflow:
        """The full workflow (jobs' commands, env, parameter links), read on first need:
        the tree, graph, plots and job table never need it."""
        return self._read_workflow()

    def _build_tree(self, elements: list[TreeNode] | None) -> None:
        root = GroupNode(0, self.name or "workflow", None)
        self.groups.append(root)
        members: list[TreeNode] = list(range(len(self.ids))) if elements is None else elements
        stack: list[tuple[GroupNode, list[TreeNode], tuple[int, ...]]] = [(root, members, (0,))]
        while stack:
            node, members, path = stack.pop()
            for element in members:
                if isinstance(element, tuple):
                    child = GroupNode(len(self.groups), element[0], node.node_id)
                    self.groups.append(child)
                    node.groups.append(child.node_id)
                    stack.append((child, element[1], (*path, child.node_id)))
                else:
                    node.jobs.append(element)
                    self.job_groups[element] = path
        unplaced = [i for i, path in enumerate(self.job_groups) if not path]
        root.jobs.extend(unplaced)
        for i in unplaced:
            self.job_groups[i] = (0,)
        # Per distinct path (a group's jobs share one tuple), not per job: C-speed counting.
        for path, count in Counter(self.job_groups).items():
            for node_id in path:
                self.groups[node_id].size += count

    # -- dynamic state ----------------------------------------------------------------
    def apply(self, facts: Sequence[JobFacts], status: str | None) -> list[int]:
        """Merge changed jobs in; the indices of those whose facts changed."""
        if self.since is None and not any(self.facts):
            return self._apply_first(facts, status)
        changed = []
        with self.lock:
            for fact in facts:
                index = self.index_of.get(fact.job_id)
                if index is None:
                    continue
                old = self.facts[index]
                if old == fact:
                    continue
                self._recount(index, old.status if old else None, fact.status)
                self._span(fact)
                self.facts[index] = fact
                changed.append(index)
            if changed or status != self.status:
                self.status = status
                self.version = next(_VERSIONS)
        return changed

    def _apply_first(self, facts: Sequence[JobFacts], status: str | None) -> list[int]:
        """The first read (every job): counted per group path and status at once, not job
        by job through each group (a third of a 100,000-job workflow's read)."""
        index_of = self.index_of
        with self.lock:
            for fact in facts:
                index = index_of.get(fact.job_id)
                if index is not None:
                    self.facts[index] = fact
            changed = [i for i, fact in enumerate(self.facts) if fact is not None]
            paths = self.job_groups
            tally = Counter((paths[i], self.facts[i].status) for i in changed)  # type: ignore[union-attr]
            for (path, job_status), count in tally.items():
                self.counts[job_status] += count
                for node_id in path:
                    self.groups[node_id].counts[job_status] += count
            started = [f.started for f in facts if f.started is not None]
            ended = [f.ended for f in facts if f.ended is not None]
            self.first_started = min(started, default=None)
            self.last_ended = max(ended, default=None)
            self.status = status
            self.version = next(_VERSIONS)
        return changed

    def _span(self, fact: JobFacts) -> None:
        if fact.started is not None and (
            self.first_started is None or fact.started < self.first_started
        ):
            self.first_started = fact.started
        if fact.ended is not None and (self.last_ended is None or fact.ended > self.last_ended):
            self.last_ended = fact.ended

    def _recount(self, index: int, old: str | None, new: str) -> None:
        if old == new:
            return
        groups = self.groups
        if old is not None:
            self.counts[old] -= 1
            for node_id in self.job_groups[index]:
                groups[node_id].counts[old] -= 1
        self.counts[new] += 1
        for node_id in self.job_groups[index]:
            groups[node_id].counts[new] += 1

    def status_of(self, index: int) -> str:
        fact = self.facts[index]
        return fact.status if fact is not None else "not_submitted"

    # -- views ------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        with self.lock:
            counts = {status: n for status, n in self.counts.items() if n}
            return {
                "id": self.workflow_id,
                "name": self.name,
                "status": self.status,
                "total": len(self.ids),
                "counts": counts,
                "finished": counts.get("done", 0) + counts.get("failed", 0),
                "started": self.first_started,
                "ended": self.last_ended if self.status == "workflow_done" else None,
                "version": self.version,
            }

    def job_row(self, index: int) -> dict[str, Any]:
        fact = self.facts[index]
        job_id = self.ids[index] or 0
        group = self.groups[self.job_groups[index][-1]].name
        return job_row(fact or JobFacts(job_id, "not_submitted"), self.names[index], index, group)

    def query(self, query: JobQuery) -> dict[str, Any]:
        """One page of the job table, filtered and sorted on the server."""
        with self.lock:
            indices = self._matching(query)
            if query.sort != "index" or query.descending:
                indices.sort(key=self._sort_key(query.sort), reverse=query.descending)
            page = indices[query.offset : query.offset + max(0, min(query.limit, 1000))]
            return {
                "total": len(indices),
                "offset": query.offset,
                "rows": [self.job_row(i) for i in page],
                "version": self.version,
            }

    def _matching(self, query: JobQuery) -> list[int]:
        if query.group is not None and 0 <= query.group < len(self.groups):
            indices = self.group_jobs(query.group)
        else:
            indices = list(range(len(self.ids)))
        if query.statuses:
            wanted, status_of = query.statuses, self.status_of
            indices = [i for i in indices if status_of(i) in wanted]
        if query.text:
            text, names = query.text.lower(), self.names
            indices = [i for i in indices if text in names[i].lower()]
        return indices

    def _sort_key(self, sort: str) -> Any:
        facts, names = self.facts, self.names
        if sort == "name":
            return lambda i: names[i]
        if sort == "status":
            return self.status_of
        if sort in ("started", "ended", "submitted"):
            return lambda i: getattr(facts[i], sort, None) or 0.0
        if sort == "duration":
            return lambda i: _duration(facts[i]) or 0.0
        return lambda i: i

    def group_jobs(self, node_id: int) -> list[int]:
        """Every job index under group ``node_id`` (sub-groups included), in order."""
        found: list[int] = []
        stack = [node_id]
        while stack:
            node = self.groups[stack.pop()]
            found.extend(node.jobs)
            stack.extend(node.groups)
        found.sort()
        return found

    def tree(self) -> dict[str, Any]:
        """The group tree with counts per group; jobs listed for small groups only,
        outer groups first, up to TREE_JOBS_BUDGET in all."""
        with self.lock:
            return self._node(0, [TREE_JOBS_BUDGET])

    def _node(self, node_id: int, budget: list[int]) -> dict[str, Any]:
        node = self.groups[node_id]
        listed = len(node.jobs) <= min(TREE_JOBS_LIMIT, budget[0])
        if listed:
            budget[0] -= len(node.jobs)
        entry: dict[str, Any] = {
            "id": node_id,
            "name": node.name,
            "size": node.size,
            "counts": {status: n for status, n in node.counts.items() if n},
            "job_count": len(node.jobs),
        }
        entry["groups"] = [self._node(child, budget) for child in node.groups]
        if listed:
            entry["jobs"] = [
                {"id": self.ids[i], "name": self.names[i], "status": self.status_of(i)}
                for i in node.jobs
            ]
        return entry

    def job_ids(self, job_ids: Iterable[int], groups: Iterable[int]) -> list[int]:
        """The ids of the given jobs plus every job of the given groups (each once)."""
        wanted = {job_id for job_id in job_ids if job_id in self.index_of}
        for node_id in groups:
            if 0 <= node_id < len(self.groups):
                wanted.update(self.ids[i] or 0 for i in self.group_jobs(node_id))
        wanted.discard(0)
        return sorted(wanted)

    def changed_rows(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        with self.lock:
            return [self.job_row(i) for i in indices]


def _duration(fact: JobFacts | None) -> float | None:
    if fact is None or fact.started is None:
        return None
    if fact.ended is None:
        return None
    return max(0.0, fact.ended - fact.started)


def duration(fact: JobFacts | None) -> float | None:
    """Seconds a job ran (None until it ended)."""
    return _duration(fact)


def load_model(source: MonitorSource, workflow_id: int) -> WorkflowModel:
    """The workflow's model from its shape; the full workflow read only if asked."""
    return WorkflowModel(
        workflow_id, source.shape(workflow_id), functools.partial(source.workflow, workflow_id)
    )
