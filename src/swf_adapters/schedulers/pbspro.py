"""PBS Pro / OpenPBS and Torque: qsub / qstat / qdel command lines and their outputs.

Everything else — batching, end files, polling, retries, crash recovery — is the shared
batch machinery of ``schedulers.batch``; this module only speaks PBS. It is tested against
stand-in commands (tests/pbs/), never a real PBS server: none can be installed here.

The two dialects, told apart by ``qstat --version`` (``pbs_version = 22.05.11`` on PBS
Pro/OpenPBS, ``Version: 6.1.2`` on Torque):

- arrays: PBS Pro ``-J 0-9`` (the range needs first < last, so a one-task batch goes as a
  plain job, which the wrapper runs as task 0), index in ``PBS_ARRAY_INDEX``; Torque
  ``-t 0-9``, index in ``PBS_ARRAYID``. Ids as the cluster shows them: ``1234[].server``
  for the array, ``1234[5].server`` for one of its tasks;
- status: ONE ``qstat -f -F json -t ID...`` (Torque: ``qstat -f -x -t ID...``, XML) for
  every array job of the engine. Not PBS Pro's ``-x``: a server without job history (the
  default) rejects the whole request then ("PBS is not configured to maintain job
  history", req_stat.c) and lists no job at all. Ends come from the end files, so a
  finished job is only an id qstat fails for — ``Unknown Job Id`` (no history, exit 153)
  or ``Job has finished, use -x`` (history on) — while it still lists the others;
- parallel jobs: ``-l select=N:ncpus=C[:mpiprocs=C]`` (+ ``place=scatter`` over nodes) on
  PBS Pro, ``-l nodes=N:ppn=C`` on Torque, unless the job's own options say otherwise.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from swf_adapters.schedulers.batch.parallel import ParallelConfig
from swf_adapters.schedulers.batch.system import ArrayView, QueueView, Shape, TaskState, TaskView
from swf_adapters.schedulers.slurm import native_options, parse_index_ranges
from swf_app.ports import LaunchRequest, ParallelSpec
from swf_domain.errors import DRMError


class Flavor(Enum):
    PBSPRO = "PBS Pro"
    TORQUE = "Torque"


@dataclass(frozen=True, slots=True)
class _Dialect:
    index_variable: str
    array_option: str
    #: qstat's arguments for every job listed in full, array tasks one by one.
    status_options: tuple[str, ...]


_DIALECTS = {
    Flavor.PBSPRO: _Dialect("PBS_ARRAY_INDEX", "-J", ("-f", "-F", "json", "-t")),
    Flavor.TORQUE: _Dialect("PBS_ARRAYID", "-t", ("-f", "-x", "-t")),
}
_PENDING = frozenset("QHWTMSU")
_RUNNING = frozenset("RE")
_STATE_WORDS = {
    "Q": "queued",
    "H": "held",
    "W": "waiting",
    "T": "moving",
    "M": "moved",
    "S": "suspended",
    "U": "suspended (workstation busy)",
    "R": "running",
    "E": "exiting",
    "B": "begun",
    "F": "finished",
    "X": "expired",
    "C": "completed",
}
#: ``1234[5].server`` (a task), ``1234[].server`` (an array) or ``1234.server``.
_JOB_ID = re.compile(r"^(\d+)(?:\[(\d*)\])?(.*)$")
_SUBMITTED = re.compile(r"^\d+(\[\])?(\.\S+)?$")
#: An id qstat no longer lists as active (the rest of the answer stands): forgotten, or
#: kept in the server's history only.
_PARTIAL = re.compile(r"unknown job id|job has finished", re.IGNORECASE)
#: Messages of a server that does not answer (as opposed to one that refuses).
_UNAVAILABLE = (
    "cannot connect to server",
    "connection refused",
    "no server to connect to",
    "communication failure",
    "timed out",
    "server is busy",
    "pbs_iff",
    "cannot resolve default server host",
)


class Pbs:
    """The ``BatchSystem`` of PBS Pro/OpenPBS (19+) or Torque, by ``flavor``."""

    def __init__(
        self,
        flavor: Flavor = Flavor.PBSPRO,
        qsub: str = "qsub",
        qstat: str = "qstat",
        qdel: str = "qdel",
        parallel_config: ParallelConfig | None = None,
    ) -> None:
        self.flavor = flavor
        #: The resource's own request per parallel kind (soma's ``MPI = ...`` options).
        self.parallel_config = parallel_config or ParallelConfig()
        self.name = flavor.value
        self._dialect = _DIALECTS[flavor]
        self.index_variable = self._dialect.index_variable
        self._qsub, self._qstat, self._qdel = qsub, qstat, qdel

    def shape_of(self, request: LaunchRequest, default_options: Sequence[str]) -> Shape:
        options = native_options(request.native_specification) or tuple(default_options)
        parallel = request.parallel
        nodes, cpus = (parallel.nodes, parallel.cpus_per_node) if parallel else (1, 1)
        resources = _parallel_options(self.flavor, parallel, options, self.parallel_config)
        return Shape(request.queue, cpus, options + resources, nodes)

    def submit_command(self, script: Path, count: int, shape: Shape, tag: str) -> list[str]:
        """``-V``: jobs see the engine's environment, as on SLURM (the task's own
        variables are set by the wrapper). The wrapper's own output goes to ``<i>.log``."""
        directory = script.parent
        argv = [self._qsub, "-N", tag, "-V", "-j", "oe", "-o", self._log_path(directory, count)]
        if count > 1:
            argv += [self._dialect.array_option, f"0-{count - 1}"]
        if shape.queue:
            argv += ["-q", shape.queue]
        return [*argv, *shape.options, str(script)]

    def _log_path(self, directory: Path, count: int) -> str:
        if count == 1:
            return f"{directory}/0.log"
        if self.flavor is Flavor.PBSPRO:
            return f"{directory}/^array_index^.log"
        return f"{directory}/"  # Torque names each task's file in the directory itself

    def parse_submitted(self, stdout: str) -> str:
        """qsub prints the id: ``1234[].server`` for an array, ``1234.server`` else."""
        line = stdout.strip().splitlines()[-1].strip() if stdout.strip() else ""
        if not _SUBMITTED.match(line):
            raise ValueError(f"qsub printed no job id: {stdout.strip()[:200]!r}")
        return line

    def status_command(self, tag: str, cluster_ids: Sequence[str] | None) -> list[str]:
        """By id: qstat cannot select by job name. Without ids (a batch to find by its
        script) every active job the server shows."""
        return [self._qstat, *self._dialect.status_options, *(cluster_ids or ())]

    def parse_status(self, stdout: str) -> QueueView:
        records = _json_jobs(stdout) if self.flavor is Flavor.PBSPRO else _xml_jobs(stdout)
        view: QueueView = {}
        for job_id, attributes in records:
            _add_record(view, job_id, attributes)
        return view

    def partial_status(self, returncode: int, stderr: str) -> bool:
        lines = [line for line in stderr.splitlines() if line.strip()]
        return bool(lines) and all(_PARTIAL.search(line) for line in lines)

    def task_id(self, cluster_id: str, index: int) -> str:
        """``1234[].server`` -> ``1234[5].server``; a plain job is its own only task."""
        return cluster_id.replace("[]", f"[{index}]", 1)

    def cancel_command(self, task_ids: Sequence[str]) -> list[str]:
        return [self._qdel, *task_ids]

    def unavailable(self, returncode: int, stderr: str) -> bool:
        text = stderr.lower()
        return any(message in text for message in _UNAVAILABLE)


