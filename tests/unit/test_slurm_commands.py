"""SLURM command lines and output parsing, on outputs recorded from a real SLURM 22.05."""

from __future__ import annotations

from pathlib import Path

import pytest

from swf_adapters.schedulers.batch.adapter import BatchSettings, _by_shape
from swf_adapters.schedulers.batch.attempts import for_attempt
from swf_adapters.schedulers.batch.parallel import ParallelConfig
from swf_adapters.schedulers.batch.system import Shape, TaskState
from swf_adapters.schedulers.slurm import Slurm, native_options, parse_index_ranges
from swf_app.ports import LaunchRequest, ParallelSpec

DATA = Path(__file__).parent / "data" / "slurm"


def recorded(name: str) -> str:
    return (DATA / name).read_text()


def request(**fields: object) -> LaunchRequest:
    base: dict[str, object] = dict(
        job_id=1, workflow_id=1, argv=("true",), env={}, stdout_file="/o", stderr_file=None
    )
    base.update(fields)
    return LaunchRequest(**base)  # type: ignore[arg-type]


def test_submit_command_is_one_array_job_with_the_engine_tag() -> None:
    argv = Slurm().submit_command(
        Path("/jobs/b/batch.sh"),
        250,
        Shape("short", 4, ("--cpus-per-task=4", "--mem=2G")),
        "swf-abc",
    )
    assert argv[0] == "sbatch" and argv[-1] == "/jobs/b/batch.sh"
    assert "--array=0-249" in argv and "--job-name=swf-abc" in argv
    assert "--partition=short" in argv and "--cpus-per-task=4" in argv
    assert argv.index("--mem=2G") < len(argv) - 1
    assert "--output=/jobs/b/%a.log" in argv


def test_submit_command_without_queue_or_cpus_adds_nothing_for_them() -> None:
    argv = Slurm().submit_command(Path("/j/batch.sh"), 1, Shape(), "t")
    assert not any(arg.startswith(("--partition", "--cpus-per-task")) for arg in argv)
    assert "--array=0-0" in argv


def test_parse_submitted_reads_parsable_output() -> None:
    assert Slurm().parse_submitted(recorded("sbatch_parsable.txt")) == "73"
    assert Slurm().parse_submitted("812;cluster2\n") == "812"
    with pytest.raises(ValueError, match="no job id"):
        Slurm().parse_submitted("Submitted batch job\n")


def test_status_command_is_one_squeue_call_by_name() -> None:
    argv = Slurm().status_command("swf-abc", None)
    assert argv[0] == "squeue" and "--name=swf-abc" in argv and "--states=all" in argv


def test_parse_squeue_mixed_states() -> None:
    view = Slurm().parse_status(recorded("squeue_mixed.txt"))
    assert set(view) == {"73", "74", "75", "111"}
    done = view["73"]
    assert {i: t.state for i, t in done.tasks.items()} == {i: TaskState.FINISHED for i in range(4)}
    assert done.tasks[0].reason == "COMPLETED" and done.runs("/tmp/sx/b.sh", "t")
    running = view["74"]
    assert running.pending == [range(32, 300)] and running.pending_reason == "Resources"
    assert running.is_pending(299) and not running.is_pending(31)
    assert running.tasks[30].state is TaskState.RUNNING
    assert view["75"].pending == [range(0, 3)] and view["75"].pending_reason == "JobHeldUser"
    assert view["111"].pending == [range(0, 100)]  # the %5 throttle is not an index


def test_parse_squeue_cancelled_pending_range_finishes_every_index() -> None:
    view = Slurm().parse_status(recorded("squeue_cancelled.txt"))
    cancelled = view["111"]
    assert not cancelled.pending
    assert len(cancelled.tasks) == 100
    assert {t.reason for t in cancelled.tasks.values()} == {"CANCELLED"}


def test_parse_squeue_ignores_non_array_jobs_and_noise() -> None:
    view = Slurm().parse_status("12|RUNNING|None|/x\n\ngarbage\n13_2|TIMEOUT|TimeLimit|/y\n")
    assert list(view) == ["13"] and view["13"].tasks[2].reason == "TIMEOUT"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0-4", [range(0, 5)]),
        ("0-4,7,10-20%3", [range(0, 5), range(7, 8), range(10, 21)]),
        ("1-9:2", [range(1, 10, 2)]),
        ("5", [range(5, 6)]),
    ],
)
def test_index_ranges(text: str, expected: list[range]) -> None:
    assert parse_index_ranges(text) == expected


def test_unavailable_controller_is_told_from_a_refusal() -> None:
    slurm = Slurm()
    assert slurm.unavailable(1, recorded("squeue_unavailable.txt"))
    assert slurm.unavailable(1, recorded("sbatch_unavailable.txt"))
    assert not slurm.unavailable(1, recorded("sbatch_refused_mem.txt"))
    assert not slurm.unavailable(1, recorded("sbatch_refused_partition.txt"))


def test_native_specification_string_and_soma_list() -> None:
    assert native_options("--mem=4G  --time='1:00:00'") == ("--mem=4G", "--time=1:00:00")
    assert native_options(["--mem=4G", "-t 10"]) == ("--mem=4G", "-t", "10")
    assert native_options(None) == () and native_options("") == ()


