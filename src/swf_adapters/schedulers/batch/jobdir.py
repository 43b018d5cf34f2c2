"""The job directory on the shared file system: one sub-directory per submitted batch.

It is the batch schedulers' journal: it outlives the engine, so a restarted engine finds
every batch it submitted, which tasks ended while it was down (end files) and which ends
it had already recorded (the ``acked`` file).

    JOB_DIR/wrapper.py                   the job wrapper, copied once per engine start
    JOB_DIR/batches/<name>/table.marshal the tasks: job id, argv, env, files, end file
    JOB_DIR/batches/<name>/batch.sh      the batch script (no user data in it)
    JOB_DIR/batches/<name>/cluster_id    the cluster's id, written once sbatch answered
    JOB_DIR/batches/<name>/started       the batch ran (written by its first task, with
                                         the cluster's id from the task's environment)
    JOB_DIR/batches/<name>/<i>.end       task i's end record (written by the wrapper)
    JOB_DIR/batches/<name>/<i>.log       task i's wrapper output (diagnostics only)
    JOB_DIR/batches/<name>/acked         task indices whose ends the engine recorded
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swf_app.ports import LaunchRequest

from . import wrapper as wrapper_module
from .system import Shape

#: marshal, not JSON: the wrapper reads it without importing json (start-up time).
TABLE = "table.marshal"
SCRIPT = "batch.sh"
CLUSTER_ID = "cluster_id"
ACKED = "acked"


@dataclass(slots=True)
class Batch:
    """One array job: its tasks' job ids by index, and what is known of them."""

    name: str
    directory: Path
    job_ids: list[int]
    cluster_id: str | None = None
    #: Task indices whose end the engine has not recorded yet.
    open: set[int] = field(default_factory=set)
    #: Task indices already reported RUNNING / ended (so each event goes once).
    running: set[int] = field(default_factory=set)
    ended: set[int] = field(default_factory=set)
    shape: Shape | None = None

    def end_file(self, index: int) -> Path:
        return self.directory / f"{index}.end"

    def log_file(self, index: int) -> Path:
        return self.directory / f"{index}.log"


class JobDirectory:
    """Creates, reads and retires batch directories under ``root``."""

    def __init__(self, root: Path, python: str) -> None:
        self.root = root
        self.batches_dir = root / "batches"
        self.python = python
        self.wrapper = root / "wrapper.py"
        self._serial = 0

    def prepare(self) -> None:
        """Create the directories and install the wrapper (atomically: tasks may be
        starting from an older copy right now)."""
        self.batches_dir.mkdir(parents=True, exist_ok=True)
        source = Path(wrapper_module.__file__).read_bytes()
        if not self.wrapper.exists() or self.wrapper.read_bytes() != source:
            temporary = self.wrapper.with_suffix(f".tmp{os.getpid()}")
            temporary.write_bytes(source)
            os.replace(temporary, self.wrapper)
        names = [p.name for p in self.batches_dir.iterdir() if p.name.isdigit()]
        self._serial = max((int(name) for name in names), default=0)

    def create(self, requests: list[LaunchRequest], index_variable: str, shape: Shape) -> Batch:
        """Write a new batch's table and script; the batch is not submitted yet."""
        self._serial += 1
        name = f"{self._serial:09d}"
        directory = self.batches_dir / name
        directory.mkdir()
        tasks = [_task(request, directory, index) for index, request in enumerate(requests)]
        shape_record = {
            "queue": shape.queue,
            "cpus": shape.cpus,
            "options": list(shape.options),
            "nodes": shape.nodes,
        }
        _write_bytes_atomically(
            directory / TABLE, marshal.dumps({"shape": shape_record, "tasks": tasks}, 4)
        )
        script = (
            "#!/bin/sh\n# swf batch: the task's command is in table.json, found by its index\n"
            # -S -E: the wrapper needs only the standard library, and starts faster
            f"exec {shlex.quote(self.python)} -S -E {shlex.quote(str(self.wrapper))} "
            f"{shlex.quote(str(directory / TABLE))} {shlex.quote(index_variable)}\n"
        )
        (directory / SCRIPT).write_text(script)
        job_ids = [request.job_id for request in requests]
        return Batch(name, directory, job_ids, open=set(range(len(requests))), shape=shape)

    def record_cluster_id(self, batch: Batch, cluster_id: str) -> None:
        batch.cluster_id = cluster_id
        _write_text_atomically(batch.directory / CLUSTER_ID, cluster_id)

    def record_acked(self, batch: Batch, indices: list[int]) -> None:
        """The engine recorded these ends; a fully acknowledged batch is removed."""
        batch.open.difference_update(indices)
        if not batch.open:
            shutil.rmtree(batch.directory, ignore_errors=True)
            return
        with open(batch.directory / ACKED, "a") as stream:
            stream.write("".join(f"{index}\n" for index in indices))

    def load_all(self) -> list[Batch]:
        """Every batch left by earlier engines, with its open (unacknowledged) tasks."""
        if not self.batches_dir.is_dir():
            return []
        found = []
        for directory in sorted(self.batches_dir.iterdir()):
            batch = _load(directory)
            if batch is not None:
                found.append(batch)
        return found

    def discard(self, batch: Batch) -> None:
        shutil.rmtree(batch.directory, ignore_errors=True)


