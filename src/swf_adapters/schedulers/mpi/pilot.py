"""The SLURM pilot: ONE allocation that runs ``swf mpi-run`` on a workflow.

Instead of one cluster job per workflow job, ``swf submit FILE --pilot N`` writes a batch
script that starts N ranks with ``srun --mpi=pmi2`` (or the MPI's ``mpiexec``) running
``swf mpi-run``, and hands it to ``sbatch``. The pilot keeps its state (store, control
directory, job outputs) in a directory of its own, so it never competes with the
resource's engine daemon; clients reach it there like any runner (``swf --home DIR``).

Until the allocation starts, ``runner.json`` already says that a runner will drive the
directory (``queued``, with the SLURM job id), so no client starts an engine there.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from swf_adapters.transport.filedrop.layout import ControlLayout, write_runner
from swf_domain.errors import DRMError

LAUNCHERS = ("srun", "mpiexec")


@dataclass(frozen=True, slots=True)
class PilotRequest:
    """What to submit: the workflow, where the pilot lives, how many ranks."""

    workflow_file: Path
    name: str
    tasks: int
    home: Path
    #: Options of ``swf mpi-run`` (``--nb_attempt_per_job 3``...), passed on as they are.
    runner_options: Sequence[str] = ()
    #: Options for ``sbatch`` itself (``--time=02:00:00``, ``--partition=short``...).
    sbatch_options: Sequence[str] = ()
    #: Global options of ``swf`` (``--config FILE``, ``--resource R``).
    swf_options: Sequence[str] = ()
    launcher: str = "srun"
    working_directory: Path = field(default_factory=Path.cwd)


def pilot_script(request: PilotRequest) -> str:
    """The batch script (every value quoted: no shell reading of user data)."""
    if request.launcher not in LAUNCHERS:
        raise DRMError(f"pilot launcher must be one of {', '.join(LAUNCHERS)}")
    if request.tasks < 2:
        raise DRMError("a pilot needs at least 2 tasks (rank 0 runs the engine)")
    swf = Path(sys.executable).parent / "swf"
    if request.launcher == "srun":
        launch = ["srun", "--mpi=pmi2"]
    else:
        launch = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(request.tasks)]
    command = [
        *launch,
        str(swf),
        *request.swf_options,
        "--home",
        str(request.home),
        "mpi-run",
        str(request.workflow_file.resolve()),
        "--name",
        request.name,
        *request.runner_options,
    ]
    return "\n".join(
        [
            "#!/bin/sh",
            f"# swf pilot {request.name!r}: {request.tasks} ranks running swf mpi-run",
            f"cd {shlex.quote(str(request.working_directory))} || exit 1",
            "exec " + " ".join(shlex.quote(part) for part in command),
            "",
        ]
    )


def submit_pilot(request: PilotRequest, sbatch: str = "sbatch") -> str:
    """Submit the pilot; its SLURM job id. ``runner.json`` says it is queued."""
    layout = ControlLayout(request.home)
    layout.ensure()
    script = request.home / "pilot.sh"
    script.write_text(pilot_script(request))
    script.chmod(0o700)
    argv = [
        sbatch,
        "--parsable",
        f"--job-name=swf-pilot-{request.name}",
        f"--ntasks={request.tasks}",
        f"--output={request.home / 'pilot-%j.log'}",
        *request.sbatch_options,
        str(script),
    ]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DRMError(f"cannot submit the pilot with {sbatch}: {error}") from error
    if done.returncode != 0:
        raise DRMError(f"sbatch refused the pilot: {done.stderr.strip() or done.stdout.strip()}")
    job_id = done.stdout.strip().split(";")[0]
    details = {"queued": True, "slurm_job": job_id, "name": request.name, "tasks": request.tasks}
    write_runner(layout, "mpi", time.time(), details)
    return job_id
