"""The ``swf`` command line: run, submit, watch and control workflows from a terminal.

Exit codes (every command):
  0  success (for run/wait: every job succeeded)
  1  the workflow has failed jobs, or `validate` found problems
  2  usage error (bad option or argument)
  3  unknown workflow or job (id or name)
  4  invalid input (workflow file, configuration)
  5  the engine cannot be reached or refused the request
  124  `wait --timeout` expired before the workflow ended
  130  interrupted (Ctrl-C) and detached
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO, TypeVar

import typer
from rich.console import Console
from rich.live import Live
from rich.text import Text

from swf_app.read_models import WorkflowSummary, iso_date
from swf_domain.errors import (
    ConfigurationError,
    EngineError,
    JobError,
    SerializationError,
    SomaWorkflowError,
    UnknownObjectError,
    WorkflowError,
)
from swf_domain.model import Workflow
from swf_entry.cli import display, transfer_command

if TYPE_CHECKING:
    from swf_app.link import EngineLink
    from swf_entry.client import WorkflowController
    from swf_entry.composition import ClientOptions

EXIT_FAILED = 1
EXIT_NOT_FOUND = 3
EXIT_BAD_INPUT = 4
EXIT_ENGINE = 5
EXIT_TIMEOUT = 124
EXIT_INTERRUPTED = 130

#: Width of tables written to a pipe or a file: wide enough that no cell is cut ("…").
PIPE_WIDTH = 250

app = typer.Typer(
    name="swf",
    help=(
        "Run, submit, watch and control workflows of command-line jobs on your cores.\n\n"
        "Quick start:  swf demo   |   swf run pipeline.json   |   swf submit pipeline.py\n\n"
        "Workflows are soma-workflow JSON files or Python files exposing `workflow` or "
        "`build()`. Workflows and jobs are addressed by id or by name."
    ),
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
engine_app = typer.Typer(
    help=(
        "Start, stop or inspect the engine daemon. Clients start it on demand; it exits "
        "after ENGINE_IDLE_TIMEOUT with nothing to do. Stopping it never kills jobs.\n\n"
        "\b\nExamples:\n"
        "  swf engine status            where it runs, since when, what it holds\n"
        "  swf engine status --json     the same for scripts (null if none runs)\n"
        "  swf engine stop              e.g. before changing the configuration\n"
        "  swf --home ./run1 engine start"
    ),
    no_args_is_help=True,
)
config_app = typer.Typer(
    help=(
        "Show the configuration in use: which file, which resource, and each value with "
        "where it came from.\n\n"
        "\b\nExamples:\n"
        "  swf config show\n"
        "  swf --config ./cluster.cfg -r cluster config show\n"
        "  swf config show --json | jq .values.cpu_nb"
    ),
    no_args_is_help=True,
)
app.add_typer(engine_app, name="engine")
app.add_typer(config_app, name="config")


@dataclass(slots=True)
class Context:
    resource: str | None
    config: Path | None
    home: Path | None
    debug: bool
    console: Console
    errors: Console
    #: Cores for this command's engine (``run -j``), None: the configuration's.
    cpu_nb: int | None = None

    @property
    def options(self) -> ClientOptions:
        # Imported here: the composition root loads the store and the engine, which
        # `--help` and `validate` do not need.
        from swf_entry.composition import ClientOptions

        return ClientOptions(
            resource_id=self.resource,
            config_file=self.config,
            home=self.home,
            cpu_nb=self.cpu_nb,
            ask_password=_ask_password if sys.stdin.isatty() else None,
        )


def _ask_password(prompt: str) -> str:
    """The SSH password, typed on the terminal without echo (never logged nor kept)."""
    import getpass

    return getpass.getpass(prompt)


STATE: dict[str, Context] = {}

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
WorkflowArg = Annotated[str, typer.Argument(help="Workflow id or name.")]


@app.callback()
def main_options(
    resource: Annotated[
        str | None, typer.Option("--resource", "-r", help="Resource id (config section).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Configuration file (default: $SWF_CONFIG, "
            "$SOMA_WORKFLOW_CONFIG, ~/.soma-workflow.cfg).",
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="SWF_HOME",
            help="Keep the engine, database and job files in this directory.",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Global options, shared by every command."""
    STATE["ctx"] = Context(
        resource=resource,
        config=_absolute(config),
        home=_absolute(home),
        debug=debug,
        console=make_console(sys.stdout),
        errors=make_console(sys.stderr),
    )


def _absolute(path: Path | None) -> Path | None:
    """The engine daemon runs in another directory: hand it paths that do not depend on
    this shell's (a relative ``--config`` made the daemon fail to start)."""
    return None if path is None else path.expanduser().absolute()


def make_console(stream: TextIO) -> Console:
    """A console that never reads user text (job, file, workflow names) as markup.

    On a pipe, tables get a wide width instead of rich's 80 columns, so that scripts
    reading ``swf status --jobs | grep`` see whole cells.
    """
    wide = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(
        file=stream,
        markup=False,
        emoji=False,
        highlight=False,
        width=PIPE_WIDTH if wide else None,
    )