def test_shape_uses_the_resource_default_only_without_a_job_specification() -> None:
    slurm = Slurm()
    default = ("--time=5",)
    assert slurm.shape_of(request(), default) == Shape(None, 1, default)
    wide = ParallelSpec("native", 1, 2)
    own = slurm.shape_of(
        request(native_specification="--mem=1G", queue="short", slots=1, parallel=wide), default
    )
    # the job's own CPUs, not the engine's count; the job's options last: they win
    assert own == Shape("short", 2, ("--cpus-per-task=2", "--mem=1G"))


def test_parallel_job_info_maps_to_nodes_and_cpus_per_task_as_soma_does() -> None:
    slurm = Slurm()
    shape = slurm.shape_of(request(parallel=ParallelSpec("native", 3, 4)), ())
    assert shape == Shape(None, 4, ("--nodes=3", "--cpus-per-task=4"), 3)
    argv = slurm.submit_command(Path("/j/batch.sh"), 2, shape, "t")
    assert "--nodes=3" in argv and "--cpus-per-task=4" in argv
    assert slurm.shape_of(request(), ()) != shape, "another shape: another array job"
    openmp = slurm.shape_of(request(parallel=ParallelSpec("OpenMP", 1, 8)), ())
    assert openmp.options == ("--cpus-per-task=8",), "threads of one task share its CPUs"


def test_an_mpi_job_gets_one_task_per_rank() -> None:
    """Not soma's ``-c``: ``srun``/``mpirun`` in the job start SLURM_NTASKS ranks."""
    shape = Slurm().shape_of(request(parallel=ParallelSpec("MPI", 2, 4)), ())
    assert shape.options == ("--nodes=2", "--ntasks-per-node=4")
    one = Slurm().shape_of(request(parallel=ParallelSpec("mpi", 1, 2)), ())
    assert one.options == ("--ntasks-per-node=2",)
    assert Slurm().shape_of(request(parallel=ParallelSpec("MPI", 1, 1)), ()).options == ()


def test_the_resources_parallel_options_replace_the_mapping() -> None:
    """soma's ``drmaa_native_specification`` template with the kind's cluster name, or
    swf's whole request for a kind; the job's own options still come last."""
    config = ParallelConfig.of(
        {
            "drmaa_native_specification": "--constraint={config_name} --nodes={nodes_number}",
            "MPI": "ib",
            "OpenMP": "--ntasks=1 --cpus-per-task={cpu_per_node} --hint=compute_bound",
        }
    )
    slurm = Slurm(parallel_config=config)
    mpi = slurm.shape_of(request(parallel=ParallelSpec("MPI", 2, 4)), ())
    assert mpi.options == ("--constraint=ib", "--nodes=2")
    openmp = request(parallel=ParallelSpec("OpenMP", 1, 6), native_specification="--mem=1G")
    expected = ("--ntasks=1", "--cpus-per-task=6", "--hint=compute_bound", "--mem=1G")
    assert slurm.shape_of(openmp, ()).options == expected
    native = slurm.shape_of(request(parallel=ParallelSpec("native", 1, 2)), ())
    assert native.options == ("--cpus-per-task=2",), "a kind the resource does not name"


def test_parallel_jobs_get_the_resources_parallel_env_and_their_own_wins() -> None:
    """soma exports PARALLEL_ENV_MPI_BIN / PARALLEL_ENV_NODE_FILE to parallel jobs only."""
    config = ParallelConfig.of(
        {"PARALLEL_ENV_MPI_BIN": "/opt/mpi/bin", "PARALLEL_ENV_NODE_FILE": "$PE_HOSTFILE"}
    )
    settings = BatchSettings(Path("/j"), parallel_env=tuple(config.env.items()))
    mpi = request(parallel=ParallelSpec("MPI", 1, 2), env={"PARALLEL_ENV_MPI_BIN": "/mine"})
    groups = _by_shape([mpi, request(job_id=2)], Slurm(), settings)
    by_job = {r.job_id: r.env for group in groups.values() for r in group}
    assert by_job == {
        1: {"PARALLEL_ENV_MPI_BIN": "/mine", "PARALLEL_ENV_NODE_FILE": "$PE_HOSTFILE"},
        2: {},
    }


def test_attempt_placeholders_grow_resources_per_attempt() -> None:
    """Snakemake's ``attempt`` / Nextflow's ``task.attempt``: the job's and the
    resource's options, per attempt; without the placeholder, the same tuple."""
    assert for_attempt(("--mem={attempt*4}G", "--time={attempt}:00:00"), 3) == (
        "--mem=12G",
        "--time=3:00:00",
    )
    plain = ("--mem=4G",)
    assert for_attempt(plain, 2) is plain
    assert for_attempt(("{attempt * 2}", "{attempts}"), 2) == ("4", "{attempts}")
    settings = BatchSettings(Path("/j"), default_options=("--time={attempt*30}",))
    first, retry = request(), request(job_id=2, attempt=2)
    shapes = _by_shape([first, retry], Slurm(), settings)
    assert sorted(s.options for s in shapes) == [("--time=30",), ("--time=60",)]