def _parallel_options(
    flavor: Flavor,
    parallel: ParallelSpec | None,
    options: tuple[str, ...],
    config: ParallelConfig,
) -> tuple[str, ...]:
    """The resource request of a parallel job, unless the job's options make their own:
    the resource's template for its kind, else PBS Pro's select or Torque's nodes:ppn."""
    if parallel is None or parallel.nodes * parallel.cpus_per_node <= 1:
        return ()
    own = config.request(parallel)
    if own is not None:
        return native_options(own)
    nodes, cpus = parallel.nodes, parallel.cpus_per_node
    given = " ".join(options)
    if flavor is Flavor.TORQUE:
        return () if "nodes=" in given else ("-l", f"nodes={nodes}:ppn={cpus}")
    if "select=" in given:
        return ()
    chunk = f"select={nodes}:ncpus={cpus}" + _per_chunk(parallel.config_name, cpus)
    spread = ("-l", "place=scatter") if nodes > 1 and "place=" not in given else ()
    return ("-l", chunk, *spread)


def _per_chunk(config_name: str, cpus: int) -> str:
    """soma's parallel kinds: MPI ranks or OpenMP threads per chunk."""
    kind = config_name.lower()
    if kind == "mpi":
        return f":mpiprocs={cpus}"
    if kind == "openmp":
        return f":ompthreads={cpus}"
    return ""


# -- reading qstat ------------------------------------------------------------------------


def _json_jobs(stdout: str) -> list[tuple[str, dict[str, Any]]]:
    """PBS Pro's ``-F json``: ``{"timestamp", "pbs_version", "pbs_server", "Jobs"}``;
    ``Jobs`` is absent when no job was listed."""
    if not stdout.strip():
        return []
    document = json.loads(stdout)
    jobs = document.get("Jobs") or {} if isinstance(document, dict) else {}
    return [(job_id, attrs) for job_id, attrs in jobs.items() if isinstance(attrs, dict)]


