"""A workflow's file transfers: their stable ranks, ids, and which jobs read or write them.

soma-workflow gives each transfer a database id. swf keeps no table for them: a
transfer's id is its workflow's id and its rank in a fixed walk over the jobs (the same
walk every time the document is read, so ids survive engine restarts), and transfers
registered outside any workflow live under workflow 0. Its status is a small state file
on the resource next to its data (see ``swf_app.ports.TransferArea``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import TransferError, UnknownObjectError
from .model import FileTransfer, Job, OptionPath, SpecialPath, Workflow
from .serialization._unknown import unknown_keys_of
from .status import TransferStatus

#: A workflow holds fewer transfers than this; ``id = workflow_id * BASE + rank``.
TRANSFER_ID_BASE = 1 << 20
#: The document key a client sets when the resource does not share its files: the
#: workflow's transfers are then copied to the resource's transfer directory.
STAGED_KEY = "swf_staged_transfers"

#: Statuses in which the data is present on the computing resource.
ON_RESOURCE = frozenset(
    {
        TransferStatus.FILES_ON_CR,
        TransferStatus.FILES_ON_CLIENT_AND_CR,
        TransferStatus.TRANSFERING_FROM_CR_TO_CLIENT,
    }
)

_INPUT_FIELDS = ("stdin", "working_directory")
_OUTPUT_FIELDS = ("stdout_file", "stderr_file", "working_directory")


def transfer_id(workflow_id: int, rank: int) -> int:
    return workflow_id * TRANSFER_ID_BASE + rank


def split_transfer_id(value: object) -> tuple[int, int]:
    """(workflow id, rank) of a transfer id; UnknownObjectError naming a bad one."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnknownObjectError(f"unknown transfer id {value!r}")
    return divmod(value, TRANSFER_ID_BASE)


def is_staged(workflow: Workflow) -> bool:
    """True when the workflow's transfers are copied (the client is not on the resource)."""
    extras = unknown_keys_of(workflow)
    return bool(extras is not None and extras.workflow.get(STAGED_KEY))


@dataclass(frozen=True, slots=True)
class TransferRoles:
    """A workflow's transfers in rank order, and for each job the ranks it reads and
    writes (referenced files, plus stdin / stdout / stderr / working directory, as
    soma-workflow adds them)."""

    transfers: list[FileTransfer]
    reads: list[tuple[int, ...]]
    writes: list[tuple[int, ...]]

    def writers(self, rank: int) -> list[int]:
        return [index for index, ranks in enumerate(self.writes) if rank in ranks]


def transfer_roles(workflow: Workflow) -> TransferRoles:
    ranks: dict[int, int] = {}
    transfers: list[FileTransfer] = []
    reads: list[tuple[int, ...]] = []
    writes: list[tuple[int, ...]] = []
    for job in workflow.jobs:
        for transfer in _transfers_in(_job_items(job)):
            if id(transfer) not in ranks:
                ranks[id(transfer)] = len(transfers)
                transfers.append(transfer)
        reads.append(_ranks(ranks, _inputs(job)))
        writes.append(_ranks(ranks, _outputs(job)))
    if len(transfers) >= TRANSFER_ID_BASE:
        raise TransferError(f"a workflow holds at most {TRANSFER_ID_BASE - 1} file transfers")
    return TransferRoles(transfers, reads, writes)


def _ranks(ranks: dict[int, int], items: list[Any]) -> tuple[int, ...]:
    return tuple(sorted({ranks[id(t)] for t in _transfers_in(items) if id(t) in ranks}))


def _inputs(job: Job) -> list[Any]:
    return [job.referenced_input_files or [], *(getattr(job, f) for f in _INPUT_FIELDS)]


def _outputs(job: Job) -> list[Any]:
    return [job.referenced_output_files or [], *(getattr(job, f) for f in _OUTPUT_FIELDS)]


def _job_items(job: Job) -> list[Any]:
    return [job.command, list((job.param_dict or {}).values()), _inputs(job), _outputs(job)]


def _transfers_in(item: Any) -> Iterator[FileTransfer]:
    return (r for r in referents_in(item) if isinstance(r, FileTransfer))


def referents_in(item: Any) -> Iterator[SpecialPath]:
    """The referents of every special path in ``item`` (nested lists, tuples, dicts,
    OptionPath parents), in order: what a job's values name on the resource."""
    stack = [item]
    while stack:
        current = stack.pop()
        if isinstance(current, OptionPath):
            stack.append(current.parent_path)
        elif isinstance(current, SpecialPath):
            yield current.referent()
        elif isinstance(current, (list, tuple)):
            stack.extend(reversed(current))
        elif isinstance(current, dict):
            stack.extend(reversed(list(current.values())))


def initial_status(transfer: FileTransfer) -> TransferStatus:
    return TransferStatus(transfer.initial_status)
