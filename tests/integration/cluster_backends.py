"""The batch clusters the cluster suites run on, and what differs between them.

``test_cluster_scenarios.py`` (the facade scenarios) and ``test_cluster_crash.py`` (the
kill -9 loop) run once per entry of ``CLUSTER_BACKENDS``. Everything a test needs to know
about one cluster is a field of its ``ClusterBackend``; the tests themselves are written
once.

To put another cluster through both suites: write its ``ClusterBackend`` (a ``require``
that fails when the test command was supposed to provide the cluster and skips otherwise,
its ``SCHEDULER_TYPE``, how it refuses a bad native specification, how its variables show
the resources a job got; ``activate`` when the tests start the cluster themselves, as the
PBS stand-ins; ``silence`` when stopping a daemon is not how it goes silent) and append it
to ``CLUSTER_BACKENDS`` below, with its pytest mark.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.sge_fixtures import QMASTER_PID, require_sge
from tests.integration.slurm_fixtures import SLURMCTLD_PID, require_slurm
from tests.pbs.standin import PbsStandIn


@dataclass(frozen=True)
class ResourceProbe:
    """A job that prints the resources it got: ``show`` writes them to the file ``$0``."""

    show: str
    #: Native specification of the wide job (its nodes and cpus per node come from
    #: parallel_job_info).
    native: str
    nodes: int
    cpus: int
    queue: str
    #: What the wide job and the plain job print (split on white space).
    wide: list[str]
    plain: list[str]


#: PARALLEL_ENV_MPI_BIN of every cluster resource: parallel jobs see it, others do not.
MPI_BIN = "/opt/swf-test-mpi/bin"


@dataclass(frozen=True)
class ParallelProbe:
    """Jobs of each parallel kind on 1 node x 2 CPUs: ``show`` writes to the file ``$0``
    the cluster's variables for what they got, then PARALLEL_ENV_MPI_BIN (or "none")."""

    show: str
    #: What it prints, by kind (``MPI``, ``OpenMP``) and for a ``plain`` job.
    seen: dict[str, list[str]]


@dataclass(frozen=True)
class ClusterBackend:
    """One cluster as the suites see it."""

    name: str
    scheduler_type: str
    #: Fails or skips the test when no cluster answers (see the fixtures modules).
    require: Callable[[], None]
    mark: pytest.MarkDecorator
    #: How the adapter names the cluster in messages ("SLURM refused the job...").
    system_name: str
    #: The daemon SIGSTOPped to make the cluster silent.
    controller_pid_file: Path
    #: Two native specifications the cluster refuses, each with a word its refusal says.
    refused: tuple[tuple[str | list[str], str], tuple[str | list[str], str]]
    #: Between a cluster job id and the task index in the ids users are shown.
    task_separator: str
    probe: ResourceProbe
    parallel: ParallelProbe
    #: A native specification asking ``{attempt*100}`` of something, and the variable
    #: (shell syntax) in which the job sees how much it got.
    per_attempt: tuple[str, str]
    #: The resource's parallel options (soma's ``MPI = <cluster name>`` lines).
    parallel_config: str = ""
    #: Brings the cluster up for a module or a test (given a directory of its own), when
    #: the tests start it themselves; the real clusters are started by scripts/test.sh.
    activate: Callable[[Path], AbstractContextManager[None]] = lambda _: contextlib.nullcontext()
    #: Makes the cluster silent meanwhile (default: SIGSTOP its controller daemon).
    silence: Callable[[], AbstractContextManager[None]] | None = None

    def silenced(self) -> AbstractContextManager[None]:
        return self.silence() if self.silence else _stopped(self.controller_pid_file)

    def resource(self) -> str:
        """The configuration lines that make a resource this cluster."""
        return (
            f"SCHEDULER_TYPE = {self.scheduler_type}\n"
            f"SUBMITTING_MACHINES = {socket.gethostname()}\n"
            "POLL_INTERVAL_MIN = 0.2\nPOLL_INTERVAL_MAX = 1\n"
            f"PARALLEL_ENV_MPI_BIN = {MPI_BIN}\n{self.parallel_config}"
        )


#: A probe's command: the cluster's variables, OMP_NUM_THREADS (set for OpenMP jobs
#: only), then PARALLEL_ENV_MPI_BIN, into ``$0``.
_SHOW_PARALLEL = 'echo "{} ${{OMP_NUM_THREADS:-none}} ${{PARALLEL_ENV_MPI_BIN:-}}" > "$0"'

SLURM = ClusterBackend(
    name="slurm",
    scheduler_type="slurm",
    require=require_slurm,
    mark=pytest.mark.slurm,
    system_name="SLURM",
    controller_pid_file=SLURMCTLD_PID,
    refused=(("--mem=999999999", "node configuration"), (["-p", "no_such_queue"], "partition")),
    task_separator="_",
    probe=ResourceProbe(
        show='echo "$SLURM_CPUS_PER_TASK $SLURM_MEM_PER_NODE $SLURM_JOB_PARTITION" > "$0"',
        native="--mem=100M",
        nodes=1,
        cpus=4,
        queue="short",
        wide=["4", "100", "short"],
        plain=["short"],
    ),
    parallel=ParallelProbe(
        # MPI: one task per rank; OpenMP: one task, its threads on the CPUs
        show=_SHOW_PARALLEL.format("${SLURM_NTASKS:-1} ${SLURM_CPUS_PER_TASK:-1}"),
        seen={
            "MPI": ["2", "1", "none", MPI_BIN],
            "OpenMP": ["1", "2", "2", MPI_BIN],
            "plain": ["1", "1", "none"],
        },
    ),
    per_attempt=("--mem={attempt*100}M", "$SLURM_MEM_PER_NODE"),
)

