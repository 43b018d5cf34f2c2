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
from swf_entry.cli import display

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
engine_app = typer.Typer(help="Start, stop or inspect the engine daemon.", no_args_is_help=True)
config_app = typer.Typer(help="Show the configuration in use.", no_args_is_help=True)
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

    @property
    def options(self) -> ClientOptions:
        # Imported here: the composition root loads the store and the engine, which
        # `--help` and `validate` do not need.
        from swf_entry.composition import ClientOptions

        return ClientOptions(resource_id=self.resource, config_file=self.config, home=self.home)


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


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Workflow file (.json or .py).")],
    as_json: JsonOpt = False,
) -> None:
    """Check a workflow file and list every problem found, each naming its job or field.

    Exit 0 when valid, 1 when problems were found, 4 when the file cannot be read.

    Example: swf validate pipeline.json
    """
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
    workflow = load_file(file)
    with controller() as wfc:
        workflow_id = guarded(
            lambda: wfc.submit_workflow(workflow, _expiration(expiration), name, queue)
        )
    if as_json:
        emit_json({"id": workflow_id, "name": name or workflow.name, "jobs": len(workflow.jobs)})
    else:
        print(workflow_id)


@app.command("list")
def list_workflows(as_json: JsonOpt = False) -> None:
    """List your workflows with their status and job counts.

    Example: swf list --json
    """
    with controller() as wfc:
        rows = []
        for workflow_id, (name, expiration) in sorted(guarded(wfc.workflows).items()):
            # No job names needed: counts only, without fetching each whole workflow.
            snap = guarded(lambda wid=workflow_id: snapshot(wfc, wid, {}))  # type: ignore[misc]
            row = snap.as_json(with_jobs=False)
            row["name"] = name
            row["expiration"] = expiration.isoformat(timespec="seconds") if expiration else None
            rows.append(row)
    if as_json:
        emit_json(rows)
    elif not rows:
        say("no workflows")
    else:
        ctx().console.print(display.workflows_table(rows))


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
    with controller() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        # The whole workflow is fetched only when its job names or groups are shown.
        model = guarded(lambda: wfc.workflow(workflow_id)) if jobs or tree else None
        names = {job.job_id: str(job.name) for job in model.jobs} if model else {}
        snap = guarded(lambda: snapshot(wfc, workflow_id, names))
    if as_json:
        emit_json(snap.as_json(with_jobs=jobs or tree))
        return
    console = ctx().console
    console.print(display.summary_table(snap))
    if jobs:
        console.print(display.jobs_table(snap))
    if tree and model is not None:
        console.print(display.group_tree(model, snap))


