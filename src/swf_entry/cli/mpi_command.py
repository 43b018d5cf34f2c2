"""``swf mpi-run``: the CLI side of the MPI runner (``swf_entry.mpi_run`` does the work)."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from swf_entry.cli.app import (
    EXIT_BAD_INPUT,
    app,
    ctx,
    emit_json,
    fail,
    guarded,
    load_file,
    say,
)

#: Where MPICH, Open MPI and SLURM say which rank a process is.
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID")


@app.command("mpi-run")
def mpi_run(
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="FILE",
            help="Workflow file (.json or .py); with --workflow or -r: the resource id (soma's"
            " spelling).",
        ),
    ] = None,
    workflow_file: Annotated[
        Path | None,
        typer.Option("--workflow", help="Workflow file (soma's spelling of FILE)."),
    ] = None,
    restart: Annotated[
        int | None,
        typer.Option("--restart", "-r", help="Restart this stored workflow (id) instead."),
    ] = None,
    deploy_epd: Annotated[
        str | None, typer.Option("--deploy_epd", "--untar_dir", hidden=True)
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Workflow name: the same name again resumes it (default: its own)."),
    ] = None,
    cores_per_rank: Annotated[
        int | None,
        typer.Option(
            "--cores-per-rank", min=1, help="Jobs at once per worker rank (default: its cores)."
        ),
    ] = None,
    attempts: Annotated[
        int | None,
        typer.Option(
            "--nb-attempt-per-job",
            "--nb_attempt_per_job",
            min=1,
            help="Tries of a job that does not say (default: MAX_ATTEMPTS, else 1).",
        ),
    ] = None,
    job_timeout: Annotated[
        float | None,
        typer.Option(
            "--job-timeout", min=0.001, help="Seconds a job may run (default: MPI_JOB_TIMEOUT)."
        ),
    ] = None,
    worker_timeout: Annotated[
        float,
        typer.Option(
            "--worker-timeout", min=0.5, help="Seconds of silence after which a rank is dead."
        ),
    ] = 30.0,
    rank0_cores: Annotated[
        int,
        typer.Option(
            "--rank0-cores",
            min=0,
            help="Jobs at once beside the engine on rank 0 (a child process); 0: none.",
        ),
    ] = 0,
    stats: Annotated[
        Path | None, typer.Option(help="Write rank 0's figures there (JSON) at the end.")
    ] = None,
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level", "--log_level", help="Runner log level (a name, or soma's 10-50)."
        ),
    ] = "WARNING",
) -> None:
    """Run a workflow inside an MPI allocation: `mpirun -n K swf mpi-run FILE`.

    Rank 0 runs the engine (its store in the state directory, on the shared file
    system); the other ranks run the jobs, as many at once as they have cores. Running
    the same command again resumes the workflow: what ended well is not run again.
    Watch and steer it from anywhere that sees the state directory: swf status / logs /
    wait / stop / restart with the same --home or resource.

    Example: mpirun -n 9 swf --home /scratch/me/run1 mpi-run pipeline.json --name run1
    """
    from swf_entry.mpi_run import MpiRunOptions
    from swf_entry.mpi_run import mpi_run as run

    rank = next(
        (os.environ[name] for name in _RANK_VARIABLES if name in os.environ), "?"
    )  # MPI is not initialized yet: the launcher says which rank this is
    logging.basicConfig(
        level=int(log_level) if log_level.isdigit() else log_level.upper(),
        format=f"%(asctime)s rank{rank}[{os.getpid()}] %(name)s %(levelname)s %(message)s",
    )
    file, resource = _soma_spelling(target, workflow_file, restart, deploy_epd)
    options = MpiRunOptions(
        workflow_file=file,
        restart_id=restart,
        name=name,
        cores_per_rank=cores_per_rank,
        attempts=attempts,
        job_timeout=job_timeout,
        worker_timeout=worker_timeout,
        stats_file=stats,
        rank0_cores=rank0_cores,
    )
    client = ctx().options
    if resource is not None:
        client = dataclasses.replace(client, resource_id=resource)
    code = guarded(lambda: run(options, client))
    raise typer.Exit(code)


def _soma_spelling(
    target: str | None, workflow: Path | None, restart: int | None, deploy: str | None
) -> tuple[Path | None, str | None]:
    """(workflow file, resource id) from swf's spelling (``mpi-run FILE``) or soma's
    (``[RESOURCE] --workflow=FILE`` or ``[RESOURCE] -r WF_ID``)."""
    if deploy is not None:
        fail(
            "--deploy_epd/--untar_dir (soma's tarball deployment) are not supported:"
            " install the software on the nodes (or in a shared venv) instead",
            EXIT_BAD_INPUT,
        )
    if workflow is not None and restart is not None:
        fail("give --workflow FILE or -r WF_ID, not both", EXIT_BAD_INPUT)
    if workflow is not None or restart is not None:
        return workflow, target
    if target is None:
        fail("which workflow? swf mpi-run FILE (or --workflow FILE, or -r WF_ID)", EXIT_BAD_INPUT)
    return Path(target), None


def submit_pilot(
    file: Path, name: str | None, tasks: int, sbatch_options: list[str], as_json: bool
) -> None:
    """``swf submit FILE --pilot N``: one SLURM allocation runs the whole workflow."""
    from swf_entry.mpi_run import submit_pilot as submit

    workflow = load_file(file)
    chosen = name or workflow.name or file.stem
    outcome = guarded(lambda: submit(file, chosen, tasks, sbatch_options, ctx().options))
    if as_json:
        emit_json(outcome)
        return
    say(f"pilot submitted: SLURM job {outcome['slurm_job']}, {tasks} tasks, workflow {chosen!r}")
    say(f"watch it: swf --home {outcome['home']} status {chosen}")
