"""PBS Pro / Torque command lines and output parsing, on samples in the documented formats
(tests/unit/data/pbs/SOURCES.md names where each comes from: no PBS server runs here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from swf_adapters.schedulers.batch.parallel import ParallelConfig
from swf_adapters.schedulers.batch.system import ArrayView, Shape, TaskState
from swf_adapters.schedulers.pbspro import Flavor, Pbs, detect_flavor, flavor_of
from swf_app.ports import ParallelSpec
from swf_domain.errors import DRMError
from tests.unit.test_slurm_commands import request

DATA = Path(__file__).parent / "data" / "pbs"
PRO, TORQUE = Pbs(Flavor.PBSPRO), Pbs(Flavor.TORQUE)


def recorded(name: str) -> str:
    return (DATA / name).read_text()


def test_a_batch_is_one_pbs_pro_array_with_the_engine_tag() -> None:
    argv = PRO.submit_command(
        Path("/jobs/b/batch.sh"), 250, Shape("short", 1, ("-l", "walltime=1:00:00")), "swf-abc"
    )
    assert argv[0] == "qsub" and argv[-1] == "/jobs/b/batch.sh"
    assert argv[argv.index("-N") + 1] == "swf-abc" and argv[argv.index("-J") + 1] == "0-249"
    assert argv[argv.index("-q") + 1] == "short" and "walltime=1:00:00" in argv
    assert argv[argv.index("-o") + 1] == "/jobs/b/^array_index^.log" and "-V" in argv


def test_a_one_task_batch_is_a_plain_job_pbs_pro_refuses_a_one_element_range() -> None:
    argv = PRO.submit_command(Path("/j/batch.sh"), 1, Shape(), "t")
    assert "-J" not in argv and "-q" not in argv
    assert argv[argv.index("-o") + 1] == "/j/0.log"


def test_torque_arrays_use_dash_t_and_its_own_index_variable() -> None:
    argv = TORQUE.submit_command(Path("/j/batch.sh"), 3, Shape(), "t")
    assert argv[argv.index("-t") + 1] == "0-2" and "-J" not in argv
    assert TORQUE.index_variable == "PBS_ARRAYID" and PRO.index_variable == "PBS_ARRAY_INDEX"


def test_parallel_job_info_becomes_select_on_pbs_pro_and_nodes_ppn_on_torque() -> None:
    mpi = request(parallel=ParallelSpec("MPI", 2, 8))
    assert PRO.shape_of(mpi, ()).options == (
        "-l",
        "select=2:ncpus=8:mpiprocs=8",
        "-l",
        "place=scatter",
    )
    openmp = request(parallel=ParallelSpec("OpenMP", 1, 4))
    assert PRO.shape_of(openmp, ()).options == ("-l", "select=1:ncpus=4:ompthreads=4")
    assert TORQUE.shape_of(mpi, ()).options == ("-l", "nodes=2:ppn=8")
    own = request(parallel=ParallelSpec("MPI", 2, 8), native_specification="-l select=4:ncpus=4")
    assert PRO.shape_of(own, ()).options == ("-l", "select=4:ncpus=4")


def test_a_resource_template_for_the_parallel_kind_wins() -> None:
    """soma's ``MPI = -l nodes={nodes_number}:ppn={cpu_per_node}`` resource option."""
    template = {"MPI": "-l nodes={nodes_number}:ppn={cpu_per_node}"}
    site = Pbs(Flavor.PBSPRO, parallel_config=ParallelConfig(template))
    mpi = request(parallel=ParallelSpec("MPI", 3, 2))
    assert site.shape_of(mpi, ()).options == ("-l", "nodes=3:ppn=2")
    openmp = request(parallel=ParallelSpec("OpenMP", 1, 2))
    assert site.shape_of(openmp, ()).options == ("-l", "select=1:ncpus=2:ompthreads=2")


def test_native_specification_replaces_the_resource_default_and_keeps_the_queue() -> None:
    job = request(native_specification=["-l walltime=00:10:00", "-A proj"], queue="long")
    shape = PRO.shape_of(job, ("-l", "walltime=10:00:00"))
    assert shape.options == ("-l", "walltime=00:10:00", "-A", "proj") and shape.queue == "long"
    assert PRO.shape_of(request(), ("-l", "walltime=10:00:00")).options == (
        "-l",
        "walltime=10:00:00",
    )


def test_parse_submitted_reads_qsub_ids() -> None:
    assert PRO.parse_submitted(recorded("qsub_array_pbspro.txt")) == "4107[].pbs01"
    assert PRO.parse_submitted("4108.pbs01\n") == "4108.pbs01"
    with pytest.raises(ValueError, match="no job id"):
        PRO.parse_submitted("qsub: Unknown queue\n")


def test_task_ids_are_shown_in_pbs_form() -> None:
    assert PRO.task_id("4107[].pbs01", 5) == "4107[5].pbs01"
    assert PRO.task_id("4108.pbs01", 0) == "4108.pbs01"


