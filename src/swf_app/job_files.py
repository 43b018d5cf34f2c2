"""Where a job runs and where its files are, as a shell would have them; and the rule
that none of them reaches the engine's own files.

A job runs in its working directory. A relative one is taken from the directory its
workflow was submitted from, and a job without one runs there (as in soma-workflow's
light mode and every workflow tool). Its relative stdin, stdout, stderr and params
files are in its working directory, as ``cd dir && cmd < in > out`` opens them.

The engine writes some of those files itself (stdout and stderr through the job host,
the input params file, reasons appended to stderr) and removes one (a stale output
params file). So no job file and no working directory may resolve into the engine's
state directory (its store, key, socket, journals), except the areas the Workspace makes
for jobs. Submission refuses what it can see then (plain paths, file transfers, shared
resource paths): ``EngineFilesError``, naming each job, field and path, before anything
is stored. The launcher checks again, just before a job starts, the files swf writes
for it that the job named (a symlink may have appeared since; temporary paths only get
their location then): such a job fails alone, with the reason in its stderr file. Its
working directory and stdin are not checked again (swf writes into neither), nor its
default outputs (see ``LaunchRequest.private_outputs``).

Paths are joined with ``posixpath``: they are paths on the computing resource.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Sequence

from swf_domain.command import PathResolver, render_path
from swf_domain.errors import SomaWorkflowError
from swf_domain.model import Job, SpecialPath, TemporaryPath, Workflow

#: The job fields naming a file, in the order problems are reported.
FILE_FIELDS = ("stdin", "stdout_file", "stderr_file", "input_params_file", "output_params_file")

#: What would jobs reach at these paths: None (nothing of the engine's) or a description,
#: for each (the Workspace's ``refusals``).
Refusals = Callable[[Sequence[str]], list[str | None]]

#: Paths checked per call of ``refusals`` at submission (bounded memory for big workflows).
BATCH = 50_000


def in_directory(directory: str, path: str | None) -> str | None:
    """``path`` as a shell in ``directory`` opens it (absolute paths stay; "" is no path)."""
    if not path:
        return None
    return posixpath.join(directory, path)


def job_directory(base: str, own: str | None) -> str:
    """The directory a job runs in: its own (relative to ``base``), else ``base``."""
    return in_directory(base, own) or base


def refusal_message(job: Job, field: str, value: object, reached: str) -> str:
    """One refused path, naming the job, the field, the value given and where it leads
    (``reached``: the Workspace's answer for it)."""
    label = f"job {job.name!r}" if job.name is not None else "job <unnamed>"
    if value is None:  # the submit directory
        return (
            f"{label}: without a working_directory it would run where the workflow was "
            f"submitted from, {reached}: jobs may not read or write the engine's own files "
            "(submit from another directory or give the job a working_directory)"
        )
    given = f"{value!r}" if isinstance(value, str) else f"(a {type(value).__name__})"
    return (
        f"{label}: {field} {given} resolves to {reached}: jobs may not read or write "
        "the engine's own files (choose another path)"
    )


def submit_refusals(
    workflow: Workflow, base: str, resolver: PathResolver, refusals: Refusals
) -> list[str]:
    """Every job file or working directory of ``workflow`` that reaches the engine's files,
    as far as submission can tell (see the module docstring): one message each."""
    problems: list[str] = []
    base_refused = refusals([base])[0]  # once, not once per job that runs there
    batch: list[tuple[Job, str, object, str]] = []
    for job in workflow.jobs:
        if job.is_barrier() or job.is_engine_execution():
            continue
        if job.working_directory is None:
            if base_refused is not None:
                problems.append(refusal_message(job, "working_directory", None, base_refused))
            if _has_no_files(job):
                continue  # the common job: nothing more to look at
        for field, value, path in _known_paths(job, base, resolver):
            batch.append((job, field, value, path))
        if len(batch) >= BATCH:
            problems += _refused(batch, refusals)
            batch = []
    return problems + _refused(batch, refusals)


def _refused(batch: list[tuple[Job, str, object, str]], refusals: Refusals) -> list[str]:
    answers = refusals([path for *_, path in batch]) if batch else []
    return [
        refusal_message(job, field, value, reached)
        for (job, field, value, _), reached in zip(batch, answers, strict=True)
        if reached is not None
    ]


def _has_no_files(job: Job) -> bool:
    return (
        job.stdin is None
        and job.stdout_file is None
        and job.stderr_file is None
        and job.input_params_file is None
        and job.output_params_file is None
    )


def _known_paths(job: Job, base: str, resolver: PathResolver) -> Iterator[tuple[str, object, str]]:
    """(field, value, absolute path) of the job's paths known before it runs."""
    directory: str | None = base  # checked once for all jobs by the caller
    own = job.working_directory
    if own is not None:
        rendered = _render_now(own, resolver)
        directory = None if rendered is None else job_directory(base, rendered)
        if directory is not None:
            yield "working_directory", own, directory
    for field in FILE_FIELDS:
        value = getattr(job, field)
        rendered = _render_now(value, resolver)
        if rendered is None:
            continue
        if directory is None and not posixpath.isabs(rendered):
            continue  # relative to a directory known only at launch: checked then
        path = in_directory(directory or "/", rendered)
        if path is not None:
            yield field, value, path


def _render_now(value: object, resolver: PathResolver) -> str | None:
    """The path ``value`` names, None when it is not known before the job runs (a
    temporary path gets its location on first use) or is not a path at all."""
    if value is None:
        return None
    if isinstance(value, SpecialPath):
        if _is_temporary(value):
            return None
        try:
            return render_path(value, resolver)
        except SomaWorkflowError:  # no location yet (untranslatable...): the launch says so
            return None
    return value if isinstance(value, str) else None


def _is_temporary(path: SpecialPath) -> bool:
    parent = getattr(path, "parent_path", None)
    if isinstance(parent, SpecialPath):
        return _is_temporary(parent)
    return isinstance(path.referent(), TemporaryPath)