SGE = ClusterBackend(
    name="sge",
    scheduler_type="drmaa",
    require=require_sge,
    mark=pytest.mark.sge,
    system_name="Grid Engine (DRMAA)",
    controller_pid_file=QMASTER_PID,
    refused=(
        ("-l no_such_resource=1", "no_such_resource"),
        (["-q", "no_such_queue"], "no_such_queue"),
    ),
    task_separator=".",
    probe=ResourceProbe(
        show='echo "$NSLOTS $QUEUE $SWF_NATIVE $PE" > "$0"',
        native="-v SWF_NATIVE=yes",
        nodes=2,
        cpus=2,
        queue="all.q",
        # 2 nodes x 2 cpus -> -pe smp 4: the PE spreads the 4 slots over the cell's hosts
        # (one here, as allocation_rule $pe_slots puts them on one host anyway).
        wide=["4", "all.q", "yes", "smp"],
        plain=["1", "all.q"],
    ),
    parallel=ParallelProbe(
        show=_SHOW_PARALLEL.format("$NSLOTS ${PE:-none}"),
        seen={
            "MPI": ["2", "smp", "none", MPI_BIN],
            "OpenMP": ["2", "smp", "2", MPI_BIN],
            "plain": ["1", "none", "none"],
        },
    ),
    per_attempt=("-v SWF_GROWN={attempt*100}", "$SWF_GROWN"),
    parallel_config="MPI = smp\n",  # soma's kind -> the cell's PE name
)


@contextlib.contextmanager
def _stopped(pid_file: Path) -> Iterator[None]:
    pid = int(pid_file.read_text())
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


# -- the PBS stand-ins (tests/pbs): started by the tests, first on the PATH meanwhile -------

#: The stand-in each PBS backend runs now (by flavor), for ``silence``.
_STANDINS: dict[str, PbsStandIn] = {}


def _standin(flavor: str) -> Callable[[Path], AbstractContextManager[None]]:
    @contextlib.contextmanager
    def activate(root: Path) -> Iterator[None]:
        server = PbsStandIn(root / "pbs", flavor, cores=8)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PATH", server.environment()["PATH"])  # the engine daemon's too
            server.start()
            _STANDINS[flavor] = server
            try:
                yield
            finally:
                _STANDINS.pop(flavor, None)
                server.stop()

    return activate


def _server_down(flavor: str) -> Callable[[], AbstractContextManager[None]]:
    @contextlib.contextmanager
    def silence() -> Iterator[None]:
        server = _STANDINS[flavor]
        server.go_down()  # every command: "cannot connect to server"
        try:
            yield
        finally:
            server.come_up()

    return silence


def _pbs(
    flavor: str, system_name: str, cpus_variable: str, sets_omp: bool = False
) -> ClusterBackend:
    """``sets_omp``: the server itself sets OMP_NUM_THREADS to every job's ncpus (PBS Pro
    does), so jobs that are not OpenMP have it too."""
    return ClusterBackend(
        name=f"{flavor}-standin",
        scheduler_type="pbspro",
        require=lambda: None,
        mark=pytest.mark.pbs,
        system_name=system_name,
        controller_pid_file=Path("/nonexistent"),
        refused=(
            ("-l mem=999999gb", "resource limits"),
            (["-q", "no_such_queue"], "Unknown queue"),
        ),
        task_separator="[",
        probe=ResourceProbe(
            show=f'echo "${cpus_variable} $PBS_QUEUE $SWF_NATIVE" > "$0"',
            native="-v SWF_NATIVE=yes",
            nodes=1,
            cpus=4,
            queue="short",
            wide=["4", "short", "yes"],
            plain=["1", "short"],
        ),
        parallel=ParallelProbe(
            show=_SHOW_PARALLEL.format(f"${cpus_variable}"),
            seen={
                "MPI": ["2", "2" if sets_omp else "none", MPI_BIN],
                "OpenMP": ["2", "2", MPI_BIN],
                "plain": ["1", "1" if sets_omp else "none"],
            },
        ),
        per_attempt=("-v SWF_GROWN={attempt*100}", "$SWF_GROWN"),
        activate=_standin(flavor),
        silence=_server_down(flavor),
    )


PBSPRO = _pbs("pbspro", "PBS Pro", "NCPUS", sets_omp=True)
TORQUE = _pbs("torque", "Torque", "PBS_NUM_PPN")

#: THE list of clusters both suites run on: append a backend here (one line).
CLUSTER_BACKENDS: list[ClusterBackend] = [SLURM, SGE, PBSPRO, TORQUE]


def cluster_params() -> list[object]:
    """``CLUSTER_BACKENDS`` as pytest params, each with its mark and its name as id."""
    return [pytest.param(b, marks=b.mark, id=b.name) for b in CLUSTER_BACKENDS]
