"""The engine on the fake scheduler and in-memory store: order, failures, limits, outputs."""

from __future__ import annotations

import json
from typing import Any

from swf_app.ports import Capacity, CapacityUnit, LaunchRequest, SchedulerEvent
from swf_domain.custom_jobs import ListCatJob
from swf_domain.model import BarrierJob, Group, Job, TemporaryPath, Workflow
from swf_domain.status import JobStatus
from tests.app_fakes import EngineHarness, FakeOutcome


def job(name: str, **kwargs: Any) -> Job:
    return Job(["run", name], name=name, **kwargs)


def started_names(harness: EngineHarness) -> list[str]:
    return [request.argv[1] for request in harness.scheduler.submitted]


def fail_named(*names: str) -> Any:
    def behaviour(request: LaunchRequest) -> FakeOutcome:
        return FakeOutcome(exit_value=1 if request.argv[1] in names else 0)

    return behaviour


# -- ordering ---------------------------------------------------------------------------


def test_chain_runs_in_order_with_dates_and_one_transaction_per_tick() -> None:
    a, b, c = job("a"), job("b"), job("c")
    with EngineHarness() as harness:
        wf_id = harness.submit(Workflow([a, b, c], dependencies=[(a, b), (b, c)]))
        harness.wait(wf_id)
        assert started_names(harness) == ["a", "b", "c"]
        assert harness.statuses(wf_id) == ["done"] * 3
        state = harness.states(wf_id)[1]
        assert state.submission_date is not None and state.ending_date is not None
        assert state.command == ["run", "b"]
        assert harness.store.apply_count <= harness.engine.ticks
        assert harness.service.workflow_status(wf_id) == "workflow_done"


def test_fan_out_fan_in_keeps_within_slots() -> None:
    root, join = job("root"), job("join")
    middle = [job(f"m{i}") for i in range(30)]
    deps = [(root, m) for m in middle] + [(m, join) for m in middle]
    with EngineHarness(slots=4, behaviour=lambda r: FakeOutcome(duration=1.0)) as harness:
        wf_id = harness.submit(Workflow([root, *middle, join], dependencies=deps))
        for _ in range(40):
            harness.advance(1.0)
        harness.wait(wf_id)
        names = started_names(harness)
        assert names[0] == "root" and names[-1] == "join"
        assert sorted(names[1:-1]) == sorted(m.name for m in middle if m.name)
        assert harness.scheduler.max_slots_used == 4
        assert harness.statuses(wf_id) == ["done"] * 32


def test_failure_aborts_descendants_and_spares_independent_branch() -> None:
    a, b, c, d = job("a"), job("b"), job("c"), job("d")
    other = job("other")
    workflow = Workflow([a, b, c, d, other], dependencies=[(a, b), (b, c), (c, d)])
    with EngineHarness(behaviour=fail_named("b")) as harness:
        wf_id = harness.submit(workflow)
        harness.wait(wf_id)
        states = harness.states(wf_id)
        assert [s.status.value for s in states] == ["done", "failed", "failed", "failed", "done"]
        assert states[1].exit_value == 1 and states[1].exit_status is not None
        assert harness.exits(wf_id)[2:4] == ["aborted_before_running"] * 2
        assert "c" not in started_names(harness) and "d" not in started_names(harness)
        assert harness.service.workflow_status(wf_id) == "workflow_done"


def test_barrier_job_runs_in_the_engine() -> None:
    a1, a2, b1, b2 = job("a1"), job("a2"), job("b1"), job("b2")
    barrier = BarrierJob(name="hub")
    deps = [(a1, barrier), (a2, barrier), (barrier, b1), (barrier, b2)]
    with EngineHarness() as harness:
        wf_id = harness.submit(Workflow([a1, a2, barrier, b1, b2], dependencies=deps))
        harness.wait(wf_id)
        assert sorted(started_names(harness)) == ["a1", "a2", "b1", "b2"]
        assert started_names(harness)[2:] in (["b1", "b2"], ["b2", "b1"])
        assert harness.statuses(wf_id) == ["done"] * 5
        assert harness.exits(wf_id)[2] == "finished_regularly"


def test_group_dependencies_order_whole_groups() -> None:
    first = [job("f1"), job("f2")]
    second = [job("s1"), job("s2")]
    g1, g2 = Group(list(first), name="g1"), Group(list(second), name="g2")
    workflow = Workflow([*first, *second], dependencies=[(g1, g2)], root_group=[g1, g2])
    with EngineHarness(slots=1) as harness:
        wf_id = harness.submit(workflow)
        harness.wait(wf_id)
        names = started_names(harness)
        assert sorted(names[:2]) == ["f1", "f2"] and sorted(names[2:]) == ["s1", "s2"]
        assert set(harness.statuses(wf_id)) == {"done"}