def test_status_asks_by_id_in_one_call() -> None:
    assert PRO.status_command("t", ["1[].s", "2.s"]) == [
        "qstat",
        "-f",
        "-F",
        "json",
        "-t",
        "1[].s",
        "2.s",
    ]
    assert TORQUE.status_command("t", ["1[].s"]) == ["qstat", "-f", "-x", "-t", "1[].s"]
    assert PRO.status_command("t", None)[-1] == "-t"  # every job: finding a lost batch


def test_parse_status_of_a_pbs_pro_array() -> None:
    view = PRO.parse_status(recorded("qstat_json_array.json"))
    array = view["4107[].pbs01"]
    assert array.runs("/shared/jobs/batches/000000007/batch.sh", "swf-0123456789")
    assert array.is_pending(4) and array.is_pending(5) and not array.is_pending(2)
    states = {index: task.state for index, task in array.tasks.items()}
    assert states == {
        0: TaskState.FINISHED,
        1: TaskState.FINISHED,
        2: TaskState.RUNNING,
        3: TaskState.RUNNING,
        4: TaskState.PENDING,
        5: TaskState.PENDING,
    }
    assert "Exit_status=271" in array.tasks[1].reason
    assert "Insufficient amount of resource" in array.tasks[4].reason


def test_parse_status_of_a_finished_plain_job_and_of_nothing() -> None:
    view = PRO.parse_status(recorded("qstat_json_plain_finished.json"))
    job = view["4108.pbs01"]
    assert job.tasks[0].state is TaskState.FINISHED and "Exit_status=3" in job.tasks[0].reason
    assert job.runs("/shared/jobs/batches/000000008/batch.sh", "swf-0123456789")
    assert PRO.parse_status('{"timestamp":1,"pbs_version":"22.05.11","pbs_server":"s"}') == {}
    assert PRO.parse_status("") == {}


def test_parse_status_of_torque_xml() -> None:
    view = TORQUE.parse_status(recorded("qstat_xml_torque.xml"))
    array = view["5521[].torque01"]
    assert [array.tasks[i].state for i in range(3)] == [
        TaskState.FINISHED,
        TaskState.RUNNING,
        TaskState.PENDING,
    ]
    assert array.runs("/shared/jobs/batches/000000009/batch.sh", "swf-0123456789")


def test_forgotten_ids_are_a_partial_answer_a_dead_server_is_unavailable() -> None:
    assert PRO.partial_status(153, recorded("qstat_unknown_stderr.txt"))
    assert TORQUE.partial_status(153, "qstat: Unknown Job Id Error 5521[].torque01\n")
    assert PRO.partial_status(35, recorded("qstat_history_stderr.txt"))
    assert not PRO.partial_status(0, "qstat: PBS is not configured to maintain job history 1\n")
    assert not PRO.partial_status(2, "qstat: illegal -F value\n")
    assert not PRO.partial_status(1, "")
    down = "Connection refused\nqstat: cannot connect to server pbs01 (errno=15010)\n"
    assert PRO.unavailable(218, down) and not PRO.unavailable(170, "qsub: Unknown queue\n")


def test_qdel_takes_every_target_in_one_call() -> None:
    assert PRO.cancel_command(["4107[].pbs01", "4109[3].pbs01"]) == [
        "qdel",
        "4107[].pbs01",
        "4109[3].pbs01",
    ]


def test_the_flavor_comes_from_qstat_version() -> None:
    assert flavor_of(recorded("qstat_version_pbspro.txt")) is Flavor.PBSPRO
    assert flavor_of(recorded("qstat_version_torque.txt")) is Flavor.TORQUE
    assert flavor_of("version: 2.4.16\n") is Flavor.TORQUE
    with pytest.raises(DRMError, match="not PBS's"):
        flavor_of("qstat (GNU) 1.0")
    with pytest.raises(DRMError, match="--version failed"):
        detect_flavor(lambda argv: (127, "", "no such file"))
    grid_engine = "SGE 8.1.9\nusage: qstat [options]\n        [-ext]   view additional attributes\n"
    with pytest.raises(DRMError, match=r"Grid Engine's \(SGE 8.1.9\), not PBS's$"):
        detect_flavor(lambda argv: (1, grid_engine, ""))


def test_a_lost_batch_is_found_by_its_name_and_script_even_with_spaces_in_its_path() -> None:
    """PBS joins qsub's arguments with spaces: the script is matched by their end."""
    script = "/shared/my jobs/batches/000000003/batch.sh"
    arguments = f"-N swf-1 -V -j oe -o /shared/my jobs/batches/000000003/0.log {script}"
    array = ArrayView(script=arguments, name="swf-1")
    assert array.runs(script, "swf-1")
    assert not array.runs(script, "swf-2")  # another engine's job
    assert not array.runs("/shared/my jobs/batches/000000004/batch.sh", "swf-1")
    assert not array.runs("/my jobs/batches/000000003/batch.sh", "swf-1")