def ctx() -> Context:
    return STATE["ctx"]


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr (never wrapped: scripts grep it), then exit with ``code``."""
    ctx().errors.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
    raise typer.Exit(code)


def say(message: str, style: str = "") -> None:
    """A line of text on stdout, not wrapped, never read as markup."""
    ctx().console.print(Text(message, style=style), soft_wrap=True)


T = TypeVar("T")


def guarded(action: Callable[[], T]) -> T:
    """Run ``action``, turning swf's typed errors into one clear line and an exit code."""
    try:
        return action()
    except typer.Exit:
        raise
    except UnknownObjectError as error:
        _debug_traceback(error)
        fail(str(error), EXIT_NOT_FOUND)
    except (SerializationError, WorkflowError, JobError, ConfigurationError) as error:
        _debug_traceback(error)
        fail(str(error), EXIT_BAD_INPUT)
    except EngineError as error:
        _debug_traceback(error)
        fail(f"engine: {error}", EXIT_ENGINE)
    except SomaWorkflowError as error:
        _debug_traceback(error)
        fail(str(error), EXIT_FAILED)
    except ConnectionError as error:
        _debug_traceback(error)
        fail(f"engine: {_os_error_text(error)}", EXIT_ENGINE)
    except OSError as error:  # e.g. a --home the user cannot write to
        _debug_traceback(error)
        fail(_os_error_text(error), EXIT_BAD_INPUT)


def _os_error_text(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename else ""
    return where + (error.strerror or str(error))


def _debug_traceback(error: BaseException) -> None:
    """With --debug, show the traceback too; the exit code stays the documented one."""
    if ctx().debug:
        traceback.print_exception(error, file=sys.stderr)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


@contextmanager
def controller(embedded: bool = False) -> Iterator[WorkflowController]:
    from swf_entry.composition import open_controller

    wfc = guarded(lambda: open_controller(ctx().options, embedded=embedded))
    try:
        yield wfc
    finally:
        wfc.disconnect()


@contextmanager
def reader() -> Iterator[WorkflowController]:
    """A controller for commands that only read: it starts no engine with nothing to do,
    and says so on stderr when it had to start one (an unfinished workflow needs it)."""
    from swf_entry.composition import open_reader

    wfc, started = guarded(lambda: open_reader(ctx().options))
    if started is not None:
        ctx().errors.print(
            f"note: started the engine daemon (pid {started}): unfinished workflows need it",
            soft_wrap=True,
        )
    try:
        yield wfc
    finally:
        wfc.disconnect()


# -- addressing ------------------------------------------------------------------------


def resolve_workflow(wfc: WorkflowController, ref: str) -> int:
    """A workflow id from an id or a (unique) name."""
    if ref.isdigit():
        workflow_id = int(ref)
        if workflow_id not in wfc.workflows([workflow_id]):
            raise UnknownObjectError(f"no workflow with id {workflow_id}")
        return workflow_id
    matches = [wf_id for wf_id, (name, _exp) in wfc.workflows().items() if name == ref]
    if not matches:
        raise UnknownObjectError(f"no workflow named {ref!r}")
    if len(matches) > 1:
        raise UnknownObjectError(
            f"{len(matches)} workflows are named {ref!r} (ids {', '.join(map(str, matches))}):"
            " use an id"
        )
    return matches[0]


def resolve_jobs(wfc: WorkflowController, workflow_id: int, refs: list[str]) -> list[int]:
    """Job ids of ``workflow_id`` from ids or names (a name may match several jobs)."""
    workflow = wfc.workflow(workflow_id)
    ids_by_name: dict[str, list[int]] = {}
    known_ids = set()
    for job in workflow.jobs:
        if job.job_id is not None:
            known_ids.add(job.job_id)
            ids_by_name.setdefault(str(job.name), []).append(job.job_id)
    found: list[int] = []
    for ref in refs:
        if ref.isdigit() and int(ref) in known_ids:
            found.append(int(ref))
        elif ref in ids_by_name:
            found.extend(ids_by_name[ref])
        else:
            raise UnknownObjectError(f"workflow {workflow_id} has no job {ref!r}")
    return found


def job_names(wfc: WorkflowController, workflow_id: int) -> dict[int | None, str]:
    return {job.job_id: str(job.name) for job in wfc.workflow(workflow_id).jobs}


def snapshot(
    wfc: WorkflowController, workflow_id: int, names: dict[int | None, str] | None = None
) -> display.WorkflowSnapshot:
    """The workflow's state now; pass ``names`` (job_names) when polling, so that the
    whole workflow is not fetched again at every refresh."""
    progress = wfc.link.workflow_elements_status(workflow_id)
    if names is None:
        names = job_names(wfc, workflow_id)
    name = wfc.workflows([workflow_id]).get(workflow_id, (None, None))[0]
    return display.WorkflowSnapshot.of(progress, name, names)


# -- commands --------------------------------------------------------------------------


def load_file(file: Path) -> Workflow:
    """The workflow of ``file``. What a Python workflow file prints goes to stderr: stdout
    is swf's own (``--json`` documents, the id printed by ``submit``)."""
    from swf_entry.workflow_files import load_workflow_file

    with redirect_stdout(sys.stderr):
        return guarded(lambda: load_workflow_file(file))


NO_JOBS = "the workflow has no jobs: nothing to run"


def load_runnable(file: Path) -> Workflow:
    """The workflow of ``file`` for `submit` and `run`: one without jobs is refused (a
    ``{}`` file, a list built empty by mistake) rather than run as nothing."""
    workflow = load_file(file)
    if not workflow.jobs:
        fail(f"{file}: {NO_JOBS}", EXIT_BAD_INPUT)
    return workflow


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Workflow file (.json or .py).")],
    as_json: JsonOpt = False,
) -> None:
    """Check a workflow file and list every problem found, each naming its job or field.

    Exit 0 when valid, 1 when problems were found, 4 when the file cannot be read.

    Example: swf validate pipeline.json
    """
    from swf_domain.validation import Problem
    from swf_entry.workflow_files import check_workflow_file

    try:
        with redirect_stdout(sys.stderr):  # what a Python workflow file prints
            workflow, problems = check_workflow_file(file)
    except SerializationError as error:  # nothing to check: still a report with --json
        _debug_traceback(error)
        if not as_json:
            fail(str(error), EXIT_BAD_INPUT)
        unreadable = {"error": type(error).__name__, "culprit": str(file), "message": str(error)}
        emit_json({"file": str(file), "valid": False, "jobs": None, "problems": [unreadable]})
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not workflow.jobs:  # `submit` and `run` refuse it (a Python file built empty)
        problems.append(Problem(WorkflowError, "workflow", NO_JOBS))
    if as_json:
        emit_json(
            {
                "file": str(file),
                "valid": not problems,
                "jobs": len(workflow.jobs),
                "problems": [
                    {"error": p.error.__name__, "culprit": p.culprit, "message": p.message}
                    for p in problems
                ],
            }
        )
    elif problems:
        for problem in problems:
            say(f"{file}: {problem.message}")
        say(f"{len(problems)} problem(s) found", style="red")
    else:
        say(f"{file}: valid ({len(workflow.jobs)} jobs)", style="green")
    if problems:
        raise typer.Exit(EXIT_FAILED)


