"""The DRMAA adapter's pure parts: what libdrmaa needs (typed errors naming the missing
piece), and the translation between the batch machinery and the DRMAA agent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swf_adapters.schedulers.batch.parallel import ParallelConfig
from swf_adapters.schedulers.batch.system import Shape, TaskState
from swf_adapters.schedulers.drmaa import (
    DrmaaUnavailableError,
    GridEngineDrmaa,
    drmaa_environment,
)
from swf_app.ports import ParallelSpec
from swf_domain.errors import DRMError
from tests.unit.test_slurm_commands import request


def test_no_sge_root_is_named(tmp_path: Path) -> None:
    with pytest.raises(DrmaaUnavailableError, match="SGE_ROOT"):
        drmaa_environment({"SGE_ROOT": str(tmp_path)})


def test_no_libdrmaa_is_named(tmp_path: Path) -> None:
    (tmp_path / "default").mkdir()
    missing = tmp_path / "nowhere.so"
    env = {"SGE_ROOT": str(tmp_path), "DRMAA_LIBRARY_PATH": str(missing)}
    with pytest.raises(DrmaaUnavailableError, match="libdrmaa not found") as raised:
        drmaa_environment(env)
    assert isinstance(raised.value, DRMError) and str(missing) in str(raised.value)


def test_jemalloc_is_preloaded_only_when_libdrmaa_links_it(tmp_path: Path) -> None:
    (tmp_path / "default").mkdir()
    plain = tmp_path / "libdrmaa.so"
    plain.write_bytes(b"\x7fELF no allocator here")
    env = drmaa_environment({"SGE_ROOT": str(tmp_path), "DRMAA_LIBRARY_PATH": str(plain)})
    assert "LD_PRELOAD" not in env
    assert env["SGE_CELL"] == "default" and env["DRMAA_LIBRARY_PATH"] == str(plain)


def test_what_drmaa_cannot_express_goes_as_native_specification(tmp_path: Path) -> None:
    system = GridEngineDrmaa()
    job = request(parallel=ParallelSpec("native", 2, 2), native_specification="-l h_rt=60")
    op, text = system.submit_command(tmp_path / "batch.sh", 5, system.shape_of(job, ()), "swf-x")
    request_ = json.loads(text)
    assert op == "runBulkJobs" and request_["count"] == 5 and request_["name"] == "swf-x"
    assert request_["native"] == ["-pe", "smp", "4", "-l", "h_rt=60"]
    shape = system.shape_of(request(queue="short"), ("-l", "h_rt=5"))
    assert json.loads(system.submit_command(tmp_path / "b.sh", 1, shape, "t")[1])["native"] == [
        "-l", "h_rt=5", "-q", "short"
    ]  # fmt: skip


def test_parallel_kinds_take_the_resources_parallel_environment() -> None:
    """soma's ``MPI = mpi`` names the PE of a kind; its ``drmaa_native_specification``
    template, when set, is the whole request; a job naming its own PE keeps it."""
    named = GridEngineDrmaa(parallel_config=ParallelConfig.of({"MPI": "mpi", "OpenMP": "smp"}))
    mpi = request(parallel=ParallelSpec("MPI", 2, 4))
    assert named.shape_of(mpi, ()).options == ("-pe", "mpi", "8")
    assert named.shape_of(request(parallel=ParallelSpec("other", 1, 3)), ()).options == (
        "-pe", "smp", "3"
    )  # fmt: skip
    templated = GridEngineDrmaa(
        parallel_config=ParallelConfig.of(
            {"drmaa_native_specification": "-pe {config_name} {nodes_number}", "MPI": "orte"}
        )
    )
    assert templated.shape_of(mpi, ()).options == ("-pe", "orte", "2")  # soma's slot count
    own = request(parallel=ParallelSpec("MPI", 2, 4), native_specification="-pe big 16")
    assert named.shape_of(own, ()).options == ("-pe", "big", "16")
    assert named.shape_of(request(parallel=ParallelSpec("MPI", 1, 1)), ()).options == ()


def test_changes_and_ids_translate_between_one_and_zero_based() -> None:
    """The agent speaks Grid Engine's task ids (1-based); the batch machinery's indices
    are 0-based; users are shown Grid Engine's own form."""
    system = GridEngineDrmaa()
    view = system.parse_status(json.dumps({"7.1": ["running", "r"], "7.3": ["finished", "x"]}))
    assert set(view) == {"7"} and set(view["7"].tasks) == {0, 2}
    assert view["7"].tasks[0].state is TaskState.RUNNING
    assert view["7"].tasks[2].state is TaskState.FINISHED
    assert system.task_id("7", 0) == "7.1" and system.task_id("7", 41) == "7.42"
    assert system.cancel_command(["7.3", "8"]) == ["control", "7.3", "8"]