@app.command()
def wait(
    workflow: WorkflowArg,
    timeout: Annotated[
        float | None, typer.Option(help="Give up after this many seconds (exit 124).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Wait for a workflow to end, with a progress bar; exit 1 if any job failed.

    Example: swf wait nightly --timeout 3600
    """
    with controller() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        snap = _watch(wfc, workflow_id, timeout)
        _finish(snap, as_json, timed_out=not _is_done(snap), link=wfc.link)


@app.command()
def logs(
    workflow: WorkflowArg,
    job: Annotated[str, typer.Argument(help="Job id or name.")],
    stderr: Annotated[bool, typer.Option("--stderr", help="Show stderr, not stdout.")] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the job ends.")
    ] = False,
) -> None:
    """Print a job's stdout (or stderr).

    Example: swf logs nightly merge --stderr
    """
    with controller() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        job_ids = guarded(lambda: resolve_jobs(wfc, workflow_id, [job]))
        if len(job_ids) > 1:
            fail(f"{len(job_ids)} jobs are named {job!r}: use an id", EXIT_NOT_FOUND)
        job_id = job_ids[0]

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


def _write_bytes(data: bytes) -> None:
    """Job output to stdout as bytes (a multi-byte character cut between two chunks of a
    growing file stays whole)."""
    if data:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


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
) -> None:
    """Delete a workflow (killing its running jobs), or all of them with --all.

    Example: swf delete 12   |   swf delete --all
    """
    if (workflow is None) == (not all_workflows):
        fail("give a workflow id or name, or --all (not both)", 2)
    with controller() as wfc:
        ids = (
            list(guarded(wfc.workflows))
            if all_workflows
            else [guarded(lambda: resolve_workflow(wfc, str(workflow)))]
        )
        for workflow_id in ids:
            guarded(lambda wid=workflow_id: wfc.delete_workflow(wid))  # type: ignore[misc]
    say(f"deleted {len(ids)} workflow(s)")


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
    """Run some failed or stopped jobs of a workflow again.

    Example: swf restart-jobs nightly measure_2
    """
    with controller() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        job_ids = guarded(lambda: resolve_jobs(wfc, workflow_id, jobs))
        guarded(lambda: wfc.restart_jobs(workflow_id, job_ids))
    say(f"restarted {len(job_ids)} job(s)")


# -- run / demo ------------------------------------------------------------------------


def _is_done(snap: display.WorkflowSnapshot) -> bool:
    return snap.status == "workflow_done"


def _watch(
    wfc: WorkflowController, workflow_id: int, timeout: float | None
) -> display.WorkflowSnapshot:
    """Follow a workflow until it ends (or ``timeout``), live on a TTY, quiet otherwise."""
    console = ctx().console
    started = time.monotonic()
    names = guarded(lambda: job_names(wfc, workflow_id))
    snap = guarded(lambda: snapshot(wfc, workflow_id, names))
    live = (
        Live(console=console, auto_refresh=False, transient=False) if console.is_terminal else None
    )
    if live is not None:
        live.start()
    try:
        while not _is_done(snap):
            elapsed = time.monotonic() - started
            if timeout is not None and elapsed >= timeout:
                break
            if live is not None:
                live.update(display.progress_panel(snap, elapsed), refresh=True)
            step = 0.25 if timeout is None else max(0.0, min(0.25, timeout - elapsed))
            guarded(lambda s=step: wfc.wait_workflow(workflow_id, timeout=s))  # type: ignore[misc]
            snap = guarded(lambda: snapshot(wfc, workflow_id, names))
        if live is not None:
            live.update(display.progress_panel(snap, time.monotonic() - started), refresh=True)
    finally:
        if live is not None:
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
        raise typer.Exit(EXIT_TIMEOUT)
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _stderr_tail(link: EngineLink, job_id: int, limit: int = 2000) -> str:
    """The end of a job's stderr, read through the link ("" when there is none)."""
    chunk = guarded(lambda: link.read_job_output(job_id, "stderr", -limit))
    return chunk.data.decode(errors="replace").strip()


def _run_workflow(
    workflow: Workflow,
    embedded: bool,
    on_interrupt: str,
    as_json: bool,
    report: Path | None = None,
) -> None:
    with controller(embedded=embedded) as wfc:
        workflow_id = guarded(lambda: wfc.submit_workflow(workflow))
        if not as_json:
            say(f"workflow {workflow_id} submitted ({len(workflow.jobs)} jobs)")
        try:
            snap = _watch(wfc, workflow_id, None)
        except KeyboardInterrupt:
            _interrupted(wfc, workflow_id, on_interrupt, embedded)
        if report is not None:
            from swf_entry.monitor.report import write_report

            guarded(lambda: write_report(wfc.link, workflow_id, report))
            if not as_json:
                say(f"report written to {report}")
        _finish(snap, as_json, link=wfc.link)


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


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Workflow file (.json or .py).")],
    embedded: EmbeddedOpt = False,
    on_interrupt: InterruptOpt = "ask",
    as_json: JsonOpt = False,
    report: ReportOpt = None,
) -> None:
    """Run a workflow in the foreground with a live progress display.

    Exit 0 only if every job succeeded; otherwise 1 and a summary of the failed jobs
    with the tail of their stderr. Ctrl-C asks whether to stop the workflow or detach.

    Example: swf run pipeline.json
    """
    if on_interrupt not in ("ask", "stop", "detach"):
        fail("--on-interrupt must be ask, stop or detach", 2)
    _run_workflow(load_file(file), embedded, on_interrupt, as_json, report)


@app.command()
def demo(
    embedded: EmbeddedOpt = False,
    directory: Annotated[
        Path | None, typer.Option(help="Where the demo writes its files (default: a temp dir).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the built-in example: prepare -> 4 parallel measures (a group) -> merge -> report.

    Example: swf demo && swf list
    """
    from swf_entry.demo import build_demo_workflow

    scratch = directory or Path(tempfile.mkdtemp(prefix="swf-demo-"))
    if not as_json:
        say(f"demo files in {scratch}")
    _run_workflow(build_demo_workflow(scratch), embedded, "ask", as_json)


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
    else:
        for key, value in info.items():
            say(f"{key}: {display.engine_value(key, value)}")
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
    app(prog_name=prog_name)


# Registers `swf mpi-run` and `swf schedulers`.
from swf_entry.cli import mpi_command, schedulers_command  # noqa: E402

__all__ = ["app", "main", "mpi_command", "schedulers_command"]
