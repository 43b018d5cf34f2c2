"""The monitor's view of a workflow: counts per group, paging, the DAG view, time series."""

from __future__ import annotations

from swf_domain import serialization
from swf_domain.model import Group, Job, Workflow
from swf_entry.monitor.graph_view import NODES_LIMIT, graph, layout
from swf_entry.monitor.model import JobQuery, WorkflowModel
from swf_entry.monitor.report import _lanes, _megabytes, _seconds
from swf_entry.monitor.shape import shape_from_document
from swf_entry.monitor.source import JobFacts
from swf_entry.monitor.timeline import series


def model_of(workflow: Workflow) -> WorkflowModel:
    """Built as the monitor builds it: the shape read from the stored document's dicts."""
    for job_id, job in enumerate(workflow.jobs, start=1):
        job.job_id = job_id
    document = serialization.workflow_to_dict(workflow)
    shape = shape_from_document(document, [job.job_id or 0 for job in workflow.jobs])
    assert shape is not None
    return WorkflowModel(7, shape, lambda: workflow)


def fan(count: int, group_size: int = 10) -> WorkflowModel:
    first = Job(["true"], name="first")
    middle = [Job(["true"], name=f"m{i}") for i in range(count)]
    last = Job(["true"], name="last")
    groups = [
        Group(middle[i : i + group_size], name=f"g{i // group_size}")
        for i in range(0, count, group_size)
    ]
    return model_of(
        Workflow(
            jobs=[first, *middle, last],
            dependencies=[(first, m) for m in middle] + [(m, last) for m in middle],
            root_group=[first, *groups, last],
            name="fan",
        )
    )


def test_counts_per_group_follow_each_change_once() -> None:
    model = fan(20)
    changed = model.apply([JobFacts(i, "not_submitted") for i in range(1, 23)], "w")
    assert len(changed) == 22
    assert model.apply([JobFacts(3, "not_submitted")], "w") == []  # same facts
    model.apply([JobFacts(3, "running"), JobFacts(4, "done")], "w")
    model.apply([JobFacts(3, "failed")], "w")
    group = model.groups[1]
    assert group.name == "g0" and group.size == 10
    assert +group.counts == {"not_submitted": 8, "failed": 1, "done": 1}
    assert +model.groups[0].counts == {"not_submitted": 20, "failed": 1, "done": 1}
    assert model.summary()["finished"] == 2


def test_query_pages_filters_and_sorts() -> None:
    model = fan(95)
    model.apply([JobFacts(i, "done", ended=float(100 - i)) for i in range(1, 98)], "w")
    page = model.query(JobQuery(offset=90, limit=20))
    assert page["total"] == 97 and [r["name"] for r in page["rows"]] == [
        "m89",
        "m90",
        "m91",
        "m92",
        "m93",
        "m94",
        "last",
    ]
    by_end = model.query(JobQuery(limit=2, sort="ended"))
    assert [r["name"] for r in by_end["rows"]] == ["last", "m94"]
    in_group = model.query(JobQuery(group=2, text="m1"))
    assert [r["name"] for r in in_group["rows"]] == [f"m1{i}" for i in range(10)]
    assert model.job_ids([1], [1]) == [1, *range(2, 12)]


def test_small_graph_shows_jobs_large_one_collapses_groups_then_layers() -> None:
    small = graph(fan(3), layout(fan(3)))
    assert small["mode"] == "jobs" and len(small["nodes"]) == 5
    assert sorted(node["layer"] for node in small["nodes"]) == [0, 1, 1, 1, 2]
    large = fan(NODES_LIMIT + 50)
    shape = layout(large)
    assert shape.mode == "groups" and len(shape.labels) == 2 + 35
    drawn = graph(large, shape)
    assert {node["layer"] for node in drawn["nodes"] if node["kind"] == "group"} == {1}
    flat = model_of(Workflow(jobs=[Job(["true"], name=f"j{i}") for i in range(NODES_LIMIT + 1)]))
    assert layout(flat).mode == "layers"


def test_series_counts_running_and_finished_jobs_over_time() -> None:
    facts = [
        JobFacts(1, "done", started=0.0, ended=10.0),
        JobFacts(2, "failed", started=5.0, ended=6.0),
        JobFacts(3, "running", started=8.0),
        None,
    ]
    sampled = series(facts, [1, 2, 4, 1], now=20.0, points=21)
    assert sampled["running"][5] == 2 and sampled["slots"][5] == 3
    assert sampled["running"][9] == 2 and sampled["slots"][9] == 5
    assert sampled["done"][-1] == 1 and sampled["failed"][-1] == 1 and sampled["running"][-1] == 1


def test_report_lanes_reuse_free_slots_and_units_parse() -> None:
    model = fan(3)
    model.apply(
        [
            JobFacts(2, "done", started=0.0, ended=5.0),
            JobFacts(3, "done", started=1.0, ended=2.0),
            JobFacts(4, "done", started=3.0, ended=4.0),
        ],
        "w",
    )
    lanes = {index: lane for index, lane, _s, _e in _lanes(model, now=10.0)}
    assert lanes == {1: 0, 2: 1, 3: 1}
    assert _seconds("01:02:03") == 3723 and _seconds("0.5") == 0.5
    assert _megabytes("2048kb") == 2.0 and _megabytes("1gb") == 1024.0


def nested() -> WorkflowModel:
    """22 jobs: groups in a group, a plain group, jobs at the top, one in no group."""
    jobs = [Job(["true"], name=f"j{i}") for i in range(22)]
    inner = [Group(jobs[i : i + 4], name=f"inner{i}") for i in range(0, 12, 4)]
    outer = Group([*inner, jobs[12]], name="outer")
    plain = Group(jobs[13:18], name="plain")
    return model_of(Workflow(jobs=jobs, root_group=[outer, plain, *jobs[18:21]], name="n"))


def test_the_first_read_counts_as_job_by_job_changes_would() -> None:
    """The first read (every job) is counted in bulk; it must equal the same facts
    applied as changes, nested groups and jobs outside any group included."""
    statuses = ["done", "failed", "running", "queued_active", "not_submitted"]
    facts = [
        JobFacts(
            i,
            statuses[i % 5],
            started=float(i) if i % 5 < 3 else None,
            ended=float(i + 1) if i % 5 < 2 else None,
        )
        for i in range(1, 23)
    ]
    bulk, stepwise = nested(), nested()
    stepwise.since = 0  # as after a first read: job by job from here
    assert sorted(bulk.apply(facts, "w")) == sorted(stepwise.apply(facts, "w"))
    assert bulk.summary() | {"version": 0} == stepwise.summary() | {"version": 0}
    assert bulk.tree() == stepwise.tree()
    assert [+g.counts for g in bulk.groups] == [+g.counts for g in stepwise.groups]
    assert [g.size for g in bulk.groups] == [g.size for g in stepwise.groups]