def test_priorities_higher_first_fifo_within_a_priority() -> None:
    root = job("root")
    children = [
        job("low", priority=-1),
        job("mid1", priority=5),
        job("high", priority=10),
        job("mid2", priority=5),
        job("zero"),
    ]
    deps = [(root, child) for child in children]
    with EngineHarness(slots=1) as harness:
        wf_id = harness.submit(Workflow([root, *children], dependencies=deps))
        harness.wait(wf_id)
        assert started_names(harness) == ["root", "high", "mid1", "mid2", "zero", "low"]


def test_parallel_job_info_reserves_slots_and_is_clamped() -> None:
    jobs = [
        job("two", parallel_job_info={"nodes_number": 1, "cpu_per_node": 2}),
        job("three", parallel_job_info={"nodes_number": 3, "cpu_per_node": 1}),
        job("huge", parallel_job_info={"nodes_number": 4, "cpu_per_node": 8}),
        job("one"),
    ]
    with EngineHarness(slots=4, behaviour=lambda r: FakeOutcome(duration=1.0)) as harness:
        wf_id = harness.submit(Workflow(jobs))
        harness.idle()
        # "two" takes 2 of 4 slots; "three" (3) does not fit and nothing overtakes it
        assert started_names(harness) == ["two"]
        for _ in range(5):
            harness.advance(1.0)
        harness.wait(wf_id)
        slots = {r.argv[1]: r.slots for r in harness.scheduler.submitted}
        assert slots == {"two": 2, "three": 3, "huge": 4, "one": 1}
        assert harness.scheduler.max_slots_used <= 4


def test_queue_limits_cap_concurrency() -> None:
    jobs = [job(f"j{i}") for i in range(6)]
    with EngineHarness(
        slots=8, behaviour=lambda r: FakeOutcome(duration=1.0), max_running_jobs={None: 2}
    ) as harness:
        wf_id = harness.submit(Workflow(jobs))
        for _ in range(4):
            harness.advance(1.0)
        harness.wait(wf_id)
        assert harness.scheduler.max_slots_used == 2


def test_non_consecutive_job_ids() -> None:
    a, b = job("a"), job("b")
    with EngineHarness(id_step=3) as harness:
        wf_id = harness.submit(Workflow([a, b], dependencies=[(a, b)]))
        harness.wait(wf_id)
        assert harness.ids(wf_id)[1] - harness.ids(wf_id)[0] == 3
        assert harness.statuses(wf_id) == ["done", "done"]


# -- dynamic outputs, param links, in-engine jobs ----------------------------------------


def outputs_for(table: dict[str, dict[str, Any]]) -> Any:
    def behaviour(request: LaunchRequest) -> FakeOutcome:
        return FakeOutcome(outputs=table.get(request.argv[1]))

    return behaviour


def test_dynamic_outputs_feed_param_links_before_submission() -> None:
    producer = Job(["run", "producer"], name="producer", has_outputs=True)
    consumer = Job(
        ["run", "consumer", "%(infile)s", "%(count)s"],
        name="consumer",
        param_dict={"infile": "/placeholder", "count": 0},
    )
    links = {
        consumer: {
            "infile": [(producer, "out")],
            "count": [(producer, "items", ("swf_domain.link_functions.sequence_max", 1))],
        }
    }
    workflow = Workflow([producer, consumer], param_links=links)
    table = {"producer": {"out": "/data/result.nii", "items": 4}}
    with EngineHarness(behaviour=outputs_for(table)) as harness:
        wf_id = harness.submit(workflow)
        harness.wait(wf_id)
        producer_id, consumer_id = harness.ids(wf_id)
        request = harness.scheduler.submitted[0]
        assert request.env["SOMAWF_OUTPUT_PARAMS"].endswith(f"{producer_id}.outputs.json")
        assert harness.service.get_job_output_params(producer_id) == table["producer"]
        assert harness.scheduler.submitted[1].argv == (
            "run",
            "consumer",
            "/data/result.nii",
            "5",
        )
        assert harness.store.state_of(consumer_id).command == list(
            harness.scheduler.submitted[1].argv
        )


def test_missing_or_invalid_output_params_fail_the_job() -> None:
    missing = Job(["run", "missing"], name="missing", has_outputs=True)
    invalid = Job(["run", "invalid"], name="invalid", has_outputs=True)
    after = job("after")

    def behaviour(request: LaunchRequest) -> FakeOutcome:
        if request.argv[1] == "invalid":
            return FakeOutcome(outputs_text="{not json")
        return FakeOutcome()

    workflow = Workflow([missing, invalid, after], dependencies=[(missing, after)])
    with EngineHarness(behaviour=behaviour) as harness:
        wf_id = harness.submit(workflow)
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["failed", "failed", "failed"]
        assert harness.exits(wf_id)[2] == "aborted_before_running"
        missing_err = harness.states(wf_id)[0].stderr_file
        invalid_err = harness.states(wf_id)[1].stderr_file
        assert missing_err is not None and invalid_err is not None
        assert "does not exist" in harness.workspace.files[missing_err]
        assert "not valid JSON" in harness.workspace.files[invalid_err]


