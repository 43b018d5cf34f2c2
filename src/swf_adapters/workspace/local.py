"""The Workspace on the local filesystem, under the engine's state directory.

Layout (one directory per workflow, so deleting a workflow is two ``rmtree``)::

    <state_dir>/jobs/<workflow_id>/<job_id>.out|.err|.inputs.json|.outputs.json
    <state_dir>/tmp/<workflow_id>/<key><suffix>

Only the engine thread calls it: the cache of directories already made needs no lock
(``refusals`` and ``default_working_directory`` read nothing mutable: any thread).

The rest of the state directory (the store, the daemon's key and socket, the job host's
journal) is the engine's own: ``refusals`` keeps jobs' files and working directories out
of it, and out of a SQLite store kept elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from swf_adapters.process.reason import write_reason
from swf_app.ports import WorkspaceError
from swf_domain.errors import ConfigurationError

from .real_paths import RealPaths

#: How long an env_builder_code may run before the workflow's jobs fail instead.
ENV_BUILDER_TIMEOUT = 120.0

#: The names of the default output files (``<job_id>.out``, ``.err``): no engine file may
#: bear one (``LaunchRequest.private_outputs``: the engine does not check them at launch).
DEFAULT_OUTPUT_NAME = re.compile(r"[0-9]+\.(out|err)")


class LocalWorkspace:
    """Workspace port on a local (or shared) filesystem."""

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        engine_files: Iterable[str | os.PathLike[str]] = (),
        open_areas: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        """``engine_files``: files of the engine outside ``state_dir`` that jobs must not
        reach either (a SQLite store kept elsewhere; its -wal/-shm/-journal go with it);
        ``open_areas``: more directories jobs may use (the transfer area)."""
        self._root = Path(state_dir)
        self._made: set[Path] = set()
        #: The jobs directory of each workflow, made (a string: built once per job).
        self._job_dirs: dict[int, str] = {}
        self._real_paths = RealPaths()
        self._home = os.path.expanduser("~")
        self._real_root = os.path.realpath(state_dir)
        #: The areas of the state directory made for jobs (see the module docstring).
        self._open_areas = tuple(
            [os.path.join(self._real_root, area) for area in ("jobs", "tmp")]
            + [os.path.realpath(area) for area in open_areas]
        )
        #: What is below the state directory, and below its open areas, starts with these.
        self._root_prefix = _below(self._real_root)
        self._open_prefixes = tuple(_below(area) for area in self._open_areas)
        self._engine_files = frozenset(
            os.path.realpath(str(file)) + suffix
            for file in _named_unlike_outputs(engine_files)
            for suffix in ("", "-wal", "-shm", "-journal")
        )

    # -- paths --------------------------------------------------------------------------

    def default_output_files(self, workflow_id: int, job_id: int) -> tuple[str, str]:
        base = f"{self._job_dir(workflow_id)}/{job_id}"
        return f"{base}.out", f"{base}.err"

    def params_file(self, workflow_id: int, job_id: int, direction: str) -> str:
        if direction not in ("input", "output"):
            raise ValueError(f"params file direction must be 'input' or 'output': {direction!r}")
        return f"{self._job_dir(workflow_id)}/{job_id}.{direction}s.json"

    def temporary_path(self, workflow_id: int, key: str, is_directory: bool, suffix: str) -> str:
        directory = self._made_dir(self._root / "tmp" / str(workflow_id))
        path = directory / f"{_safe_name(key)}{_safe_name(suffix) if suffix else ''}"
        try:
            if is_directory:
                path.mkdir(exist_ok=True)
            elif not path.exists():
                path.touch()
        except OSError as error:
            raise WorkspaceError(f"cannot create temporary path {path}: {error}") from error
        return str(path)

    # -- files --------------------------------------------------------------------------

    def write_json(self, path: str, data: Any) -> None:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8") as stream:
                json.dump(data, stream)
        except (OSError, TypeError, ValueError) as error:
            raise WorkspaceError(f"cannot write JSON file {path}: {error}") from error

    def read_json(self, path: str) -> Any:
        try:
            with open(path, encoding="utf-8") as stream:
                return json.load(stream)
        except FileNotFoundError as error:
            raise WorkspaceError(f"file {path} does not exist") from error
        except (OSError, UnicodeDecodeError) as error:
            raise WorkspaceError(f"cannot read {path}: {error}") from error
        except json.JSONDecodeError as error:
            raise WorkspaceError(
                f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            ) from error

    def discard(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise WorkspaceError(f"cannot remove {path}: {error}") from error

    def append_text(self, path: str, text: str) -> None:
        """Never through a symlink at ``path`` (see the port)."""
        data = text if text.endswith("\n") else text + "\n"
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            write_reason(path, data)
        except OSError as error:
            raise WorkspaceError(f"cannot write to {path}: {error}") from error

    # -- env_builder_code ---------------------------------------------------------------

    def run_env_builder(self, code: str) -> dict[str, str]:
        """Run the code with this Python, no shell; its stdout must be a JSON object."""
        try:
            done = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                timeout=ENV_BUILDER_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise WorkspaceError(f"env_builder_code could not run: {error}") from error
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-5:]
            raise WorkspaceError(
                f"env_builder_code exited with status {done.returncode}: " + " | ".join(tail)
            )
        return _parse_env(done.stdout)

    # -- cleanup ------------------------------------------------------------------------

    def remove_workflow(self, workflow_id: int) -> None:
        for directory in (
            self._root / "jobs" / str(workflow_id),
            self._root / "tmp" / str(workflow_id),
        ):
            self._made.discard(directory)
            shutil.rmtree(directory, ignore_errors=True)
        self._job_dirs.pop(workflow_id, None)

    # -- what jobs may touch ------------------------------------------------------------

    def default_working_directory(self) -> str:
        return self._home

    def refusals(self, paths: Sequence[str], follow_last: bool = True) -> list[str | None]:
        """Each path resolved as the system would now (see the port and ``RealPaths``:
        a ``stat`` per directory and, when following, an ``lstat`` per path)."""
        reals = self._real_paths.real_paths(paths, follow_last)
        return [self._refusal(real) for real in reals]

    def refusal_batch(self) -> AbstractContextManager[None]:
        return self._real_paths.batch()

    def _refusal(self, real: str) -> str | None:
        if real in self._engine_files:
            return f"{real}, the engine's database"
        if real != self._real_root and not real.startswith(self._root_prefix):
            return None
        if real in self._open_areas or real.startswith(self._open_prefixes):
            return None
        return f"{real}, inside the engine's state directory {self._real_root}"

    # -- internals ----------------------------------------------------------------------

    def _job_dir(self, workflow_id: int) -> str:
        found = self._job_dirs.get(workflow_id)
        if found is None:
            found = str(self._made_dir(self._root / "jobs" / str(workflow_id)))
            self._job_dirs[workflow_id] = found
        return found

    def _made_dir(self, directory: Path) -> Path:
        if directory not in self._made:
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise WorkspaceError(f"cannot create directory {directory}: {error}") from error
            self._made.add(directory)
        return directory


def _named_unlike_outputs(
    files: Iterable[str | os.PathLike[str]],
) -> list[str | os.PathLike[str]]:
    """The engine's files, refused (ConfigurationError) if one is named like a job's
    default output: a job that swapped its workflow's jobs directory for a symlink to
    that file's directory could make the next job's stdout truncate it."""
    files = list(files)
    for file in files:
        if DEFAULT_OUTPUT_NAME.fullmatch(os.path.basename(os.path.realpath(str(file)))):
            raise ConfigurationError(
                f"the engine's file {file} is named like a job's output file "
                "(<number>.out or .err): give it another name"
            )
    return files


def _parse_env(stdout: str) -> dict[str, str]:
    """The environment printed by env_builder_code; values become strings."""
    try:
        value = json.loads(stdout)
    except json.JSONDecodeError as error:
        raise WorkspaceError(
            f"env_builder_code must print a JSON object on stdout, got {stdout[:200]!r} "
            f"({error.msg})"
        ) from error
    if not isinstance(value, dict):
        raise WorkspaceError(
            f"env_builder_code must print a JSON object, got a {type(value).__name__}"
        )
    return {str(name): str(item) for name, item in value.items()}


def _safe_name(name: str) -> str:
    """A single path component: separators and parent references cannot escape the dir."""
    cleaned = name.replace(os.sep, "_").replace("/", "_")
    return "_" if cleaned in ("", ".", "..") else cleaned


def _below(directory: str) -> str:
    """What every path below ``directory`` (a real, absolute path) starts with."""
    return directory.rstrip(os.sep) + os.sep