def read_end(path: Path) -> dict[str, Any] | None:
    """The end record the wrapper wrote, or None while there is none (or it is unreadable:
    the wrapper writes atomically, so that only happens on a damaged file system)."""
    try:
        with open(path) as stream:
            record = json.load(stream)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def ran_as(batch: Batch) -> str | None:
    """The cluster id a batch ran under, "" if it ran under an unknown one, None if it
    left no trace (no "started" marker, no end file: none of its tasks began)."""
    with contextlib.suppress(OSError):
        return (batch.directory / wrapper_module.STARTED).read_text().strip()
    if any(batch.end_file(index).exists() for index in range(len(batch.job_ids))):
        return ""  # ended under an older wrapper, which left no marker
    return None


def read_log_tail(path: Path, limit: int = 4000) -> str:
    """The end of a task's wrapper log (why a task vanished, for the user)."""
    try:
        with open(path, "rb") as stream:
            stream.seek(0, os.SEEK_END)
            size = stream.tell()
            stream.seek(max(0, size - limit))
            return stream.read().decode(errors="replace")
    except OSError:
        return ""


def _task(request: LaunchRequest, directory: Path, index: int) -> dict[str, Any]:
    return {
        "job": request.job_id,
        "argv": list(request.argv),
        "env": dict(request.env),
        "cwd": request.working_directory,
        "stdout": request.stdout_file,
        "stderr": request.stderr_file,
        "stdin": request.stdin_file,
        "private": request.private_outputs,
        "end": str(directory / f"{index}.end"),
    }


def read_tasks(directory: Path) -> list[dict[str, Any]]:
    """The tasks of a batch's table ([] if it cannot be read)."""
    table = _read_table(directory)
    return list(table["tasks"]) if table is not None else []


def _read_table(directory: Path) -> dict[str, Any] | None:
    try:
        table = marshal.loads((directory / TABLE).read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return table if isinstance(table, dict) and isinstance(table.get("tasks"), list) else None


def _load(directory: Path) -> Batch | None:
    table = _read_table(directory)
    if table is None:
        return None  # created but never written (crash): nothing was submitted
    job_ids = [int(task["job"]) for task in table["tasks"]]
    shape = table.get("shape") or {}
    batch = Batch(
        directory.name,
        directory,
        job_ids,
        open=set(range(len(job_ids))),
        shape=Shape(
            shape.get("queue"),
            int(shape.get("cpus") or 1),
            tuple(shape.get("options") or ()),
            int(shape.get("nodes") or 1),
        ),
    )
    with contextlib.suppress(OSError):
        batch.cluster_id = (directory / CLUSTER_ID).read_text().strip() or None
    with contextlib.suppress(OSError):
        acked = (directory / ACKED).read_text().split()
        batch.open.difference_update(int(index) for index in acked if index.isdigit())
    return batch


def _write_text_atomically(path: Path, text: str) -> None:
    _write_bytes_atomically(path, text.encode())


def _write_bytes_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temporary.write_bytes(data)
    os.replace(temporary, path)
