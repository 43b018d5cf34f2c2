"""The DAG as the workflow page draws it: nodes in layers, edges, status colours.

Small workflows show every job. Large ones collapse each top-level group into one node
(with counts per status); when even that is too many nodes, the view is one node per
layer of the DAG (jobs at the same depth), which still shows the workflow's shape.
The layout (layers, order) never changes, so it is computed once per workflow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .model import WorkflowModel

#: Most nodes drawn one by one.
NODES_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Layout:
    """Which node each job belongs to, and the nodes' layers and edges."""

    mode: str  # "jobs" | "groups" | "layers"
    node_of: list[int]  # job index -> node
    labels: list[str]
    kinds: list[str]  # "job" | "group" | "layer"
    refs: list[int | None]  # job id, group node id or None
    layers: list[int]
    edges: list[tuple[int, int]]


def depths(parents: Sequence[Sequence[int]], children: Sequence[Sequence[int]]) -> list[int]:
    """Longest path from a root, per node (Kahn's order); [] if there is a cycle."""
    pending = [len(p) for p in parents]
    depth = [0] * len(parents)
    ready = [i for i, n in enumerate(pending) if n == 0]
    visited = 0
    while ready:
        node = ready.pop()
        visited += 1
        for child in children[node]:
            depth[child] = max(depth[child], depth[node] + 1)
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    return depth if visited == len(parents) else []


def layout(model: WorkflowModel) -> Layout:
    depth = depths(model.parents, model.children)
    count = len(model.ids)
    if count <= NODES_LIMIT:
        refs: list[int | None] = list(model.ids)
        return _collapsed(
            model, list(range(count)), list(model.names), ["job"] * count, refs, depth, "jobs"
        )
    root = model.groups[0]
    node_of = [0] * count
    labels: list[str] = []
    kinds: list[str] = []
    refs = []
    for index in root.jobs:
        node_of[index] = len(labels)
        labels.append(model.names[index])
        kinds.append("job")
        refs.append(model.ids[index])
    for group_id in root.groups:
        for index in model.group_jobs(group_id):
            node_of[index] = len(labels)
        labels.append(model.groups[group_id].name)
        kinds.append("group")
        refs.append(group_id)
    if len(labels) <= NODES_LIMIT:
        return _collapsed(model, node_of, labels, kinds, refs, depth, "groups")
    layer_count = max(depth) + 1 if depth else 0
    return _collapsed(
        model,
        depth,
        [f"depth {d}" for d in range(layer_count)],
        ["layer"] * layer_count,
        [None] * layer_count,
        depth,
        "layers",
    )


def _collapsed(
    model: WorkflowModel,
    node_of: list[int],
    labels: list[str],
    kinds: list[str],
    refs: list[int | None],
    depth: list[int],
    mode: str,
) -> Layout:
    """Edges between nodes (each once), a node's layer being its shallowest job's."""
    layers = [-1] * len(labels)
    for index, node in enumerate(node_of):
        if layers[node] < 0 or depth[index] < layers[node]:
            layers[node] = depth[index]
    edges: set[tuple[int, int]] = set()
    for index, kids in enumerate(model.children):
        source = node_of[index]
        for child in kids:
            target = node_of[child]
            if target != source:
                edges.add((source, target))
    if mode != "jobs":  # a group's layer: after every node that feeds it
        layers = _relayered(len(labels), edges, layers)
    return Layout(mode, node_of, labels, kinds, refs, layers, sorted(edges))


def _relayered(count: int, edges: set[tuple[int, int]], layers: list[int]) -> list[int]:
    parents: list[list[int]] = [[] for _ in range(count)]
    children: list[list[int]] = [[] for _ in range(count)]
    for source, target in edges:
        parents[target].append(source)
        children[source].append(target)
    # Collapsing can make a cycle (job -> group -> job): keep the job depths then.
    return depths(parents, children) or layers


def graph(model: WorkflowModel, shape: Layout) -> dict[str, Any]:
    """The drawable graph with each node's counts per status now."""
    counts: list[Counter[str]] = [Counter() for _ in shape.labels]
    with model.lock:
        for index, node in enumerate(shape.node_of):
            counts[node][model.status_of(index)] += 1
    nodes = [
        {
            "id": node,
            "label": shape.labels[node],
            "kind": shape.kinds[node],
            "ref": shape.refs[node],
            "layer": shape.layers[node],
            "counts": dict(counts[node]),
        }
        for node in range(len(shape.labels))
    ]
    return {"mode": shape.mode, "nodes": nodes, "edges": shape.edges, "jobs": len(model.ids)}
