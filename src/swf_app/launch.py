"""Turning a ready job into a LaunchRequest: param links, paths, files and environment.

Done lazily, when the job is about to be submitted, so a workflow of a million jobs
never holds a million rendered commands. Everything that can go wrong for one job
(a path that cannot be made, a param link function failing, env_builder_code failing)
raises ``LaunchError``: that job fails with the reason in its stderr file, the others go
on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from swf_domain.command import (
    INPUT_PARAMS_ENV,
    OUTPUT_PARAMS_ENV,
    command_params,
    input_params_document,
    render_command,
    render_path,
)
from swf_domain.errors import EngineFilesError, SomaWorkflowError
from swf_domain.model import Job, Workflow
from swf_domain.param_links import apply_param_links
from swf_domain.translation import TranslationTable

from .job_files import in_directory, job_directory, refusal_message, submit_refusals
from .path_resolver import TransferLocator, WorkflowPathResolver
from .ports import LaunchRequest, ParallelSpec, Workspace, WorkspaceError, launch_name
from .running_workflow import RunningWorkflow


def _describe(error: Exception) -> str:
    """Typed errors carry a sentence; others are shown with their type."""
    if isinstance(error, SomaWorkflowError):
        return str(error)
    return f"{type(error).__name__}: {error}"


_log = logging.getLogger("swf.engine")


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a job goes and what it takes there (decided by the engine's budget)."""

    slots: int
    queue: str | None
    parallel: ParallelSpec | None


@dataclass(frozen=True, slots=True)
class _Files:
    """Where a job runs and the files it uses, as absolute paths (checked at launch)."""

    directory: str
    stdout: str
    stderr: str | None
    #: stdout and stderr are the Workspace's defaults (``LaunchRequest.private_outputs``).
    private: bool
    input_params: str | None
    output_params: str | None