def test_engine_execution_job_runs_in_process_and_links_downstream() -> None:
    producer = Job(["run", "producer"], name="producer", has_outputs=True)
    cat = ListCatJob(name="cat", param_dict={"inputs": []})
    consumer = Job(["run", "consumer", "%(values)s"], name="consumer", param_dict={"values": []})
    links = {
        cat: {"inputs": [(producer, "lists")]},
        consumer: {"values": [(cat, "outputs")]},
    }
    workflow = Workflow([producer, cat, consumer], param_links=links)
    table = {"producer": {"lists": [["a"], ["b", "c"]]}}
    with EngineHarness(behaviour=outputs_for(table)) as harness:
        wf_id = harness.submit(workflow)
        harness.wait(wf_id)
        assert started_names(harness) == ["producer", "consumer"]
        cat_id = harness.ids(wf_id)[1]
        assert harness.service.get_job_output_params(cat_id) == {"outputs": ["a", "b", "c"]}
        assert harness.scheduler.submitted[1].argv[2] == "['a', 'b', 'c']"


def test_input_params_file_is_written_and_exported() -> None:
    reader = Job(
        ["run", "reader"],
        name="reader",
        use_input_params_file=True,
        param_dict={"x": 3, "names": ["a", "b"]},
        configuration={"threads": 2},
    )
    with EngineHarness() as harness:
        wf_id = harness.submit(Workflow([reader]))
        harness.wait(wf_id)
        path = harness.scheduler.submitted[0].env["SOMAWF_INPUT_PARAMS"]
        document = json.loads(harness.workspace.files[path])
        assert document == {
            "parameters": {"x": 3, "names": ["a", "b"]},
            "configuration_dict": {"threads": 2},
        }


# -- environment, files -----------------------------------------------------------------


def test_env_precedence_builder_then_workflow_then_job() -> None:
    code = "print('{}')"
    job_a = Job(["run", "a"], name="a", env={"LEVEL": "job", "JOB_ONLY": "1"})
    job_b = Job(["run", "b"], name="b")
    workflow = Workflow(
        [job_a, job_b],
        env={"LEVEL": "workflow", "WF_ONLY": "1"},
        env_builder_code=code,
    )
    with EngineHarness() as harness:
        harness.workspace.env_builders[code] = {"LEVEL": "builder", "BUILT": "1"}
        wf_id = harness.submit(workflow)
        harness.wait(wf_id)
        env_a, env_b = (dict(r.env) for r in harness.scheduler.submitted)
        assert env_a == {"LEVEL": "job", "JOB_ONLY": "1", "WF_ONLY": "1", "BUILT": "1"}
        assert env_b == {"LEVEL": "workflow", "WF_ONLY": "1", "BUILT": "1"}
        assert harness.workspace.env_builder_runs == 1


def test_env_builder_failure_fails_every_job_with_the_reason() -> None:
    a, b, c = job("a"), job("b"), job("c")
    workflow = Workflow([a, b, c], dependencies=[(a, b)], env_builder_code="raise SystemExit(3)")
    with EngineHarness() as harness:
        wf_id = harness.submit(workflow)
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["failed"] * 3
        assert harness.exits(wf_id) == ["aborted", "aborted_before_running", "aborted"]
        assert harness.scheduler.submitted == []
        stderr = harness.states(wf_id)[0].stderr_file
        assert stderr is not None
        assert "env_builder_code failed" in harness.workspace.files[stderr]
        # fixed meanwhile: a restart runs the builder again
        harness.workspace.env_builders["raise SystemExit(3)"] = {"OK": "1"}
        assert harness.service.restart_workflow(wf_id)
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["done"] * 3


def test_default_output_files_and_temporary_paths() -> None:
    tmp_file, tmp_dir = TemporaryPath(name="scratch"), TemporaryPath(is_directory=True)
    writer = Job(
        ["run", "writer", tmp_file, tmp_dir],
        name="writer",
        referenced_output_files=[tmp_file, tmp_dir],
    )
    reader = Job(["run", "reader", tmp_file], name="reader", referenced_input_files=[tmp_file])
    with EngineHarness() as harness:
        wf_id = harness.submit(Workflow([writer, reader], dependencies=[(writer, reader)]))
        harness.wait(wf_id)
        first, second = harness.scheduler.submitted
        writer_id = harness.ids(wf_id)[0]
        assert first.stdout_file == f"/ws/jobs/{wf_id}/{writer_id}.out"
        assert first.stderr_file == f"/ws/jobs/{wf_id}/{writer_id}.err"
        assert first.argv[2] == second.argv[2]  # same temporary file for both jobs
        assert first.argv[2] in harness.workspace.files
        assert first.argv[3] in harness.workspace.directories
        harness.service.delete_workflow(wf_id)
        assert first.argv[2] not in harness.workspace.files
        assert first.argv[3] not in harness.workspace.directories


