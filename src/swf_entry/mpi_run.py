"""``swf mpi-run``: one workflow inside one MPI allocation (pilot mode).

Every rank runs this entry. Rank 0 runs the engine, its store on the shared file system,
with the ``MpiScheduler`` adapter behind the usual ``Scheduler`` port; the other ranks
run the jobs (``Worker``), each as many at once as it has cores, and so does a child
process of rank 0 when asked (``--rank0-cores``). Rank 0 also serves the
commands clients drop in the state directory (``swf stop``, ``swf restart``... from a
login node) and says in ``runner.json`` that it drives the directory.

Running the same command again resumes: the workflow is found in the store by its name,
jobs that ended well are not run again, and jobs that were running when the allocation
ended (or that failed) run again, as ``swf restart`` would do.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swf_domain.errors import ConfigurationError, EngineError, SomaWorkflowError
from swf_domain.model import Workflow
from swf_domain.serialization import workflow_to_dict
from swf_domain.status import WorkflowStatus

if TYPE_CHECKING:
    from swf_adapters.config import ResourceConfig
    from swf_adapters.schedulers.mpi import MpiScheduler
    from swf_adapters.schedulers.mpi.piped import LocalWorkerProcess
    from swf_app.service import EngineService
    from swf_entry.composition import ClientOptions

_log = logging.getLogger("swf.mpi.run")

#: How often rank 0 looks for dropped commands and for the end of its workflows.
CONTROL_POLL = 0.5
RUNNER_KIND = "mpi"


@dataclass(frozen=True, slots=True)
class MpiRunOptions:
    """The command line of ``swf mpi-run`` (soma's runner options where they map)."""

    #: The workflow to run or resume (None: ``restart_id`` names a stored one).
    workflow_file: Path | None
    name: str | None = None
    #: Cores each worker rank uses (default: this node's cores shared among its ranks).
    cores_per_rank: int | None = None
    #: Tries of a job that does not say (soma's --nb_attempt_per_job; default: the
    #: resource's MAX_ATTEMPTS, else 1); the engine retries, as on every scheduler.
    attempts: int | None = None
    #: Seconds a job may run (default: the resource's MPI_JOB_TIMEOUT, else no limit).
    job_timeout: float | None = None
    #: Seconds of silence after which a worker rank is taken for dead.
    worker_timeout: float = 30.0
    #: Write rank 0's figures (jobs, messages, CPU) there at the end, as JSON.
    stats_file: Path | None = None
    #: Jobs at once beside the engine on rank 0 (a child process of rank 0); 0: none.
    rank0_cores: int = 0
    #: Restart this stored workflow instead of running a file (soma's ``-r WF_ID``).
    restart_id: int | None = None


def mpi_run(options: MpiRunOptions, client: ClientOptions) -> int:
    """Run on every rank; the exit code is 0 when every job of the workflow succeeded."""
    comm = _world()
    cores = options.cores_per_rank or _cores_of_this_rank(comm)
    if comm.Get_rank() != 0:
        return _run_worker(comm, cores, options)
    if comm.Get_size() < 2 and not options.rank0_cores:
        raise ConfigurationError(
            "swf mpi-run needs at least 2 MPI ranks (rank 0 runs the engine): "
            "mpirun -n K swf mpi-run ... with K >= 2, or --rank0-cores N"
        )
    return _run_engine_rank(comm, options, client)


def _world() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ConfigurationError(
            f"swf mpi-run needs mpi4py and an MPI library ({error}): pip install 'swf[mpi]'"
            " (or mpi4py over your cluster's MPI)"
        ) from None
    return MPI.COMM_WORLD


def _cores_of_this_rank(comm: Any) -> int:
    """This node's cores shared among its job-running ranks (collective: every rank)."""
    from mpi4py import MPI

    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        runs_jobs = 0 if comm.Get_rank() == 0 else 1
        job_ranks_here = int(node.allreduce(runs_jobs))
    finally:
        node.Free()
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    total = available or os.cpu_count() or 1
    return max(1, total // max(1, job_ranks_here))


def heartbeat_interval(worker_timeout: float) -> float:
    """Ranks that have nothing to say still say so this often: four times per timeout."""
    return min(2.0, worker_timeout / 4)


# -- worker ranks ------------------------------------------------------------------------


def _run_worker(comm: Any, cores: int, options: MpiRunOptions) -> int:
    from swf_adapters.schedulers.mpi import Worker
    from swf_adapters.schedulers.mpi.channel import MpiChannel

    worker = Worker(
        MpiChannel(comm),
        cores,
        heartbeat=heartbeat_interval(options.worker_timeout),
        master_timeout=max(60.0, options.worker_timeout),
    )
    return worker.run()


# -- rank 0 ------------------------------------------------------------------------------


def _run_engine_rank(comm: Any, options: MpiRunOptions, client: ClientOptions) -> int:
    started = time.time()
    cpu_at_start = time.process_time()
    scheduler: MpiScheduler | None = None
    channel, ranks, local = _engine_channel(comm, options)
    try:
        scheduler, timeout = _scheduler(channel, ranks, options, client)
        outcome = _drive(scheduler, options, client, timeout)
    finally:
        if scheduler is not None:
            scheduler.dismiss_workers()
        else:
            _dismiss_without_scheduler(channel, ranks)
        if local is not None:
            local.end()
    if options.stats_file is not None and scheduler is not None:
        _write_stats(options.stats_file, scheduler, outcome, started, cpu_at_start)
    return 0 if outcome.get("succeeded") else 1


def _engine_channel(
    comm: Any, options: MpiRunOptions
) -> tuple[Any, list[int], LocalWorkerProcess | None]:
    """Rank 0's channel to the workers, their ranks, and its own job slots' process
    (``--rank0-cores``: a child process, so that jobs never share the engine's
    interpreter; it is "rank 0" to the adapter)."""
    from swf_adapters.schedulers.mpi.channel import MpiChannel
    from swf_adapters.schedulers.mpi.piped import RANK0, LocalWorkerProcess, RoutedChannel
    from swf_adapters.schedulers.mpi.worker import job_environment

    channel, ranks = MpiChannel(comm), list(range(1, comm.Get_size()))
    if not options.rank0_cores:
        return channel, ranks, None
    beat = heartbeat_interval(options.worker_timeout)
    local = LocalWorkerProcess(options.rank0_cores, beat, job_environment(os.environ))
    return RoutedChannel(channel, {RANK0: local.channel}), [RANK0, *ranks], local


def _scheduler(
    channel: Any, ranks: list[int], options: MpiRunOptions, client: ClientOptions
) -> tuple[MpiScheduler, float | None]:
    from swf_adapters.schedulers.mpi import MpiScheduler
    from swf_entry.composition import resource_config

    config = resource_config(client)
    timeout = options.job_timeout
    if timeout is None and config.mpi_job_timeout is not None:
        timeout = float(config.mpi_job_timeout)
    scheduler = MpiScheduler(
        channel,
        ranks,
        job_timeout=timeout,
        worker_timeout=options.worker_timeout,
        heartbeat=heartbeat_interval(options.worker_timeout),
    )
    return scheduler, timeout


def _drive(
    scheduler: MpiScheduler, options: MpiRunOptions, client: ClientOptions, timeout: float | None
) -> dict[str, Any]:
    """Lock the state directory, run the engine, serve commands until the work is done."""
    from swf_adapters.transport.filedrop import ControlLayout, ControlServer
    from swf_adapters.transport.pyro.local_daemon import (
        EngineLayout,
        lock_holder,
        take_engine_lock,
    )
    from swf_entry.composition import build_service, resource_config

    ending = _told_to_end()
    config = _runner_config(resource_config(client), options)
    workflow, name = _target(options)
    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    layout = EngineLayout.of(config.state_dir)
    lock = take_engine_lock(layout)
    if lock is None:
        raise EngineError(
            f"another engine (pid {lock_holder(layout)}) drives {config.state_dir}: stop it"
            " first (`swf engine stop`), or give this run its own --home"
        )
    details = {
        "workflow_file": str(options.workflow_file.resolve()) if options.workflow_file else None,
        "name": name,
        "ranks": 1 + sum(worker["rank"] != 0 for worker in scheduler.workers()),
        "rank0_cores": options.rank0_cores,
        "attempts": config.max_attempts,
        "job_timeout": timeout,
    }
    control = ControlServer(ControlLayout(config.state_dir), None, RUNNER_KIND, details)
    try:
        control.begin()  # first: no client may start an engine of its own here
        service = build_service(config, scheduler=scheduler)
    except BaseException:
        control.end()
        os.close(lock)
        raise
    control.service = service
    try:
        control.update({"workers": scheduler.workers()})
        began, cpu_began = time.time(), time.process_time()
        workflow_id, resumed = _submit_or_resume(service, workflow, name, options.restart_id)
        del workflow  # the engine holds its own copy
        _freeze_the_heap()
        _log.info("workflow %s (%s) %s", workflow_id, name, "resumed" if resumed else "submitted")
        submitted, cpu_submitted = time.time(), time.process_time()
        _serve_until_done(service, control, workflow_id, ending)
        outcome = _outcome(service, workflow_id, name, resumed)
        outcome["submit_seconds"] = submitted - began
        outcome["submit_cpu_seconds"] = cpu_submitted - cpu_began
        outcome["run_seconds"] = time.time() - submitted
        outcome["run_cpu_seconds"] = time.process_time() - cpu_submitted
        return outcome
    finally:
        service.shutdown()
        control.end()
        os.close(lock)


def _freeze_the_heap() -> None:
    """The workflow just taken in lives until the run ends: moved out of the cyclic
    collector's sight (``gc.freeze``), the full collections the run's allocations
    trigger no longer walk it again and again (the collector took about a tenth of rank
    0's CPU per job). Rank 0 is a run-to-completion process: what is frozen and later
    becomes cyclic garbage is only freed at its exit (no collection first: it would walk
    a million-job workflow for seconds to find little)."""
    gc.freeze()


def _runner_config(config: ResourceConfig, options: MpiRunOptions) -> ResourceConfig:
    """The resource as the runner's options amend it (attempts per job)."""
    if options.attempts is None:
        return config
    return dataclasses.replace(config, max_attempts=options.attempts)


def _target(options: MpiRunOptions) -> tuple[Workflow | None, str]:
    """The workflow of the file (None for a restart by id) and the name to run it under."""
    from swf_entry.workflow_files import load_workflow_file

    if options.workflow_file is None:
        return None, options.name or f"workflow {options.restart_id}"
    workflow = load_workflow_file(options.workflow_file)
    return workflow, options.name or workflow.name or options.workflow_file.stem


def _submit_or_resume(
    service: EngineService, workflow: Workflow | None, name: str, restart_id: int | None
) -> tuple[int, bool]:
    """The id of the workflow called ``name``: the stored one resumed, or a new one (or
    the stored one of id ``restart_id``, restarted: soma's ``-r``)."""
    if workflow is None:
        return _restart_stored(service, restart_id), True
    document = workflow_to_dict(workflow)
    known = [wf_id for wf_id, info in service.workflows().items() if info.name == name]
    if not known:
        # jobs without a working directory run where mpirun was started, as its ranks do
        return service.submit_workflow(document, name, working_directory=os.getcwd()), False
    workflow_id = max(known)
    stored = service.workflow_document(workflow_id)
    stored_jobs, jobs = len(stored.get("jobs", ())), len(document.get("jobs", ()))
    if stored_jobs != jobs:
        raise ConfigurationError(
            f"workflow {name!r} (id {workflow_id}) in the store has {stored_jobs} jobs but"
            f" the file has {jobs}: resume it with the file it was started from, or give"
            " this one another --name"
        )
    service.restart_workflow(workflow_id)
    return workflow_id, True


def _restart_stored(service: EngineService, workflow_id: int | None) -> int:
    if workflow_id is None or workflow_id not in service.workflows():
        raise ConfigurationError(
            f"no workflow {workflow_id} in this store to restart (swf list shows them):"
            " give the workflow file instead, the same file resumes it"
        )
    service.restart_workflow(workflow_id)
    return workflow_id


def _told_to_end() -> threading.Event:
    """Set by SIGTERM (the batch system's warning before the walltime) or SIGINT.

    Installed before the workflow is submitted: a signal during a long submission would
    otherwise end rank 0 at once, leaving ``runner.json`` saying it still runs and the
    launcher killing the workers before they end their jobs.
    """
    ending = threading.Event()

    def on_terminate(signum: int, frame: object) -> None:
        _log.warning(
            "told to end (signal %d): the workflow stops here; run again to resume", signum
        )
        ending.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_terminate)
    return ending


def _serve_until_done(
    service: EngineService, control: Any, workflow_id: int, ending: threading.Event
) -> None:
    """Serve dropped commands until no workflow of the directory is left unfinished
    (workflows submitted from outside meanwhile included), or until told to end."""
    while not ending.is_set():
        control.poll()
        if service.is_idle():
            return
        if service.wait_workflow(workflow_id, CONTROL_POLL) and not service.is_idle():
            time.sleep(CONTROL_POLL)


def _outcome(service: EngineService, workflow_id: int, name: str, resumed: bool) -> dict[str, Any]:
    counts = service.status_summary(workflow_id) if service.workflow_status(workflow_id) else {}
    status = service.workflow_status(workflow_id)
    total = sum(counts.values())
    failed = total - counts.get("done", 0)
    _log.info("workflow %s (%s) ended: %s", workflow_id, name, counts)
    return {
        "workflow_id": workflow_id,
        "name": name,
        "resumed": resumed,
        "status": status,
        "counts": counts,
        "succeeded": status == WorkflowStatus.DONE.value and failed == 0,
    }


def submit_pilot(
    workflow_file: Path,
    name: str,
    tasks: int,
    sbatch_options: list[str],
    client: ClientOptions,
) -> dict[str, Any]:
    """``swf submit --pilot``: ONE allocation of a SLURM resource runs ``swf mpi-run``.

    The pilot lives in ``STATE_DIR/pilots/NAME`` (store, control files, outputs): the same
    name again resumes it there.
    """
    from swf_adapters.schedulers.mpi.pilot import PilotRequest
    from swf_adapters.schedulers.mpi.pilot import submit_pilot as submit
    from swf_entry.composition import resource_config

    config = resource_config(client)
    if config.scheduler_type != "slurm":
        raise ConfigurationError(
            f"resource {config.resource_id!r}: --pilot needs SCHEDULER_TYPE = slurm, not"
            f" {config.scheduler_type!r} (elsewhere: mpirun -n K swf mpi-run FILE)"
        )
    if not workflow_file.exists():
        raise ConfigurationError(f"{workflow_file}: no such file")
    home = config.state_dir / "pilots" / name
    swf_options: list[str] = []
    if client.config_file is not None:
        swf_options += ["--config", str(client.config_file)]
    if client.resource_id is not None:
        swf_options += ["--resource", client.resource_id]
    request = PilotRequest(
        workflow_file=workflow_file,
        name=name,
        tasks=tasks,
        home=home,
        sbatch_options=sbatch_options,
        swf_options=swf_options,
    )
    job_id = submit(request)
    return {"slurm_job": job_id, "home": str(home), "name": name, "tasks": tasks}


def _dismiss_without_scheduler(channel: Any, ranks: list[int]) -> None:
    """Rank 0 failed before it had a scheduler: still send the workers home."""
    from swf_adapters.schedulers.mpi import wire

    for rank in ranks:
        channel.send(rank, wire.ORDERS, wire.orders([], [], stop=True))
    deadline = time.monotonic() + 5
    while not channel.flush() and time.monotonic() < deadline:
        time.sleep(0.001)


def _write_stats(
    path: Path,
    scheduler: MpiScheduler,
    outcome: dict[str, Any],
    started: float,
    cpu_at_start: float,
) -> None:
    stats = {
        **outcome,
        "wall_seconds": time.time() - started,
        "rank0_cpu_seconds": time.process_time() - cpu_at_start,
        "traffic": scheduler.traffic.as_dict(),
        "workers": scheduler.workers(),
    }
    path.write_text(json.dumps(stats, indent=2) + "\n")


__all__ = ["MpiRunOptions", "SomaWorkflowError", "mpi_run"]