class LaunchError(Exception):
    """One job cannot be started; ``reason`` is for its stderr file."""

    def __init__(self, reason: str, stderr_file: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stderr_file = stderr_file


class Launcher:
    """Builds launch requests and reads dynamic outputs (engine thread only)."""

    def __init__(
        self,
        workspace: Workspace,
        translations: TranslationTable | None = None,
        transfer_locator: TransferLocator | None = None,
    ) -> None:
        self.workspace = workspace
        self._translations = translations if translations is not None else TranslationTable()
        self._transfer_locator = transfer_locator
        #: What ``refusals`` answered for each path in the current ``batch`` (if any).
        self._batch_answers: dict[str, str | None] | None = None

    # -- per workflow -------------------------------------------------------------------

    def resolver(self, runtime: RunningWorkflow) -> WorkflowPathResolver:
        if runtime.resolver is None:
            runtime.resolver = WorkflowPathResolver(
                runtime.workflow_id,
                runtime.workflow,
                self.workspace,
                self._translations,
                self._transfer_locator,
            )
        resolver: WorkflowPathResolver = runtime.resolver
        return resolver

    def base_env(self, runtime: RunningWorkflow) -> dict[str, str]:
        """env_builder_code's output (run once per workflow) overridden by the
        workflow's env; raises WorkspaceError when the builder fails."""
        if runtime.base_env is None and runtime.env_error is None:
            env: dict[str, str] = {}
            code = runtime.workflow.env_builder_code
            if code:
                try:
                    env.update(self.workspace.run_env_builder(code))
                except WorkspaceError as error:
                    runtime.env_error = f"workflow env_builder_code failed: {error}"
            env.update({str(k): str(v) for k, v in (runtime.workflow.env or {}).items()})
            if runtime.env_error is None:
                runtime.base_env = env
        if runtime.env_error is not None:
            raise WorkspaceError(runtime.env_error)
        assert runtime.base_env is not None
        return runtime.base_env

    def check_files(self, workflow: Workflow, working_directory: str | None) -> None:
        """Refuse (EngineFilesError) a workflow submitted from ``working_directory`` whose
        job files or working directories reach the engine's own files (see job_files).

        Any thread: it reads only the translations and the Workspace's fixed answers.
        """
        base = working_directory or self.workspace.default_working_directory()
        resolver = WorkflowPathResolver(
            0, workflow, self.workspace, self._translations, self._transfer_locator
        )
        problems = submit_refusals(workflow, base, resolver, self.workspace.refusals)
        if problems:
            raise EngineFilesError(problems)

    # -- per job ------------------------------------------------------------------------

    def job_directory(self, runtime: RunningWorkflow, job: Job) -> str:
        """Where the job runs: its own directory, else where its workflow was submitted."""
        base = runtime.working_directory or self.workspace.default_working_directory()
        if job.working_directory is None:
            return base
        return job_directory(base, render_path(job.working_directory, self.resolver(runtime)))

    def job_file(self, runtime: RunningWorkflow, job: Job, field: str) -> str | None:
        """The job's file ``field`` (``stdout_file``...) as an absolute path, or None."""
        if getattr(job, field) is None:
            return None
        return self._file(runtime, job, field, self.job_directory(runtime, job))

    def _file(self, runtime: RunningWorkflow, job: Job, field: str, directory: str) -> str | None:
        """``job_file`` for a job running in ``directory``."""
        value = getattr(job, field)
        if value is None:
            return None
        return in_directory(directory, render_path(value, self.resolver(runtime)))

    def output_files(
        self, runtime: RunningWorkflow, job: Job, job_id: int
    ) -> tuple[str, str | None]:
        """(stdout, stderr) of the job: its own, or the Workspace's defaults."""
        return self._output_files(runtime, job, job_id, self.job_directory(runtime, job))

    def _output_files(
        self, runtime: RunningWorkflow, job: Job, job_id: int, directory: str
    ) -> tuple[str, str | None]:
        return self._outputs(runtime, job, job_id, directory)[:2]

    def _outputs(
        self, runtime: RunningWorkflow, job: Job, job_id: int, directory: str
    ) -> tuple[str, str | None, bool]:
        """(stdout, stderr, whether both are the Workspace's defaults)."""
        default_out, default_err = self.workspace.default_output_files(runtime.workflow_id, job_id)
        stdout = self._file(runtime, job, "stdout_file", directory) or default_out
        stderr = None
        if not job.join_stderrout:
            stderr = self._file(runtime, job, "stderr_file", directory) or default_err
        private = stdout == default_out and stderr in (None, default_err)
        return stdout, stderr, private

    def output_params_file(self, runtime: RunningWorkflow, job: Job, job_id: int) -> str:
        return self._params_file(runtime, job, job_id, "output", self.job_directory(runtime, job))

    def _params_file(
        self, runtime: RunningWorkflow, job: Job, job_id: int, direction: str, directory: str
    ) -> str:
        """The job's input or output params file: its own, or the Workspace's."""
        rendered = self._file(runtime, job, f"{direction}_params_file", directory)
        return rendered or self.workspace.params_file(runtime.workflow_id, job_id, direction)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Jobs built together, before any of them runs: a path several of them use
        (their working directory, say) is checked once for all."""
        self._batch_answers = {}
        try:
            with self.workspace.refusal_batch():
                yield
        finally:
            self._batch_answers = None

    def _refuse_engine_files(self, job: Job, *fields: tuple[str, str | None]) -> None:
        """Raise EngineFilesError if a file swf is about to write for the job reaches
        the engine's files (checked again now: a symlink may have appeared since
        submission). Only the files swf itself opens for writing are checked here: the
        working directory and stdin were checked at submission, and swf neither writes
        into the one nor opens the other but read-only."""
        answers = self._batch_answers if self._batch_answers is not None else {}
        unknown = [path for _, path in fields if path is not None and path not in answers]
        if unknown:
            answers.update(zip(unknown, self.workspace.refusals(unknown), strict=True))
        problems = [
            refusal_message(job, field, getattr(job, field), reached)
            for field, path in fields
            if path is not None and (reached := answers[path]) is not None
        ]
        if problems:
            raise EngineFilesError(problems)

    def linked_params(self, runtime: RunningWorkflow, index: int) -> dict[str, Any]:
        """The job's parameters with its param links applied (the job is not modified)."""
        job = runtime.job(index)
        params = command_params(job)
        links = (runtime.workflow.param_links or {}).get(job)
        if not links:
            return params
        position = runtime.compiled.index
        outputs = runtime.outputs

        def outputs_of(source: Any) -> Mapping[str, Any] | None:
            source_index = position.get(source)
            return None if source_index is None else outputs.get(source_index)

        return apply_param_links(params, links, outputs_of, dest_name=job.name)

    def build(
        self,
        runtime: RunningWorkflow,
        index: int,
        job_id: int,
        slots: int,
        queue: str | None,
        parallel: ParallelSpec | None = None,
    ) -> tuple[LaunchRequest, str | None]:
        """The request for job ``index`` and where its output params go (if any)."""
        job = runtime.job(index)
        try:
            directory = self.job_directory(runtime, job)
            stdout, stderr, private = self._outputs(runtime, job, job_id, directory)
            if not private:  # private ones: see LaunchRequest.private_outputs
                self._refuse_engine_files(job, ("stdout_file", stdout), ("stderr_file", stderr))
        except Exception as error:  # the job's own files are unusable: tell it in ours
            reason = f"swf could not start job {job.name!r}: {_describe(error)}"
            raise LaunchError(reason, self._default_stderr(runtime, job_id)) from error
        try:
            params_files = self._params_files(runtime, job, job_id, directory)
            files = _Files(directory, stdout, stderr, private, *params_files)
            stdin = self._file(runtime, job, "stdin", directory)
            if files.input_params is not None or files.output_params is not None:
                self._refuse_engine_files(
                    job,
                    ("input_params_file", files.input_params),
                    ("output_params_file", files.output_params),
                )
            return self._build(
                runtime, job, index, job_id, _Placement(slots, queue, parallel), files, stdin
            )
        except Exception as error:  # user data and user link functions: one job fails
            reason = f"swf could not start job {job.name!r}: {_describe(error)}"
            raise LaunchError(reason, stderr or stdout) from error

    def _params_files(
        self, runtime: RunningWorkflow, job: Job, job_id: int, directory: str
    ) -> tuple[str | None, str | None]:
        """(input, output) params files, for the jobs that have them."""
        return (
            self._params_file(runtime, job, job_id, "input", directory)
            if job.use_input_params_file
            else None,
            self._params_file(runtime, job, job_id, "output", directory)
            if job.has_outputs
            else None,
        )

    def _build(
        self,
        runtime: RunningWorkflow,
        job: Job,
        index: int,
        job_id: int,
        placement: _Placement,
        files: _Files,
        stdin: str | None,
    ) -> tuple[LaunchRequest, str | None]:
        resolver = self.resolver(runtime)
        env = dict(self.base_env(runtime))
        if placement.parallel is not None:
            env = {**placement.parallel.environment(), **env}
        if job.env:
            env.update({str(k): str(v) for k, v in job.env.items()})
        params = self.linked_params(runtime, index)
        argv = render_command(job, resolver, params)
        if files.input_params is not None:
            document = input_params_document(job, resolver, params)
            self.workspace.write_json(files.input_params, document)
            env[INPUT_PARAMS_ENV] = files.input_params
        if files.output_params is not None:
            self.workspace.discard(files.output_params)  # a stale file from a previous run
            env[OUTPUT_PARAMS_ENV] = files.output_params
        request = LaunchRequest(
            job_id=job_id,
            workflow_id=runtime.workflow_id,
            argv=tuple(argv),
            env=env,
            stdout_file=files.stdout,
            stderr_file=files.stderr,
            working_directory=files.directory,
            stdin_file=stdin,
            slots=placement.slots,
            queue=placement.queue,
            native_specification=job.native_specification or runtime.workflow.native_specification,
            priority=job.priority,
            name=launch_name(runtime.workflow_id, job_id),
            job_name=job.name or "",
            parallel=placement.parallel,
            private_outputs=files.private,
        )
        return request, files.output_params

    def _default_stderr(self, runtime: RunningWorkflow, job_id: int) -> str | None:
        """The Workspace's stderr file for the job, None when it cannot even be made."""
        try:
            return self.workspace.default_output_files(runtime.workflow_id, job_id)[1]
        except Exception:  # the reason is then only logged
            return None

    def report(self, path: str | None, reason: str) -> None:
        """Append ``reason`` to a job's stderr file, never failing the engine for it
        (logged instead when there is no file or it cannot be written)."""
        if path is not None:
            try:
                self.workspace.append_text(path, reason)
                return
            except WorkspaceError as error:
                reason = f"{reason} (and {error})"
        _log.warning("%s", reason)