def test_the_jobs_get_the_engines_environment_not_the_agents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWF_SEEN_BY_JOBS", "a,b=c d")
    _, text = GridEngineDrmaa().submit_command(tmp_path / "batch.sh", 1, Shape(), "swf-x")
    assert json.loads(text)["env"]["SWF_SEEN_BY_JOBS"] == "a,b=c d"


def test_a_libdrmaa_that_does_not_load_is_a_typed_error_at_start(tmp_path: Path) -> None:
    """Not an OSError from ctypes in the engine: the agent says why, start raises it."""
    from swf_adapters.schedulers.batch import BatchSettings
    from swf_adapters.schedulers.drmaa import AgentRunner, DrmaaScheduler

    (tmp_path / "default").mkdir()
    broken = tmp_path / "libdrmaa.so"
    broken.write_bytes(b"not a shared object")
    env = drmaa_environment({"SGE_ROOT": str(tmp_path), "DRMAA_LIBRARY_PATH": str(broken)})
    job_dir = tmp_path / "jobs"
    runner = AgentRunner(job_dir / "drmaa-session", env, timeout=60)
    scheduler = DrmaaScheduler(BatchSettings(job_dir=job_dir), runner)
    try:
        with pytest.raises(DrmaaUnavailableError, match=r"cannot start.*libdrmaa\.so"):
            scheduler.start(lambda events: None)
    finally:
        scheduler.close()


def _followed_batch(tmp_path: Path, tasks: int) -> tuple[Any, Any]:
    """A DrmaaScheduler (its agent never started) with one submitted batch of ``tasks``
    tasks, cluster id 7; changes are fed as the agent would push them."""
    from swf_adapters.schedulers.batch import BatchSettings
    from swf_adapters.schedulers.drmaa import INDEX_VARIABLE, AgentRunner, DrmaaScheduler
    from swf_app.ports import LaunchRequest

    runner = AgentRunner(tmp_path / "drmaa-session", {})
    scheduler = DrmaaScheduler(BatchSettings(job_dir=tmp_path, end_grace=3600), runner)
    scheduler.jobdir.prepare()
    requests = [LaunchRequest(i, 1, ("true",), {}, "/dev/null", None) for i in range(tasks)]
    batch = scheduler.jobdir.create(requests, INDEX_VARIABLE, Shape())
    scheduler.jobdir.record_cluster_id(batch, "7")
    scheduler._register(batch)
    return scheduler, batch


def _poll(scheduler: Any, changes: dict[str, list[str]]) -> list[Any]:
    scheduler.agent._merge(changes)
    view = scheduler.system.parse_status(scheduler.agent.run(["status", "t"]).stdout)
    events: list[Any] = scheduler._reconcile(view, 0.0)
    return events


def test_a_poll_looks_only_at_the_tasks_the_agent_said_changed(tmp_path: Path) -> None:
    """1,000 queued tasks, one started: one event, and the poll looked at one task (the
    cost of a poll does not grow with the queue)."""
    scheduler, _ = _followed_batch(tmp_path, 1000)
    assert scheduler._candidates({}) == []
    looked_at = scheduler._candidates(scheduler.system.parse_status('{"7.2": ["running", "r"]}'))
    assert [(batch.cluster_id, index) for batch, index, _ in looked_at] == [("7", 1)]
    events = _poll(scheduler, {"7.2": ["running", "r"]})
    assert [(e.job_id, e.status.value, e.scheduler_job_id) for e in events] == [
        (1, "running", "7.2")
    ]
    assert _poll(scheduler, {}) == []


def test_an_end_without_its_end_file_is_looked_at_again_until_the_file_comes(
    tmp_path: Path,
) -> None:
    scheduler, batch = _followed_batch(tmp_path, 3)
    assert [e.status.value for e in _poll(scheduler, {"7.1": ["finished", "exited with 0"]})] == []
    assert _poll(scheduler, {}) == []  # still awaited, not forgotten
    batch.end_file(0).write_text(json.dumps({"exit_value": 0, "start": 1.0, "end": 2.0}))
    ended = _poll(scheduler, {})
    assert [(e.job_id, e.status.value) for e in ended] == [(0, "running"), (0, "done")]
    assert _poll(scheduler, {}) == []
