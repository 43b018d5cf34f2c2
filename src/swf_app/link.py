"""How a client reaches an engine: the ``EngineLink`` port and its table of operations.

The facade (``WorkflowController``), the CLI and the monitor only ever talk to an
``EngineLink``. Its methods below are the one declared table of link operations: each is
marked ``@query``, ``@command`` or ``@wait``, and ``OPERATIONS`` is read from those marks.
Every transport serves the table generically — the in-process service, the split link
(queries read locally, the rest sent to the daemon), the Pyro client and server — so adding
an operation is one marked signature here plus its code in ``EngineService`` (and, for a
query, in ``QueryService``).

The kind of an operation is its retry rule when the engine goes away mid-call:

* ``query`` reads: it is sent again after a lost connection (it changes nothing);
* ``command`` changes state: it is sent again only if it surely never reached the engine
  (a lost reply does not tell whether the engine applied it);
* ``wait`` blocks until something happens (its last argument is a timeout in seconds,
  negative for none): it is sent again with the time left, across engine restarts.

Every argument is plain data (ints, strings, epoch floats, lists, dicts); results are plain
data or the typed read models of ``read_models``, so any transport can carry them.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from .read_models import (
    JobChangeBatch,
    JobFiles,
    JobInfo,
    JobPage,
    JobTermination,
    OutputChunk,
    TransferInfo,
    WorkflowInfo,
    WorkflowProgress,
    WorkflowSummary,
)

_Method = TypeVar("_Method", bound=Callable[..., Any])

#: Bytes ``read_job_output`` returns at most per call (a chunk crosses the link whole).
MAX_OUTPUT_CHUNK = 1024 * 1024


class Kind(enum.Enum):
    QUERY = "query"
    COMMAND = "command"
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class Operation:
    """One entry of the table: its name, its kind (retry rule) and its Python signature
    (transports bind keyword and default arguments with it, so every call crosses the
    wire as one positional tuple)."""

    name: str
    kind: Kind
    signature: inspect.Signature

    @property
    def arity(self) -> int:
        """How many arguments the operation takes (``self`` aside)."""
        return len(self.signature.parameters) - 1

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """The call's arguments, positional and complete (defaults filled in)."""
        if not kwargs and len(args) == self.arity:
            return args  # the common case, without the cost of ``Signature.bind``
        bound = self.signature.bind(None, *args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.args[1:])


_KIND = "__swf_link_kind__"


def _marked(kind: Kind) -> Callable[[_Method], _Method]:
    def mark(method: _Method) -> _Method:
        setattr(method, _KIND, kind)
        return method

    return mark


query = _marked(Kind.QUERY)
command = _marked(Kind.COMMAND)
wait = _marked(Kind.WAIT)


