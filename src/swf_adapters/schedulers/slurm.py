"""SLURM: sbatch / squeue / scancel command lines and their outputs (no I/O here).

Everything else — batching, end files, polling, retries, crash recovery — is the shared
batch machinery of ``schedulers.batch``; this module only speaks SLURM.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from swf_adapters.schedulers.batch.parallel import ParallelConfig
from swf_adapters.schedulers.batch.system import ArrayView, QueueView, Shape, TaskState, TaskView
from swf_app.ports import LaunchRequest, ParallelSpec

#: squeue's output: job id (``123_4`` or ``123_[0-9,12%4]``), state, reason, command.
_STATUS_FORMAT = "%i|%T|%r|%o"
_PENDING_STATES = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "SUSPENDED"})
_RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING"})
_ARRAY_ID = re.compile(r"^(\d+)_(?:(\d+)|\[([^\]]*)\])$")
#: Messages of a controller that does not answer (as opposed to one that refuses).
_UNAVAILABLE = (
    "unable to contact slurm controller",
    "socket timed out",
    "slurm temporarily unable",
    "zero bytes were transmitted",
    "connection refused",
    "communication connection failure",
    "slurmctld is busy",
    "resource temporarily unavailable",
)


class Slurm:
    """The ``BatchSystem`` of SLURM (tested against 22.05)."""

    name = "SLURM"
    index_variable = "SLURM_ARRAY_TASK_ID"

    def __init__(
        self,
        sbatch: str = "sbatch",
        squeue: str = "squeue",
        scancel: str = "scancel",
        parallel_config: ParallelConfig | None = None,
    ):
        self._sbatch, self._squeue, self._scancel = sbatch, squeue, scancel
        #: The resource's own request per parallel kind (soma's ``MPI = ...`` options).
        self.parallel_config = parallel_config or ParallelConfig()

    def shape_of(self, request: LaunchRequest, default_options: Sequence[str]) -> Shape:
        """The parallel request goes first: sbatch takes the last of an option given
        twice, so the job's own options (``--ntasks=...``) win over it."""
        options = native_options(request.native_specification) or tuple(default_options)
        # The job's own request (parallel_job_info), never the engine's clamped count.
        parallel = request.parallel
        if parallel is None:
            return Shape(request.queue, 1, options, 1)
        resources = self._parallel_options(parallel)
        return Shape(request.queue, parallel.cpus_per_node, resources + options, parallel.nodes)

    def _parallel_options(self, parallel: ParallelSpec) -> tuple[str, ...]:
        """The resource's template for the kind, else: MPI -> ``--ntasks-per-node`` (one
        task per rank: ``srun``/``mpirun`` start that many), any other kind -> soma's
        ``--cpus-per-task`` (one task whose threads share the CPUs: OpenMP)."""
        own = self.parallel_config.request(parallel)
        if own is not None:
            return native_options(own)
        nodes, cpus = parallel.nodes, parallel.cpus_per_node
        spread = (f"--nodes={nodes}",) if nodes > 1 else ()
        if cpus <= 1:
            return spread
        if parallel.config_name.lower() == "mpi":
            return (*spread, f"--ntasks-per-node={cpus}")
        return (*spread, f"--cpus-per-task={cpus}")

    def submit_command(self, script: Path, count: int, shape: Shape, tag: str) -> list[str]:
        directory = script.parent
        argv = [
            self._sbatch,
            "--parsable",
            f"--array=0-{count - 1}",
            f"--job-name={tag}",
            f"--output={directory}/%a.log",
            "--open-mode=append",
            f"--chdir={directory}",
        ]
        if shape.queue:
            argv.append(f"--partition={shape.queue}")
        argv += shape.options
        argv.append(str(script))
        return argv

    def parse_submitted(self, stdout: str) -> str:
        """``--parsable`` prints ``id`` or ``id;cluster``."""
        line = stdout.strip().splitlines()[-1] if stdout.strip() else ""
        cluster_id = line.split(";", 1)[0].strip()
        if not cluster_id.isdigit():
            raise ValueError(f"sbatch printed no job id: {stdout.strip()[:200]!r}")
        return cluster_id

    def status_command(self, tag: str, cluster_ids: Sequence[str] | None) -> list[str]:
        return [
            self._squeue,
            "--noheader",
            "--states=all",
            f"--name={tag}",
            f"--format={_STATUS_FORMAT}",
        ]

    def parse_status(self, stdout: str) -> QueueView:
        return parse_squeue(stdout)

    def partial_status(self, returncode: int, stderr: str) -> bool:
        return False

    def task_id(self, cluster_id: str, index: int) -> str:
        return f"{cluster_id}_{index}"

    def cancel_command(self, task_ids: Sequence[str]) -> list[str]:
        return [self._scancel, *task_ids]

    def unavailable(self, returncode: int, stderr: str) -> bool:
        text = stderr.lower()
        return any(message in text for message in _UNAVAILABLE)


def native_options(specification: str | Sequence[str] | None) -> tuple[str, ...]:
    """A native specification as sbatch arguments: a string is split like a shell would
    (without running one); soma's list form gives one or more arguments per item."""
    if not specification:
        return ()
    if isinstance(specification, str):
        return tuple(shlex.split(specification))
    return tuple(arg for item in specification for arg in shlex.split(str(item)))


def parse_squeue(stdout: str) -> QueueView:
    """squeue lines (``_STATUS_FORMAT``) -> per array job, its pending ranges and tasks."""
    view: QueueView = {}
    for line in stdout.splitlines():
        fields = line.strip().split("|", 3)
        if len(fields) < 3:
            continue
        match = _ARRAY_ID.match(fields[0])
        if match is None:
            continue  # not an array job: never one of ours
        array = view.setdefault(match.group(1), ArrayView())
        if len(fields) == 4:
            array.script = fields[3].strip()  # the script may hold spaces: ArrayView.runs
        _add(array, match, fields[1].upper(), fields[2])
    return view


def _add(array: ArrayView, match: re.Match[str], state: str, reason: str) -> None:
    single, ranges = match.group(2), match.group(3)
    if ranges is not None:
        spans = parse_index_ranges(ranges)
        if state in _PENDING_STATES:
            array.pending.extend(spans)
            array.pending_reason = reason
            return
        view = TaskView(TaskState.FINISHED, state)  # a whole pending range ended (cancelled)
        for span in spans:
            for index in span:
                array.tasks[index] = view
        return
    array.tasks[int(single)] = TaskView(_task_state(state), state)


def _task_state(state: str) -> TaskState:
    if state in _PENDING_STATES:
        return TaskState.PENDING
    if state in _RUNNING_STATES:
        return TaskState.RUNNING
    return TaskState.FINISHED


def parse_index_ranges(text: str) -> list[range]:
    """``0-4,7,10-20%3`` -> [range(0, 5), range(7, 8), range(10, 21)] (throttle dropped)."""
    spans = []
    for part in text.split("%", 1)[0].split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        step = 1
        if ":" in last:
            last, _, step_text = last.partition(":")
            step = int(step_text)
        spans.append(range(int(first), int(last or first) + 1, step))
    return spans
