"""soma-workflow scheduler plugins on swf's event port.

A third-party scheduler written for soma-workflow is a ``Scheduler`` subclass with
``job_submission(jobs) -> [id]``, ``get_job_status(id) -> status``,
``get_job_exit_info(id) -> (exit status, exit value, signal, usage)``, ``kill_job(id)`` and
a ``build_scheduler(config)`` classmethod. ``SomaPluginScheduler`` drives one unchanged:

- ``submit``/``kill`` queue work for a control thread (the plugin may block: it is only
  ever called from the adapter's own threads, never from the engine's);
- a poller thread asks ``get_job_status`` for each active job (the plugin API has no
  batch call), calls ``get_job_exit_info`` exactly once per ended job, and reports the
  changes as one batch of events per poll;
- soma's error semantics: a submission that returns no id (or an exception) fails that
  job (``aborted``, the reason in its stderr); an exception from ``get_job_status`` fails
  the job the same way; a ``done`` job whose exit info is not a clean 0 is ``failed``.

Plugins keep their jobs in memory, as in soma-workflow: after an engine crash the jobs
they ran cannot be adopted (they are reported lost, never run twice).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from swf_adapters.process.reason import write_reason
from swf_app.ports import (
    Capacity,
    CapacityUnit,
    EventSink,
    KnownJob,
    LaunchRequest,
    SchedulerEvent,
)
from swf_domain.errors import DRMError
from swf_domain.status import ExitInfo, ExitStatus, JobStatus

if TYPE_CHECKING:
    from swf_adapters.config import ResourceConfig
    from swf_adapters.schedulers.registry import Availability

_log = logging.getLogger(__name__)
_PLUGIN_METHODS = ("job_submission", "get_job_status", "get_job_exit_info", "kill_job")

#: What a plugin's ``build_scheduler`` receives for a resource: soma's ``Configuration``
#: once the composition root sets it (``swf_entry.configuration``), the resolved
#: ``ResourceConfig`` otherwise.
configuration_for: Callable[[ResourceConfig], Any] = lambda config: config  # noqa: E731
_STATUSES = {status.value: status for status in JobStatus}
_EXIT_STATUSES = {status.value: status for status in ExitStatus}
_ENDED = (JobStatus.DONE, JobStatus.FAILED)


class PluginJob:
    """What a soma scheduler reads of the ``EngineJob`` it is handed."""

    def __init__(self, request: LaunchRequest) -> None:
        self.job_id = request.job_id
        self.workflow_id = request.workflow_id
        self.command = list(request.argv)
        self.stdout_file = request.stdout_file
        self.stderr_file = request.stderr_file
        self.stdin = request.stdin_file
        self.working_directory = request.working_directory
        self.env = dict(request.env)
        self.queue = request.queue
        self.native_specification = request.native_specification
        self.join_stderrout = request.stderr_file is None
        self.parallel_job_info: dict[str, Any] | None = (
            {"config_name": "native", "nodes_number": 1, "cpu_per_node": request.slots}
            if request.slots > 1
            else None
        )
        self.priority = request.priority

    def plain_command(self) -> list[str]:
        return self.command

    def plain_stdout(self) -> str:
        return self.stdout_file

    def plain_stderr(self) -> str | None:
        return self.stderr_file

    def plain_stdin(self) -> str | None:
        return self.stdin

    def plain_working_directory(self) -> str | None:
        return self.working_directory

    def is_engine_execution(self) -> bool:
        return False


class SomaPluginScheduler:
    """The ``Scheduler`` port over a soma-workflow scheduler plugin instance."""

    def __init__(self, plugin: Any, poll_interval: float = 0.2, slots: int = 10_000) -> None:
        self.plugin = plugin
        self.poll_interval = poll_interval
        self._slots = slots
        self._sink: EventSink | None = None
        self._lock = threading.Condition()
        self._submits: list[LaunchRequest] = []
        self._kills: set[int] = set()
        #: job id -> the plugin's id, for jobs submitted and not ended.
        self._active: dict[int, Any] = {}
        self._running: set[int] = set()
        self._reports: dict[int, str | None] = {}
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- the port ---------------------------------------------------------------------

    def start(self, sink: EventSink, known: Sequence[KnownJob] = ()) -> frozenset[int]:
        """Adopt the jobs the store knows with the plugin's id: the plugin is asked about
        them like any other (a plugin that forgot one fails it, with the reason)."""
        if self._threads:
            raise DRMError("soma scheduler plugin already started")
        self._sink = sink
        self._closing.clear()
        held = set()
        with self._lock:
            for job in known:
                if job.scheduler_job_id is not None:
                    self._active[job.job_id] = job.scheduler_job_id
                    held.add(job.job_id)
        for target, name in ((self._control_loop, "control"), (self._poll_loop, "poller")):
            thread = threading.Thread(target=target, name=f"swf-soma-plugin-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return frozenset(held)

    def submit(self, requests: Sequence[LaunchRequest]) -> None:
        with self._lock:
            self._submits.extend(requests)
            self._lock.notify_all()

    def kill(self, job_ids: Sequence[int]) -> None:
        with self._lock:
            self._kills.update(job_ids)
            self._lock.notify_all()

    def acknowledge(self, job_ids: Sequence[int]) -> None:
        """Nothing to forget: the plugin keeps no journal."""

    def capacity(self) -> Capacity:
        """Jobs at once: the plugin's resource queues what it cannot run yet."""
        return Capacity(CapacityUnit.JOBS, self._slots)

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()
        # Not the plugin's clean(): in swf, jobs outlive the engine that submitted them.

    # -- control thread ---------------------------------------------------------------

    def _control_loop(self) -> None:
        while not self._closing.is_set():
            with self._lock:
                while not (self._submits or self._kills or self._closing.is_set()):
                    self._lock.wait()
                submits, self._submits = self._submits, []
                kills, self._kills = self._kills, set()
            try:
                self._kill(kills, submits)
                self._submit([r for r in submits if r.job_id not in kills])
            except Exception:
                _log.exception("soma scheduler plugin control thread")

    def _submit(self, requests: list[LaunchRequest]) -> None:
        planted = {r.job_id for r in requests if _planted_symlink(r)}
        if planted:  # the plugin opens the files its own way: refused before it sees them
            reason = "a symbolic link is planted at its output file, in swf's own job files"
            self._deliver(
                [self._refused(r, reason, time.time()) for r in requests if r.job_id in planted]
            )
            requests = [r for r in requests if r.job_id not in planted]
        if not requests:
            return
        jobs = [PluginJob(request) for request in requests]
        try:
            ids = list(self.plugin.job_submission(jobs))
        except Exception as error:  # the whole batch failed: each job fails alone
            ids = [(error,)] * len(jobs)
        now = time.time()
        events = []
        for request, drms_id in zip(requests, ids, strict=False):
            if drms_id is None or isinstance(drms_id, tuple):
                reason = drms_id[0] if isinstance(drms_id, tuple) and drms_id else "no job id"
                events.append(self._refused(request, reason, now))
                continue
            with self._lock:
                self._active[request.job_id] = drms_id
                self._reports[request.job_id] = request.stderr_file or request.stdout_file
            events.append(
                SchedulerEvent(request.job_id, JobStatus.QUEUED_ACTIVE, None, str(drms_id), now)
            )
        self._deliver(events)

    def _refused(self, request: LaunchRequest, reason: Any, now: float) -> SchedulerEvent:
        _note(
            request.stderr_file or request.stdout_file,
            f"swf: the scheduler refused the job: {reason}",
        )
        return SchedulerEvent(
            request.job_id, JobStatus.FAILED, ExitInfo(ExitStatus.EXIT_ABORTED), None, now
        )

    def _kill(self, kills: set[int], submits: list[LaunchRequest]) -> None:
        never = [r.job_id for r in submits if r.job_id in kills]
        events = [
            SchedulerEvent(
                job_id, JobStatus.FAILED, ExitInfo(ExitStatus.USER_KILLED), None, time.time()
            )
            for job_id in never
        ]
        for job_id in kills - set(never):
            with self._lock:
                drms_id = self._active.get(job_id)
            if drms_id is None:
                continue
            try:
                self.plugin.kill_job(drms_id)
            except Exception:
                _log.exception("soma scheduler plugin: kill_job(%r)", drms_id)
        self._deliver(events)

    # -- poller thread ----------------------------------------------------------------

    def _poll_loop(self) -> None:
        while not self._closing.wait(self.poll_interval):
            with self._lock:
                active = list(self._active.items())
            events: list[SchedulerEvent] = []
            for job_id, drms_id in active:
                with contextlib.suppress(Exception):
                    self._poll_one(job_id, drms_id, events)
            self._deliver(events)

    def _poll_one(self, job_id: int, drms_id: Any, events: list[SchedulerEvent]) -> None:
        now = time.time()
        try:
            status = _STATUSES.get(str(self.plugin.get_job_status(drms_id)), JobStatus.UNDETERMINED)
        except Exception as error:
            _note(self._reports.get(job_id), f"swf: the scheduler lost the job: {error}")
            self._forget(job_id)
            exit_info = ExitInfo(ExitStatus.EXIT_ABORTED)
            events.append(SchedulerEvent(job_id, JobStatus.FAILED, exit_info, str(drms_id), now))
            return
        if status in _ENDED:
            exit_info = _exit_info(self.plugin.get_job_exit_info(drms_id))
            self._forget(job_id)
            final = (
                JobStatus.DONE
                if status is JobStatus.DONE and exit_info.succeeded()
                else JobStatus.FAILED
            )
            events.append(SchedulerEvent(job_id, final, exit_info, str(drms_id), now))
        elif status is JobStatus.RUNNING and job_id not in self._running:
            self._running.add(job_id)
            events.append(SchedulerEvent(job_id, JobStatus.RUNNING, None, str(drms_id), now))

    def _forget(self, job_id: int) -> None:
        with self._lock:
            self._active.pop(job_id, None)
            self._running.discard(job_id)
            self._reports.pop(job_id, None)

    def _deliver(self, events: list[SchedulerEvent]) -> None:
        if events and self._sink is not None:
            self._sink(events)


