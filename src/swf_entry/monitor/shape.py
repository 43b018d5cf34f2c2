"""WorkflowShape: what the monitor's views need of a submitted workflow, and no more.

The group tree, the graph and the plots need the jobs' ids, names and CPU slots, the
dependencies between jobs and the groups' nesting. Building full ``Job`` objects and the
compiled DAG for that was most of a 100,000-job workflow's read (bench/README.md, issue
15, fifth pass), so the shape is read straight from the stored document's dicts; a
document outside the plain form swf itself writes (hand-edited, legacy) goes through the
full reader instead, so every view stays the same. The job page's details (command, env,
parameter links) still need the full ``Workflow``: the model reads it on first need.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from swf_domain.gc_pause import gc_paused
from swf_domain.graph import compile_workflow
from swf_domain.model import Group, Job, Workflow

from .timeline import job_slots, slots_of

#: A node of the group tree: a job's index, or a group's (name, members).
TreeNode = int | tuple[str, list["TreeNode"]]


@dataclass(slots=True)
class WorkflowShape:
    """Names, ids, slots, edges and groups of a workflow's jobs (index = position)."""

    name: str | None
    job_ids: list[int | None]
    names: list[str]
    slots: list[int]
    parents: list[list[int]]
    children: list[list[int]]
    #: The root group's members; None: every job at the root.
    root: list[TreeNode] | None


class _NotPlain(Exception):
    """The document is not in the plain form read fast here: use the full reader."""


def shape_from_document(document: Mapping[str, Any], job_ids: list[int]) -> WorkflowShape | None:
    """The shape read from the document's dicts; None when it is not plain. The
    collector is paused: the lists built here hold ints only, yet each batch of them
    made it walk the whole decoded document again (two thirds of this read)."""
    try:
        with gc_paused():
            return _plain_shape(document, job_ids)
    except (_NotPlain, KeyError, TypeError, ValueError, AttributeError):
        return None


def _plain_shape(document: Mapping[str, Any], job_ids: list[int]) -> WorkflowShape:
    listed = document["jobs"]
    table = document["serialized_jobs"]
    if document.get("serialized_barriers") or len(table) != len(listed):
        raise _NotPlain
    raws = [table[str(ident)] for ident in listed]
    index_of = {ident: i for i, ident in enumerate(listed)}
    if len(index_of) != len(listed):
        raise _NotPlain
    parents, children = _edges(document.get("dependencies") or [], index_of)
    ids: list[int | None] = list(job_ids[: len(listed)])
    ids += [None] * (len(listed) - len(ids))
    return WorkflowShape(
        document.get("name"),
        ids,
        [_job_name(raw, i) for i, raw in enumerate(raws)],
        [slots_of(raw.get("parallel_job_info")) for raw in raws],
        parents,
        children,
        _doc_tree(document, index_of),
    )


def _job_name(raw: Mapping[str, Any], index: int) -> str:
    """The name the full reader gives (soma names an unnamed job after argv[0])."""
    name = raw.get("name")
    if name is None and "name" not in raw:
        command = raw.get("command") or [None]
        name = command[0] if isinstance(command[0], str) else None
    if name is not None and type(name) is not str:
        raise _NotPlain
    return name if name is not None else f"job{index}"


def _edges(listed: list[Any], index_of: dict[Any, int]) -> tuple[list[list[int]], list[list[int]]]:
    parents: list[list[int]] = [[] for _ in index_of]
    children: list[list[int]] = [[] for _ in index_of]
    for tag, parent_id, child_id in listed:
        if tag != "<tuple>" or type(parent_id) is not int or type(child_id) is not int:
            raise _NotPlain
        parent, child = index_of[parent_id], index_of[child_id]
        children[parent].append(child)
        parents[child].append(parent)
    return _unique(parents), _unique(children)


def _unique(adjacency: list[list[int]]) -> list[list[int]]:
    """A dependency listed twice is one edge (as the compiled DAG has it), order kept."""
    return [
        entries
        if len(entries) < 2 or len(set(entries)) == len(entries)
        else list(dict.fromkeys(entries))
        for entries in adjacency
    ]


def _doc_tree(document: Mapping[str, Any], index_of: dict[Any, int]) -> list[TreeNode] | None:
    root = document.get("root_group")
    if root is None:
        return None
    groups = document.get("serialized_groups") or {}
    placed: set[int] = set()

    def members(idents: Iterable[Any], depth: int) -> list[TreeNode]:
        if depth > 500:
            raise _NotPlain
        found: list[TreeNode] = []
        for ident in idents:
            if ident in index_of:
                found.append(index_of[ident])
            elif str(ident) in groups and ident not in placed:
                placed.add(ident)  # a group listed twice: the full reader decides
                raw = groups[str(ident)]
                found.append((str(raw.get("name")), members(raw["elements"], depth + 1)))
            else:
                raise _NotPlain
        return found

    return members(root, 0)


def shape_from_workflow(workflow: Workflow) -> WorkflowShape:
    """The shape of a fully read workflow (documents not in the plain form)."""
    jobs = list(workflow.jobs)
    compiled = compile_workflow(workflow)
    index_of = {id(job): i for i, job in enumerate(jobs)}
    root = None if workflow.root_group is None else _tree(workflow.root_group, index_of)
    return WorkflowShape(
        workflow.name,
        [job.job_id for job in jobs],
        [str(job.name) if job.name is not None else f"job{i}" for i, job in enumerate(jobs)],
        [job_slots(job) for job in jobs],
        [list(p) for p in compiled.parents],
        [list(c) for c in compiled.children],
        root,
    )


def _tree(elements: Iterable[Job | Group], index_of: dict[int, int]) -> list[TreeNode]:
    found: list[TreeNode] = []
    for element in elements:
        if isinstance(element, Group):
            found.append((str(element.name), _tree(element.elements, index_of)))
        elif id(element) in index_of:
            found.append(index_of[id(element)])
    return found