def _expiration(days: float | None) -> datetime | None:
    return None if days is None else datetime.now() + timedelta(days=days)


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="Workflow file (.json or .py).")],
    name: Annotated[str | None, typer.Option(help="Name of the workflow.")] = None,
    queue: Annotated[str | None, typer.Option(help="Queue to submit the jobs to.")] = None,
    expiration: Annotated[
        float | None, typer.Option(help="Delete the workflow after this many days.")
    ] = None,
    pilot: Annotated[
        int | None,
        typer.Option(
            min=2, help="SLURM: run the whole workflow in ONE allocation of this many tasks."
        ),
    ] = None,
    sbatch_option: Annotated[
        list[str] | None, typer.Option(help="With --pilot: an sbatch option (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Hand a workflow to the engine and print its id; it runs after this command exits.

    With --pilot N (a SLURM resource), one allocation of N tasks runs `swf mpi-run` on
    the workflow instead of one cluster job per job; the command prints how to watch it.

    Example: swf submit pipeline.py --name nightly && swf status nightly
    """
    if pilot is not None:
        from swf_entry.cli.mpi_command import submit_pilot

        submit_pilot(file, name, pilot, sbatch_option or [], as_json)
        return
    workflow = load_runnable(file)
    if queue is not None:
        _check_queue(queue)
    with controller() as wfc:
        workflow_id = guarded(
            lambda: wfc.submit_workflow(workflow, _expiration(expiration), name, queue)
        )
    if as_json:
        emit_json({"id": workflow_id, "name": name or workflow.name, "jobs": len(workflow.jobs)})
    else:
        print(workflow_id)


def _check_queue(queue: str) -> None:
    """Refuse a queue the resource does not have: soma-workflow takes any name silently on
    a local resource, so a typo went unnoticed. On a cluster, the configured QUEUES (when
    any) are the ones allowed."""
    from swf_entry.composition import resource_config

    config = guarded(lambda: resource_config(ctx().options))
    local = config.scheduler_type in ("local_basic", "local")
    if queue in config.queues or (not local and not config.queues):
        return  # a cluster without QUEUES: its scheduler knows its queues (partitions)
    known = ", ".join(config.queues) if config.queues else "none configured (QUEUES)"
    fail(
        f"resource {config.resource_id!r} has no queue {queue!r} (its queues: {known})",
        EXIT_BAD_INPUT,
    )


@app.command("list")
def list_workflows(as_json: JsonOpt = False) -> None:
    """List your workflows with their status and job counts.

    Example: swf list --json
    """
    with reader() as wfc:
        # One aggregate read for the whole list: no workflow's jobs are read one by one.
        listed = guarded(wfc.link.workflow_list)
    rows = [list_row(workflow_id, summary) for workflow_id, summary in sorted(listed.items())]
    if as_json:
        emit_json(rows)
    elif not rows:
        say("no workflows")
    else:
        ctx().console.print(display.workflows_table(rows))


def list_row(workflow_id: int, summary: WorkflowSummary) -> dict[str, Any]:
    """One workflow of ``swf list --json``."""
    return {
        "id": workflow_id,
        "name": summary.name,
        "status": summary.status,
        "queue": summary.queue,
        "counts": summary.counts,
        "total": summary.total,
        "expiration": iso_date(summary.expiration_date),
        "submitted": iso_date(summary.submitted),
        "started": iso_date(summary.started),
        "ended": iso_date(summary.ended),
    }


@app.command()
def status(
    workflow: WorkflowArg,
    jobs: Annotated[bool, typer.Option("--jobs", help="List every job.")] = False,
    tree: Annotated[bool, typer.Option("--tree", help="Show the group hierarchy.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a workflow's status: counts per job status, and optionally its jobs or groups.

    Example: swf status 12 --jobs   |   swf status nightly --tree
    """
    with reader() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        # The whole workflow is fetched only when its job names or groups are shown.
        model = guarded(lambda: wfc.workflow(workflow_id)) if jobs or tree else None
        names = {job.job_id: str(job.name) for job in model.jobs} if model else {}
        snap = guarded(lambda: snapshot(wfc, workflow_id, names))
        moved = guarded(lambda: wfc.link.workflow_transfers(workflow_id)) if jobs else []
    if as_json:
        document = snap.as_json(with_jobs=jobs or tree)
        if tree and model is not None:
            document["tree"] = display.tree_json(model, snap)
        if jobs:
            document["transfers"] = transfer_command.transfers_json(moved)
        emit_json(document)
        return
    console = ctx().console
    console.print(display.summary_table(snap))
    if jobs:
        console.print(display.jobs_table(snap))
        if moved:
            console.print(transfer_command.transfers_table(moved))
    if tree and model is not None:
        console.print(display.group_tree(model, snap))


@app.command()
def wait(
    workflow: WorkflowArg,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="Give up after this many seconds (exit 124); 0: look once; "
            "negative: wait forever (soma-workflow's timeout=-1)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Wait for a workflow to end, with a progress bar; exit 1 if any job failed.

    Example: swf wait nightly --timeout 3600   |   swf wait nightly --timeout 0 (a look)
    """
    with controller() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        snap = _watch(wfc, workflow_id, None if timeout is not None and timeout < 0 else timeout)
        _finish(snap, as_json, timed_out=not _is_done(snap), link=wfc.link)


@app.command()
def logs(
    workflow: WorkflowArg,
    job: Annotated[str, typer.Argument(help="Job id or name.")],
    stderr: Annotated[bool, typer.Option("--stderr", help="Show stderr, not stdout.")] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the job ends.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Both outputs, the files and the status, as JSON.")
    ] = False,
) -> None:
    """Print a job's stdout (or stderr); say so on stderr when it has not run yet.

    Example: swf logs nightly merge --stderr   |   swf logs nightly merge --json
    """
    if as_json and follow:
        fail("--json and --follow do not go together", 2)
    with reader() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        job_ids = guarded(lambda: resolve_jobs(wfc, workflow_id, [job]))
        if len(job_ids) > 1:
            fail(f"{len(job_ids)} jobs are named {job!r}: use an id", EXIT_NOT_FOUND)
        job_id = job_ids[0]
        status = guarded(lambda: wfc.job_status(job_id))
        if as_json:
            emit_json(_logs_document(wfc, workflow_id, job_id, status))
            return
        if not follow and _has_not_run(wfc, job_id, status):
            return

        stream = "stderr" if stderr else "stdout"
        offset = 0
        while True:
            chunk = guarded(lambda at=offset: wfc.link.read_job_output(job_id, stream, at))  # type: ignore[misc]
            _write_bytes(chunk.data)
            offset = chunk.next_offset
            if chunk.data and chunk.size is not None and offset < chunk.size:
                continue  # more is already there: read on without waiting
            if not follow or chunk.ended:
                return  # ``ended`` was read before the file: nothing more will come
            time.sleep(0.2)


#: Statuses of a job that has not started (its output files do not exist yet).
NOT_STARTED = frozenset(
    {
        "not_submitted",
        "submission_pending",
        "queued_active",
        "undetermined",
        "system_on_hold",
        "user_on_hold",
        "user_system_on_hold",
    }
)


def _has_not_run(wfc: WorkflowController, job_id: int, status: str) -> bool:
    """Say on stderr that a job has no output because it has not run (True), if so."""
    if status in NOT_STARTED:
        word = display.status_word(status)
        why = f"has not started yet ({word}): no output; --follow waits for it"
    elif status == "failed":
        exit_info = guarded(lambda: wfc.job_termination_status(job_id))
        if exit_info is None or exit_info[0] != "aborted_before_running":
            return False
        why = "did not run (a job it depends on failed, or it was stopped): no output"
    else:
        return False
    ctx().errors.print(f"job {job_id} {why}", soft_wrap=True)
    return True


def _logs_document(
    wfc: WorkflowController, workflow_id: int, job_id: int, status: str
) -> dict[str, Any]:
    stdout_file, stderr_file = guarded(lambda: wfc.link.job_files(job_id))
    return {
        "workflow": workflow_id,
        "job": job_id,
        "name": job_names(wfc, workflow_id).get(job_id),
        "status": status,
        "stdout_file": stdout_file,
        "stderr_file": stderr_file,
        "stdout": _whole_output(wfc.link, job_id, "stdout"),
        "stderr": _whole_output(wfc.link, job_id, "stderr"),
    }


def _whole_output(link: EngineLink, job_id: int, stream: str) -> str | None:
    """A job's whole stdout or stderr, read through the link, as text (undecodable bytes
    replaced); None when there is no such file (the job has not started)."""
    data, offset = b"", 0
    while True:
        chunk = guarded(lambda at=offset: link.read_job_output(job_id, stream, at))  # type: ignore[misc]
        if chunk.size is None:
            return None
        data += chunk.data
        offset = chunk.next_offset
        if not chunk.data or offset >= chunk.size:
            return data.decode("utf-8", errors="replace")


def _write_bytes(data: bytes) -> None:
    """Job output to stdout as bytes (a multi-byte character cut between two chunks of a
    growing file stays whole)."""
    if data:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


@app.command()
def joblog(
    workflow: WorkflowArg,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write it to this file, not stdout.")
    ] = None,
) -> None:
    """A GNU Parallel --joblog of every job, from the store: a tab-separated table.

    Columns (GNU Parallel's): Seq Host Starttime JobRuntime Send Receive Exitval Signal
    Command. Seq is the job's place in the workflow (the {#} of `swf map`), Starttime an
    epoch, JobRuntime seconds; a job that has not ended has Exitval -1.

    Example: swf joblog thumbs | awk -F'\t' 'NR > 1 && $7 != 0'   (what failed)
    """
    with reader() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        model = guarded(lambda: wfc.workflow(workflow_id))
        snap = guarded(lambda: snapshot(wfc, workflow_id, {}))
    text = display.joblog(model, snap)
    if output is None:
        sys.stdout.write(text)
        return
    guarded(lambda: output.write_text(text))


@app.command()
def transfer(
    workflow: WorkflowArg,
    outputs: Annotated[
        bool, typer.Option("--outputs", help="Fetch the outputs (default: send the inputs).")
    ] = False,
) -> None:
    """Send a workflow's input files to the resource (its jobs wait for them), or fetch
    its outputs; a progress bar per transfer. Nothing to do on a local resource.

    Example: swf --resource cluster transfer nightly && swf --resource cluster wait nightly
    """
    with controller() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        moved = guarded(lambda: transfer_command.move(wfc, workflow_id, not outputs, ctx().errors))
    say(f"workflow {workflow_id}: {len(moved)} transfer(s) " + ("fetched" if outputs else "sent"))


@app.command()
def stop(workflow: WorkflowArg) -> None:
    """Stop a workflow: kill its running jobs; it can be restarted later.

    Example: swf stop nightly
    """
    with controller() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        guarded(lambda: wfc.stop_workflow(workflow_id))
    say(f"workflow {workflow_id} stopped")


@app.command()
def restart(workflow: WorkflowArg) -> None:
    """Run again only the jobs that failed or did not run (also while the workflow runs).

    Example: swf restart nightly && swf wait nightly
    """
    with controller() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        restarted = guarded(lambda: wfc.restart_workflow(workflow_id))
    say(f"workflow {workflow_id}: " + ("restarted" if restarted else "nothing to restart"))


@app.command()
def delete(
    workflow: Annotated[str | None, typer.Argument(help="Workflow id or name.")] = None,
    all_workflows: Annotated[bool, typer.Option("--all", help="Delete every workflow.")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before deleting every workflow.")
    ] = False,
) -> None:
    """Delete a workflow (killing its running jobs), or all of them with --all.

    --all asks first on a terminal; without a terminal (a script) it needs --yes.

    Example: swf delete 12   |   swf delete --all   |   swf delete --all --yes
    """
    if (workflow is None) == (not all_workflows):
        fail("give a workflow id or name, or --all (not both)", 2)
    with controller() as wfc:
        ids = (
            list(guarded(wfc.workflows))
            if all_workflows
            else [guarded(lambda: resolve_workflow(wfc, str(workflow)))]
        )
        if all_workflows and ids and not yes:
            _confirm_delete_all(len(ids))
        for workflow_id in ids:
            guarded(lambda wid=workflow_id: wfc.delete_workflow(wid))  # type: ignore[misc]
    say(f"deleted {len(ids)} workflow(s)")


def _confirm_delete_all(count: int) -> None:
    """Ask on a terminal; refuse without one (nobody to ask: --yes says it was meant)."""
    if not sys.stdin.isatty():
        fail(f"not deleting {count} workflow(s) without confirmation: add --yes", 2)
    question = f"Delete all {count} workflow(s), killing their running jobs?"
    if not typer.confirm(question, default=False):
        say("nothing deleted")
        raise typer.Exit(EXIT_FAILED)


@app.command("stop-jobs")
def stop_jobs(
    workflow: WorkflowArg,
    jobs: Annotated[list[str], typer.Argument(help="Job ids or names.")],
) -> None:
    """Kill some jobs of a workflow.

    Example: swf stop-jobs nightly measure_2
    """
    with controller() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        job_ids = guarded(lambda: resolve_jobs(wfc, workflow_id, jobs))
        guarded(lambda: wfc.stop_jobs(workflow_id, job_ids))
    say(f"stopped {len(job_ids)} job(s)")


@app.command("restart-jobs")
def restart_jobs(
    workflow: WorkflowArg,
    jobs: Annotated[list[str], typer.Argument(help="Job ids or names.")],
) -> None:
    """Run some jobs of a workflow again, with the descendants that can run with them.

    As soma-workflow's restart_jobs: the jobs given (done or failed; running ones are
    stopped first) and every descendant none of whose other parents failed. Prints how
    many jobs were really restarted.

    Example: swf restart-jobs nightly measure_2
    """
    with controller() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        names = guarded(lambda: job_names(wfc, workflow_id))
        job_ids = guarded(lambda: resolve_jobs(wfc, workflow_id, jobs))
        before = guarded(lambda: snapshot(wfc, workflow_id, names))
        if not guarded(lambda: wfc.restart_jobs(workflow_id, job_ids)):
            fail(f"workflow {workflow_id}: the jobs to restart could not be stopped", EXIT_ENGINE)
        after = guarded(lambda: snapshot(wfc, workflow_id, names))
    again = display.restarted_jobs(before, after)
    if not again:
        say(f"workflow {workflow_id}: nothing restarted (the jobs given have not run yet)")
        return
    listed = ", ".join(names.get(job_id, str(job_id)) for job_id in again[:10])
    more = f" and {len(again) - 10} more" if len(again) > 10 else ""
    say(f"restarted {len(again)} job(s): {listed}{more}")


# -- run / demo ------------------------------------------------------------------------


def _is_done(snap: display.WorkflowSnapshot) -> bool:
    return snap.status == "workflow_done"


#: Seconds of one wait on a TTY between two refreshes of the progress display.
LIVE_REFRESH = 0.25
#: Seconds of one wait without a display (the wait returns the moment the workflow ends;
#: slices only bound a call, e.g. for Ctrl-C in an embedded engine).
QUIET_SLICE = 5.0


def _watch(
    wfc: WorkflowController, workflow_id: int, timeout: float | None
) -> display.WorkflowSnapshot:
    """Follow a workflow until it ends (or ``timeout``), live on a TTY, quiet otherwise.

    Waiting is the engine's ``wait_workflow``, which returns as soon as the workflow ends
    (no poll interval). Without a display nothing is read between the waits: the jobs are
    read once, at the end (every refresh reads every job's state, seconds for a million)."""
    names = guarded(lambda: job_names(wfc, workflow_id))
    if not ctx().console.is_terminal:
        _wait_quietly(wfc.link, workflow_id, timeout)
        return guarded(lambda: snapshot(wfc, workflow_id, names))
    return _watch_live(wfc, workflow_id, timeout, names)


def _wait_quietly(link: EngineLink, workflow_id: int, timeout: float | None) -> bool:
    """True once the workflow ended, False after ``timeout`` seconds (None: no limit)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        step = QUIET_SLICE if left is None else min(QUIET_SLICE, left)
        if guarded(lambda s=step: link.wait_workflow(workflow_id, s)):  # type: ignore[misc]
            return True
        if left is not None and left <= step:
            return False


def _watch_live(
    wfc: WorkflowController,
    workflow_id: int,
    timeout: float | None,
    names: dict[int | None, str],
) -> display.WorkflowSnapshot:
    """``_watch`` on a TTY: a progress display refreshed every LIVE_REFRESH seconds."""
    started = time.monotonic()
    snap = guarded(lambda: snapshot(wfc, workflow_id, names))
    live = Live(console=ctx().console, auto_refresh=False, transient=False)
    live.start()
    try:
        while not _is_done(snap):
            elapsed = time.monotonic() - started
            if timeout is not None and elapsed >= timeout:
                break
            live.update(display.progress_panel(snap, elapsed), refresh=True)
            step = (
                LIVE_REFRESH if timeout is None else max(0.0, min(LIVE_REFRESH, timeout - elapsed))
            )
            guarded(lambda s=step: wfc.link.wait_workflow(workflow_id, s))  # type: ignore[misc]
            snap = guarded(lambda: snapshot(wfc, workflow_id, names))
        live.update(display.progress_panel(snap, time.monotonic() - started), refresh=True)
    finally:
        live.stop()
    return snap


def _finish(
    snap: display.WorkflowSnapshot,
    as_json: bool,
    timed_out: bool = False,
    link: EngineLink | None = None,
) -> None:
    """Print the outcome and exit with the documented code."""
    failed = [job for job in snap.jobs if job.failed]
    if as_json:
        document = snap.as_json(with_jobs=True)
        document["timed_out"] = timed_out
        emit_json(document)
    else:
        console = ctx().console
        console.print(display.summary_table(snap))
        for job in failed[:20]:
            console.print(display.failure_line(job), soft_wrap=True)
            if link is not None and job.exit_status not in ("aborted_before_running",):
                text = _stderr_tail(link, job.job_id)
                if text:
                    console.print(display.indented(text), style="dim", soft_wrap=True)
        if len(failed) > 20:
            say(f"... and {len(failed) - 20} more failed job(s)")
    if timed_out:
        if not as_json:
            say(f"timed out: workflow {snap.workflow_id} has not ended", style="yellow")
        raise typer.Exit(EXIT_TIMEOUT)
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _stderr_tail(link: EngineLink, job_id: int, limit: int = 2000) -> str:
    """The end of a job's stderr, read through the link ("" when there is none)."""
    chunk = guarded(lambda: link.read_job_output(job_id, "stderr", -limit))
    return chunk.data.decode(errors="replace").strip()


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How `run`, `map` and `demo` run a workflow in the foreground."""

    embedded: bool = False
    on_interrupt: str = "ask"
    as_json: bool = False
    name: str | None = None
    #: Rerun what failed or did not run of the workflow of this name, if there is one.
    resume: bool = False
    #: Cores for this run (``-j``): the engine runs in this process with that many.
    cores: int | None = None
    #: Also write the run's HTML report here.
    report: Path | None = None


def _check_run_options(options: RunOptions) -> None:
    """Usage errors first (exit 2), before any file is read."""
    if options.on_interrupt not in ("ask", "stop", "detach"):
        fail("--on-interrupt must be ask, stop or detach", 2)
    if options.cores is not None and options.cores < 1:
        fail("-j/--jobs must be 1 or more", 2)


def _run_workflow(workflow: Workflow, options: RunOptions) -> None:
    _check_run_options(options)
    if options.cores is not None:
        ctx().cpu_nb = options.cores
        _no_daemon_for_cores()
    embedded = options.embedded or options.cores is not None
    with controller(embedded=embedded) as wfc:
        workflow_id = _submit_or_resume(wfc, workflow, options)
        try:  # Ctrl-C while the summary prints (the workflow just ended) counts too
            snap = _watch(wfc, workflow_id, None)
            if options.report is not None:
                _write_report(wfc, workflow_id, options)
            _finish(snap, options.as_json, link=wfc.link)
        except KeyboardInterrupt:
            _interrupted(wfc, workflow_id, options.on_interrupt, embedded)


def _write_report(wfc: WorkflowController, workflow_id: int, options: RunOptions) -> None:
    from swf_entry.monitor.report import write_report

    report = options.report
    assert report is not None
    guarded(lambda: write_report(wfc.link, workflow_id, report))
    if not options.as_json:
        say(f"report written to {report}")


def _no_daemon_for_cores() -> None:
    """``-j`` runs the engine here with that many cores: not while a daemon drives the same
    state (one engine at most per state directory)."""
    from swf_entry import composition

    info = guarded(lambda: composition.engine_status(ctx().options))
    if info is not None:
        fail(
            f"-j runs the engine in this process, but the engine daemon (pid {info.get('pid')})"
            " drives these workflows: `swf engine stop` first (its workflows go on), or run"
            " without -j (CPU_NB cores)",
            EXIT_ENGINE,
        )


def _submit_or_resume(wfc: WorkflowController, workflow: Workflow, options: RunOptions) -> int:
    """The id of the workflow to watch: ``--resume`` restarts the one of that name if there
    is one (as GNU Parallel's --resume-failed reruns what its job log says failed)."""
    name = options.name or workflow.name
    existing = _named(wfc, name) if options.resume and name else None
    if existing is None:
        workflow_id: int = guarded(lambda: wfc.submit_workflow(workflow, name=options.name))
        if not options.as_json:
            say(f"workflow {workflow_id} submitted ({len(workflow.jobs)} jobs)")
        return workflow_id
    _check_same_commands(wfc, existing, workflow, str(name))
    restarted = guarded(lambda: wfc.restart_workflow(existing))
    if not options.as_json:
        what = "restarted: only what failed or did not run" if restarted else "nothing to rerun"
        say(f"workflow {existing} ({name}) resumed: {what}")
    return existing


def _named(wfc: WorkflowController, name: str) -> int | None:
    matches = [
        wf_id for wf_id, (wf_name, _exp) in guarded(wfc.workflows).items() if wf_name == name
    ]
    if len(matches) > 1:
        fail(
            f"--resume: {len(matches)} workflows are named {name!r} "
            f"(ids {', '.join(map(str, matches))}): delete the ones you do not want",
            EXIT_BAD_INPUT,
        )
    return matches[0] if matches else None


def _check_same_commands(
    wfc: WorkflowController, workflow_id: int, workflow: Workflow, name: str
) -> None:
    """Resuming runs the stored commands: refuse when the file now says something else."""
    stored = guarded(lambda: wfc.workflow(workflow_id))

    def commands(jobs: list[Any]) -> list[tuple[str, str]]:
        return [(str(job.name), str(job.command)) for job in jobs]

    if commands(stored.jobs) != commands(workflow.jobs):
        fail(
            f"--resume: workflow {workflow_id} ({name!r}) was submitted with other jobs or "
            "commands than these; give another --name, or `swf delete` it first",
            EXIT_BAD_INPUT,
        )


def _interrupted(
    wfc: WorkflowController, workflow_id: int, on_interrupt: str, embedded: bool
) -> NoReturn:
    """Ctrl-C during `run`: stop the workflow or leave it running, as the user says."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C really quits
    choice = on_interrupt
    if choice == "ask":
        if sys.stdin.isatty():
            choice = (
                typer.prompt(
                    "\nInterrupted: [s]top the workflow or [d]etach (it goes on)?", default="d"
                )
                .strip()
                .lower()[:1]
            )
            choice = "stop" if choice == "s" else "detach"
        else:
            choice = "detach"
    if choice == "stop":
        wfc.stop_workflow(workflow_id)
        ctx().errors.print(
            f"workflow {workflow_id} stopped; `swf restart {workflow_id}` resumes it",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    note = " (the engine resumes it at the next swf command)" if embedded else ""
    ctx().errors.print(
        f"detached: workflow {workflow_id} goes on{note}; `swf wait {workflow_id}` to follow it",
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_INTERRUPTED)


EmbeddedOpt = Annotated[
    bool,
    typer.Option("--embedded", help="Run the engine inside this process instead of the daemon."),
]
InterruptOpt = Annotated[
    str,
    typer.Option("--on-interrupt", help="On Ctrl-C: ask (TTY) | stop | detach."),
]
ReportOpt = Annotated[
    Path | None,
    typer.Option("--report", help="Also write the run's HTML report (as `swf report`) here."),
]


NameOpt = Annotated[
    str | None, typer.Option("--name", "-n", help="Name of the workflow (for status, restart).")
]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="If a workflow of this name exists, rerun only what failed or did not run "
        "(GNU Parallel's --resume-failed) instead of submitting it again.",
    ),
]
CoresOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        help="Run at most N jobs at once (cores for this run; the engine then runs in "
        "this process). Default: CPU_NB of the configuration, or every core.",
    ),
]


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Workflow file (.json or .py).")],
    name: NameOpt = None,
    jobs: CoresOpt = None,
    resume: ResumeOpt = False,
    embedded: EmbeddedOpt = False,
    on_interrupt: InterruptOpt = "ask",
    as_json: JsonOpt = False,
    report: ReportOpt = None,
) -> None:
    """Run a workflow in the foreground with a live progress display.

    Exit 0 only if every job succeeded; otherwise 1 and a summary of the failed jobs
    with the tail of their stderr. Ctrl-C asks whether to stop the workflow or detach.
    After fixing what failed, the same command with --resume reruns only that.

    Example: swf run pipeline.json -j 4 --name nightly   |   swf run pipeline.json
    --name nightly --resume
    """
    options = RunOptions(embedded, on_interrupt, as_json, name, resume, jobs, report)
    _check_run_options(options)
    _run_workflow(load_runnable(file), options)


@app.command(
    "map",
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
)
def map_command(
    words: Annotated[
        list[str],
        typer.Argument(
            help="COMMAND ::: INPUTS... | COMMAND :::: FILE... (options go before COMMAND).",
            show_default=False,
            metavar="COMMAND ::: INPUTS...",
        ),
    ],
    arg_files: Annotated[
        list[str] | None,
        typer.Option(
            "--arg-file",
            "-a",
            metavar="FILE",
            help="Read inputs from FILE, one per line (-: stdin).",
        ),
    ] = None,
    name: NameOpt = None,
    jobs: CoresOpt = None,
    resume: ResumeOpt = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the commands, one per line; run nothing.")
    ] = False,
    embedded: EmbeddedOpt = False,
    on_interrupt: InterruptOpt = "ask",
    as_json: JsonOpt = False,
) -> None:
    """Run a command once per input, GNU Parallel style, as a monitored, restartable workflow.

    The command is split into words like a shell would, then each input goes into the
    words, never through a shell (an input with spaces or quotes stays one argument).
    Replacement strings: {} the input, {.} without extension, {/} basename, {//} directory,
    {/.} basename without extension, {#} job number; {1} {2}... with several sources (every
    combination runs). No replacement string: {} is appended. Inputs: ::: values,
    :::: FILE (lines; - is stdin), -a FILE, or stdin when none is given.
    Jobs run in the current directory and are named by their inputs.

    Example: swf map 'gzip -9 {}' ::: *.txt

    \b
    More examples:
      swf map -j 4 --name thumbs 'convert {} -resize 50% small/{/.}.png' ::: img/*.jpg
      swf map --dry-run 'echo {#} {1} {2}' ::: a b ::: 1 2
      find . -name '*.csv' | swf map 'python3 stats.py {}'
      swf map --name thumbs --resume ...   (same command: rerun only what failed)
    """
    from swf_entry.cli import fanout

    _check_run_options(RunOptions(on_interrupt=on_interrupt, cores=jobs))
    command, sources = fanout.split_command_and_sources(words)
    template = guarded(lambda: fanout.template_words(command))
    files = list(arg_files or [])
    if not sources and not files:
        if sys.stdin.isatty():
            fail("no inputs: give ::: VALUES, :::: FILE, -a FILE, or pipe lines in", 2)
        files = ["-"]
    inputs = guarded(lambda: fanout.read_sources(sources, files, sys.stdin))
    planned = fanout.expand(template, inputs)
    if not planned:
        fail("no inputs: every input source is empty", EXIT_BAD_INPUT)
    if dry_run:
        _print_planned(planned, as_json)
        return
    workflow_name = name or "map " + shlex.join(template)
    workflow = fanout.map_workflow(planned, workflow_name, None)
    options = RunOptions(embedded, on_interrupt, as_json, workflow_name, resume, jobs)
    _run_workflow(workflow, options)


def _print_planned(planned: list[Any], as_json: bool) -> None:
    if as_json:
        emit_json(
            [{"seq": job.seq, "inputs": list(job.inputs), "argv": job.argv} for job in planned]
        )
        return
    sys.stdout.write("".join(shlex.join(job.argv) + "\n" for job in planned))


@app.command()
def demo(
    embedded: EmbeddedOpt = False,
    directory: Annotated[
        Path | None, typer.Option(help="Where the demo writes its files (default: a temp dir).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the built-in example: prepare -> 4 parallel measures (a group) -> merge -> report.

    It leaves its files (in a temporary directory unless --directory) and, unless
    --embedded, the engine daemon (it exits once idle): both are said at the end.

    Example: swf demo && swf list
    """
    from swf_entry.demo import build_demo_workflow

    scratch = directory or Path(tempfile.mkdtemp(prefix="swf-demo-"))
    if not as_json:
        say(f"demo files in {scratch}")
    try:
        _run_workflow(build_demo_workflow(scratch), RunOptions(embedded, as_json=as_json))
    finally:
        if not as_json:
            _demo_leftovers(scratch, embedded)


def _demo_leftovers(scratch: Path, embedded: bool) -> None:
    """What the demo leaves behind, and how to remove it."""
    say(f"the demo's files stay in {scratch} (remove them with: rm -r {scratch})")
    if embedded:
        return
    from swf_entry import composition

    info = composition.engine_status(ctx().options)
    if info is None:
        return
    idle = info.get("idle_timeout")
    when = f"after {display.duration(idle)} idle" if idle else "only when stopped"
    say(
        f"the engine daemon (pid {info.get('pid')}) keeps running and exits {when}; "
        "`swf engine stop` stops it now (jobs are never killed by that)"
    )


# -- engine / config -------------------------------------------------------------------


@engine_app.command("start")
def engine_start(as_json: JsonOpt = False) -> None:
    """Start the engine daemon (clients start it on demand anyway).

    Example: swf engine start && swf engine status
    """
    from swf_entry import composition

    info = guarded(lambda: composition.engine_start(ctx().options))
    if as_json:
        emit_json(info)
    else:
        say(f"engine running (pid {info.get('pid')}, socket {info.get('socket')})")


@engine_app.command("stop")
def engine_stop() -> None:
    """Stop the engine daemon; running jobs go on and are followed at its next start.

    Example: swf engine stop
    """
    from swf_entry import composition

    stopped = guarded(lambda: composition.engine_stop(ctx().options))
    say("engine stopped" if stopped else "no engine was running")


@engine_app.command("status")
def engine_status(as_json: JsonOpt = False) -> None:
    """Say where the engine runs, since when, and what it holds (exit 1 if not running).

    Example: swf engine status --json
    """
    from swf_entry import composition

    info = guarded(lambda: composition.engine_status(ctx().options))
    if as_json:
        emit_json(info)
    elif info is None:
        say("no engine running")
    elif "incompatible" in info:
        say("engine running, but this client cannot talk to it", style="yellow")
        ctx().console.print(display.engine_table(info))
    else:
        say("engine running", style="green")
        ctx().console.print(display.engine_table(info))
    if info is None:
        raise typer.Exit(EXIT_FAILED)


@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Which file, which resource, which values, and where each value came from.

    Options the file sets that neither soma-workflow nor swf knows are listed too
    (a typo is likely).

    Example: swf --config ~/.soma-workflow.cfg -r cluster config show
    """
    from swf_entry import composition

    shown = guarded(lambda: composition.describe_config(ctx().options))
    if as_json:
        emit_json(shown)
        return
    say(f"file: {shown['file'] or '(none: defaults)'}")
    say(f"resource: {shown['resource']}")
    ctx().console.print(display.config_table(shown["values"]))
    for option, value in shown.get("unknown_options", {}).items():
        say(f"unknown option (not used): {option} = {value}", style="yellow")


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Warnings (an unknown configuration option...) as one line, not Python's source dump."""
    if "ctx" in STATE:
        line_text = Text.assemble(("warning:", "yellow"), " ", str(message))
        STATE["ctx"].errors.print(line_text, soft_wrap=True)
    else:
        sys.stderr.write(f"warning: {message}\n")


def main(prog_name: str | None = None) -> None:
    """Console-script entry point (``prog_name`` for ``python -m swf_entry.cli``)."""
    warnings.showwarning = _show_warning
    try:
        app(prog_name=prog_name)
    finally:
        # The command is over: a Ctrl-C while Python tears down must not turn its exit
        # code into a death by SIGINT.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


# Registers `swf mpi-run` and `swf schedulers`.
from swf_entry.cli import mpi_command, schedulers_command  # noqa: E402

__all__ = ["app", "main", "mpi_command", "schedulers_command"]
