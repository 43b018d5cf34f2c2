"""The batch clusters the cluster suites run on, and what differs between them.

``test_cluster_scenarios.py`` (the facade scenarios) and ``test_cluster_crash.py`` (the
kill -9 loop) run once per entry of ``CLUSTER_BACKENDS``. Everything a test needs to know
about one cluster is a field of its ``ClusterBackend``; the tests themselves are written
once.

To put another cluster through both suites (PBS Pro stand-ins...): write its
``ClusterBackend`` (a ``require`` that fails when the test command was supposed to provide
the cluster and skips otherwise, its ``SCHEDULER_TYPE``, how it refuses a bad native
specification, how its variables show the resources a job got) and append it to
``CLUSTER_BACKENDS`` below, with its pytest mark.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.sge_fixtures import QMASTER_PID, require_sge
from tests.integration.slurm_fixtures import SLURMCTLD_PID, require_slurm


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

    def resource(self) -> str:
        """The configuration lines that make a resource this cluster."""
        return (
            f"SCHEDULER_TYPE = {self.scheduler_type}\n"
            f"SUBMITTING_MACHINES = {socket.gethostname()}\n"
            "POLL_INTERVAL_MIN = 0.2\nPOLL_INTERVAL_MAX = 1\n"
        )


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
)

#: THE list of clusters both suites run on: append a backend here (one line).
CLUSTER_BACKENDS: list[ClusterBackend] = [SLURM, SGE]


def cluster_params() -> list[object]:
    """``CLUSTER_BACKENDS`` as pytest params, each with its mark and its name as id."""
    return [pytest.param(b, marks=b.mark, id=b.name) for b in CLUSTER_BACKENDS]