def _exit_info(value: Any) -> ExitInfo:
    """soma's ``(exit status, exit value, signal, usage)`` as swf's ``ExitInfo``."""
    try:
        status, exit_value, signal, usage = value
    except (TypeError, ValueError):
        return ExitInfo(ExitStatus.EXIT_UNDETERMINED)
    return ExitInfo(
        _EXIT_STATUSES.get(str(status), ExitStatus.EXIT_UNDETERMINED),
        None if exit_value is None else int(exit_value),
        None if signal is None else int(signal),
        None if usage is None else str(usage),
    )


def _note(path: str | None, text: str) -> None:
    if path:
        with contextlib.suppress(OSError):
            write_reason(path, text.rstrip("\n") + "\n")


def _planted_symlink(request: LaunchRequest) -> bool:
    """A private output (``LaunchRequest.private_outputs``) that is a symlink: a plugin
    may open it following one, so it never gets the job (checked just before)."""
    if not request.private_outputs:
        return False
    outputs = (request.stdout_file, request.stderr_file)
    return any(path is not None and os.path.islink(path) for path in outputs)


def is_soma_plugin(candidate: Any) -> bool:
    """A soma-workflow scheduler class: the four job methods and ``build_scheduler``."""
    return (
        isinstance(candidate, type)
        and all(callable(getattr(candidate, name, None)) for name in _PLUGIN_METHODS)
        and callable(getattr(candidate, "build_scheduler", None))
    )


class SomaPluginFactory:
    """The registry entry of a soma-workflow scheduler plugin class."""

    def __init__(self, plugin_class: type[Any], name: str) -> None:
        self.plugin_class = plugin_class
        self.name = name
        doc = (plugin_class.__doc__ or "").strip().splitlines()
        where = f"{plugin_class.__module__}.{plugin_class.__qualname__}"
        self.description = f"soma-workflow plugin {where}" + (f": {doc[0]}" if doc else "")

    def can_run_here(self) -> Availability:
        from swf_adapters.schedulers.registry import Availability

        check = getattr(self.plugin_class, "can_run_here", None)
        if callable(check):  # swf's optional extension; soma plugins do not have it
            found = check()
            return Availability(bool(found), str(found))
        return Availability(True, f"{self.plugin_class.__qualname__} imports (soma plugin)")

    def create(self, config: ResourceConfig) -> SomaPluginScheduler:
        plugin = self.plugin_class.build_scheduler(configuration_for(config))
        return SomaPluginScheduler(plugin)