class EngineLink(Protocol):
    """The engine's client-facing operations, with soma-workflow's semantics."""

    # -- submission -------------------------------------------------------------------
    @command
    def submit_workflow(
        self,
        document: dict[str, Any] | str,
        name: str | None,
        queue: str | None,
        expiration_date: float | None,
        working_directory: str | None = None,
    ) -> int:
        """``working_directory``: the client's current directory, where the workflow's
        jobs without one run (None: the user's home, for old clients). ``document`` may
        be its JSON text: transports send it so, encoded once, and the store keeps it."""
        ...

    # -- queries ----------------------------------------------------------------------
    @query
    def workflow_document(self, workflow_id: int) -> dict[str, Any]:
        """The submitted document plus ``job_ids``: the id of each job, in job order."""
        ...

    @query
    def workflows(self, workflow_ids: Sequence[int] | None = None) -> dict[int, WorkflowInfo]:
        """This user's workflows (or those of ``workflow_ids`` that exist)."""
        ...

    @query
    def workflow_list(
        self, workflow_ids: Sequence[int] | None = None
    ) -> dict[int, WorkflowSummary]:
        """``workflows`` with each one's status, counts per status and dates: one
        aggregate read of the store for the whole list, not one per workflow."""
        ...

    @query
    def workflow_status(self, workflow_id: int) -> str | None: ...

    @query
    def workflow_elements_status(
        self, workflow_id: int, with_drms_id: bool = True
    ) -> WorkflowProgress:
        """Every job's progress (``with_drms_id`` is kept for soma's signature: the read
        model always carries the scheduler's id; the facade drops it on request)."""
        ...

    @query
    def job_status(self, job_id: int) -> str: ...

    @query
    def job_termination_status(self, job_id: int) -> JobTermination: ...

    @query
    def job_files(self, job_id: int) -> JobFiles: ...

    @query
    def read_job_output(
        self, job_id: int, stream: str = "stdout", offset: int = 0, limit: int = MAX_OUTPUT_CHUNK
    ) -> OutputChunk:
        """Up to ``limit`` bytes (at most MAX_OUTPUT_CHUNK) of the job's ``stream``
        ("stdout" or "stderr") from byte ``offset``; read on the resource, so a client
        never opens the job's files itself. A negative ``offset`` counts from the end."""
        ...

    @query
    def get_job_output_params(self, job_id: int) -> dict[str, Any] | None: ...

    @query
    def status_summary(self, workflow_id: int) -> dict[str, int]: ...

    @query
    def jobs_info(self, job_ids: Sequence[int]) -> dict[int, JobInfo]:
        """soma's ``jobs(job_ids)``: each known job's name, argv as run and submission
        date, with its workflow and position; unknown ids are left out (as soma)."""
        ...

    @query
    def job_page(
        self,
        workflow_id: int,
        offset: int = 0,
        limit: int = 50,
        statuses: Sequence[str] = (),
        text: str = "",
        sort: str = "index",
        descending: bool = False,
    ) -> JobPage:
        """Up to ``limit`` (at most 1,000) of the workflow's jobs with one of ``statuses``
        (all if empty) and ``text`` in their name, sorted by ``sort`` (index, name,
        status, submitted, started, ended or duration), from ``offset``; filtered and
        sorted by the store, so a monitor shows a 100,000-job table at once."""
        ...

    @query
    def job_changes(self, workflow_id: int, since: int | None = None) -> JobChangeBatch:
        """The change feed: the jobs changed after ``since`` (None: all of them)."""
        ...

    @query
    def workflow_transfers(self, workflow_id: int) -> list[TransferInfo]:
        """The workflow's file transfers, in rank order (their ids: see TransferInfo)."""
        ...

    @query
    def transfers_info(self, transfer_ids: Sequence[int] | None = None) -> list[TransferInfo]:
        """The given transfers (unknown ids left out), or every one registered outside a
        workflow (soma's ``transfers()``)."""
        ...

    # -- file transfers ---------------------------------------------------------------
    @command
    def register_transfer(
        self,
        is_input: bool,
        client_path: str | None,
        client_paths: Sequence[str] | None,
        expiration_date: float | None,
    ) -> TransferInfo:
        """A transfer outside any workflow: its place in the resource's transfer area."""
        ...

    @command
    def set_transfer_status(self, transfer_id: int, status: str) -> bool:
        """Recorded by the client that moves the data; an input on the resource releases
        the jobs waiting for it."""
        ...

    @command
    def delete_transfer(self, transfer_id: int) -> bool:
        """A transfer registered outside a workflow, with its data on the resource."""
        ...

    # -- control ----------------------------------------------------------------------
    @command
    def stop_workflow(self, workflow_id: int) -> bool: ...

    @command
    def restart_workflow(self, workflow_id: int, queue: str | None = None) -> bool: ...

    @command
    def delete_workflow(self, workflow_id: int, force: bool = True) -> bool: ...

    @command
    def stop_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool: ...

    @command
    def restart_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool: ...

    @command
    def change_workflow_expiration_date(
        self, workflow_id: int, expiration_date: float | None
    ) -> bool: ...

    # -- waiting ----------------------------------------------------------------------
    @wait
    def wait_workflow(self, workflow_id: int, timeout: float = -1) -> bool: ...

    @wait
    def wait_job(self, job_ids: Sequence[int], timeout: float = -1) -> bool: ...

    @wait
    def wait_changes(
        self, workflow_id: int, since: int | None, timeout: float = -1
    ) -> JobChangeBatch:
        """The long-poll change feed: ``job_changes`` as soon as some job changed after
        ``since`` (or the workflow was deleted), else after ``timeout`` seconds an empty
        batch (whose ``since`` is still valid)."""
        ...

    # -- lifetime ---------------------------------------------------------------------
    def close(self) -> None:
        """Release the client side of the link; workflows go on."""
        ...


def operations_of(protocol: type) -> dict[str, Operation]:
    """The marked methods of ``protocol``, by name, in declaration order."""
    return {
        name: Operation(name, getattr(member, _KIND), inspect.signature(member))
        for name, member in vars(protocol).items()
        if callable(member) and hasattr(member, _KIND)
    }


#: The table every transport serves.
OPERATIONS: dict[str, Operation] = operations_of(EngineLink)


def operation(name: str) -> Operation:
    """The operation called ``name``; AttributeError if the link has none (so that
    ``getattr`` on a generic link behaves as on any object)."""
    found = OPERATIONS.get(name)
    if found is None:
        raise AttributeError(name)
    return found