def test_join_stderrout_has_no_stderr_file() -> None:
    joined = job("joined", join_stderrout=True)
    with EngineHarness() as harness:
        harness.wait(harness.submit(Workflow([joined])))
        assert harness.scheduler.submitted[0].stderr_file is None


def test_a_job_that_cannot_be_rendered_fails_alone_with_the_reason() -> None:
    from swf_domain.model import SharedResourcePath

    unknown = SharedResourcePath("data/x.nii", namespace="nowhere", uuid="u-1")
    broken = Job(["run", "broken", unknown], name="broken")
    after, fine = job("after"), job("fine")
    workflow = Workflow([broken, after, fine], dependencies=[(broken, after)])
    with EngineHarness() as harness:
        wf_id = harness.submit(workflow)
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["failed", "failed", "done"]
        assert harness.exits(wf_id) == ["aborted", "aborted_before_running", "finished_regularly"]
        stderr = harness.states(wf_id)[0].stderr_file
        assert stderr is not None
        assert "nowhere" in harness.workspace.files[stderr]
        assert started_names(harness) == ["fine"]


def test_nothing_starts_until_a_capacity_event_gives_room() -> None:
    """An MPI pilot: no capacity until its allocation starts, then its CPUs."""
    jobs = [job(f"j{i}") for i in range(5)]
    with EngineHarness(slots=0, behaviour=lambda r: FakeOutcome(duration=1.0)) as harness:
        wf_id = harness.submit(Workflow(jobs))
        harness.idle()
        assert harness.scheduler.started == []
        harness.scheduler.change_capacity(Capacity(CapacityUnit.CPUS, 2))
        harness.idle()
        assert len(harness.scheduler.started) == 2
        for _ in range(3):
            harness.advance(1.0)
        harness.wait(wf_id)
        assert harness.scheduler.max_slots_used == 2


def test_job_counted_capacity_ignores_job_sizes_but_passes_them_on() -> None:
    wide = {"config_name": "MPI", "nodes_number": 4, "cpu_per_node": 8}
    jobs = [job(f"w{i}", parallel_job_info=wide) for i in range(3)]
    with EngineHarness(
        slots=2, unit=CapacityUnit.JOBS, behaviour=lambda r: FakeOutcome(duration=1.0)
    ) as harness:
        wf_id = harness.submit(Workflow(jobs))
        harness.idle()
        assert len(harness.scheduler.started) == 2  # two jobs, whatever their CPUs
        for _ in range(3):
            harness.advance(1.0)
        harness.wait(wf_id)
        for request in harness.scheduler.submitted:
            assert request.slots == 1
            assert request.parallel is not None and request.parallel.cpus == 32
            assert request.parallel.config_name == "MPI" and request.parallel.nodes == 4
            assert request.name == f"swf-{wf_id}-{request.job_id}"


def test_max_job_in_queue_counts_jobs_waiting_in_the_scheduler_queue() -> None:
    """MAX_JOB_IN_QUEUE: jobs submitted and not started; a start makes room."""
    jobs = [job(f"q{i}") for i in range(4)]
    with EngineHarness(
        slots=None,
        unit=CapacityUnit.JOBS,
        behaviour=lambda r: FakeOutcome(duration=None),
        emit_running=False,
        max_queued_jobs={None: 2},
    ) as harness:
        harness.submit(Workflow(jobs))
        harness.idle()
        first = list(harness.scheduler.started)
        assert len(first) == 2  # both still "queued" on the scheduler
        harness.scheduler.send([SchedulerEvent(first[0], JobStatus.RUNNING)])
        harness.idle()
        assert len(harness.scheduler.started) == 3  # one left the queue: one more submitted


def test_max_job_running_is_a_job_count_not_cpus() -> None:
    """MAX_JOB_RUNNING=2 with 8 CPUs: two 4-CPU jobs may run at once (it used to count
    CPUs, letting only one of them run)."""
    four = {"nodes_number": 1, "cpu_per_node": 4}
    jobs = [job(f"f{i}", parallel_job_info=four) for i in range(3)]
    with EngineHarness(
        slots=8, behaviour=lambda r: FakeOutcome(duration=1.0), max_running_jobs={None: 2}
    ) as harness:
        wf_id = harness.submit(Workflow(jobs))
        harness.idle()
        assert len(harness.scheduler.started) == 2
        for _ in range(3):
            harness.advance(1.0)
        harness.wait(wf_id)