def _xml_jobs(stdout: str) -> list[tuple[str, dict[str, Any]]]:
    """Torque's ``-x``: ``<Data><Job><Job_Id>..</Job_Id><job_state>..</job_state>..``
    (one attribute per element; nested ones such as resources_used are skipped)."""
    text = stdout.strip()
    if not text:
        return []
    records = []
    for job in ElementTree.fromstring(text).iter("Job"):
        attributes = {child.tag: (child.text or "").strip() for child in job if len(child) == 0}
        if attributes.get("Job_Id"):
            records.append((attributes["Job_Id"], attributes))
    return records


def _add_record(view: QueueView, job_id: str, attributes: dict[str, Any]) -> None:
    match = _JOB_ID.match(job_id.strip())
    if match is None:
        return
    number, index, rest = match.groups()
    state = str(attributes.get("job_state") or "").upper()[:1]
    if index is None:  # a plain job: a one-task batch
        array = view.setdefault(job_id, ArrayView())
        array.script, array.name = _script(attributes), _name(attributes, None)
        array.tasks[0] = _task_view(state, attributes)
        return
    array = view.setdefault(f"{number}[]{rest}", ArrayView())
    array.script = array.script or _script(attributes)  # Torque lists no array line
    array.name = array.name or _name(attributes, index)
    if index:
        array.tasks[int(index)] = _task_view(state, attributes)
        return
    _add_remaining(array, state, attributes)


def _add_remaining(array: ArrayView, state: str, attributes: dict[str, Any]) -> None:
    """The array's line: the indices not started yet (PBS Pro collapses them)."""
    remaining = str(attributes.get("array_indices_remaining") or "").strip()
    if state in ("F", "X", "C") or not remaining or remaining == "-":
        return
    array.pending.extend(parse_index_ranges(remaining))
    array.pending_reason = str(attributes.get("comment") or _STATE_WORDS.get(state, state))


def _task_view(state: str, attributes: dict[str, Any]) -> TaskView:
    word = _STATE_WORDS.get(state, state or "unknown")
    exit_status = attributes.get("Exit_status", attributes.get("exit_status"))
    reason = f"{word}, Exit_status={exit_status}" if exit_status not in (None, "") else word
    if state in _PENDING:
        return TaskView(TaskState.PENDING, str(attributes.get("comment") or word))
    if state in _RUNNING:
        return TaskView(TaskState.RUNNING, word)
    return TaskView(TaskState.FINISHED, reason)


def _script(attributes: dict[str, Any]) -> str:
    """qsub's arguments, joined with spaces by the server: they end with the batch
    script (how a lost batch is found again: ``ArrayView.runs``)."""
    return str(attributes.get("Submit_arguments") or attributes.get("submit_args") or "").strip()


def _name(attributes: dict[str, Any], index: str | None) -> str:
    """The job's name (``-N``); Torque names an array's sub-job ``NAME-INDEX``."""
    name = str(attributes.get("Job_Name") or "").strip()
    suffix = f"-{index}"
    return name[: -len(suffix)] if index and name.endswith(suffix) else name


# -- which PBS ---------------------------------------------------------------------------


def flavor_of(version_output: str) -> Flavor:
    """``qstat --version``: ``pbs_version = 22.05.11`` (PBS Pro, OpenPBS) or
    ``Version: 6.1.2`` / ``version: 2.4.16`` (Torque)."""
    text = version_output.strip()
    if re.search(r"pbs_version\s*=", text):
        return Flavor.PBSPRO
    if re.match(r"version:\s*\d", text, re.IGNORECASE):
        return Flavor.TORQUE
    raise DRMError(f"the qstat on the PATH is not PBS's: {_first_line(text)!r}")


def detect_flavor(run: Callable[[list[str]], tuple[int, str, str]], qstat: str = "qstat") -> Flavor:
    """Ask ``qstat --version`` (answered by the command itself, no server needed).
    Grid Engine has a qstat too: it answers with its own name and usage."""
    returncode, stdout, stderr = run([qstat, "--version"])
    answer = (stdout + stderr).strip()
    if re.match(r"(SGE|OGS|UGE|GE) \d", answer):
        raise DRMError(f"the qstat on the PATH is Grid Engine's ({_first_line(answer)}), not PBS's")
    if returncode != 0:
        raise DRMError(f"{qstat} --version failed ({returncode}): {_first_line(answer)}")
    return flavor_of(answer)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else "no output"
