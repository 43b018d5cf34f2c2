"""What the resource knows of file transfers, as ``TransferInfo`` rows.

A workflow transfer's status: its state record when a client moved it (transfering,
on both sides); otherwise an input is on the client (or, used in place, on both sides)
and an output exists on the resource once every job writing it is done. A transfer
registered outside a workflow is its state record alone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from swf_domain.errors import TransferError, UnknownObjectError
from swf_domain.model import FileTransfer
from swf_domain.serialization import workflow_from_dict
from swf_domain.status import JobStatus, TransferStatus
from swf_domain.transfer_paths import engine_path
from swf_domain.transfers import (
    TransferRoles,
    initial_status,
    is_staged,
    split_transfer_id,
    transfer_id,
    transfer_roles,
)

from .ports import TransferArea
from .read_models import TransferInfo

_DONE = JobStatus.DONE.value

#: Workflows whose transfer roles stay parsed (a document is read once per workflow, not
#: at each poll: monitors call ``workflow_elements_status`` over and over).
_CACHED = 64

#: (workflow id) -> its submitted document (read only when its roles are not cached).
DocumentReader = Callable[[int], dict[str, Any]]
#: (workflow id) -> (each job's status in job order, expiration date); UnknownObjectError
#: when the workflow is gone.
StatusReader = Callable[[int], tuple[list[str], float | None]]
#: (workflow id) -> how many file transfers its document declares (None: unknown, read
#: the document); UnknownObjectError when the workflow is gone.
CountReader = Callable[[int], int | None]


class TransferQueries:
    def __init__(
        self,
        area: TransferArea | None,
        document: DocumentReader,
        statuses: StatusReader,
        exists: Callable[[int], object],
        count: CountReader | None = None,
    ) -> None:
        """``exists(workflow_id)`` raises UnknownObjectError when the workflow is gone;
        ``count`` says when a workflow has no transfer, so that its document (seconds
        to decode for a million jobs) is not read to learn it."""
        self._area = area
        self._exists = exists
        self._count = count
        self._document = document
        self._statuses = statuses
        self._roles: OrderedDict[int, tuple[bool, TransferRoles]] = OrderedDict()
        self._lock = threading.Lock()

    def workflow_transfers(self, workflow_id: int) -> list[TransferInfo]:
        staged, roles = self._roles_of(workflow_id)
        if not roles.transfers:
            self._exists(workflow_id)  # a cached answer must not outlive its workflow
            return []
        statuses, expiration = self._statuses(workflow_id)
        done = {index for index, status in enumerate(statuses) if status == _DONE}
        return [
            self._info(workflow_id, rank, transfer, staged, roles, done, expiration)
            for rank, transfer in enumerate(roles.transfers)
        ]

    def transfers_info(self, transfer_ids: Sequence[int] | None) -> list[TransferInfo]:
        if transfer_ids is None:
            ranks = self._area.standalone() if self._area is not None else []
            return [info for info in map(self._standalone, ranks) if info is not None]
        return [info for info in map(self._one, transfer_ids) if info is not None]

    def standalone_info(self, rank: int) -> TransferInfo:
        found = self._standalone(rank)
        if found is None:
            raise UnknownObjectError(f"unknown transfer id {rank}")
        return found

    # -- internals ----------------------------------------------------------------------

    def _one(self, value: int) -> TransferInfo | None:
        try:
            workflow_id, rank = split_transfer_id(value)
            if workflow_id == 0:
                return self._standalone(rank)
            found = self.workflow_transfers(workflow_id)
        except UnknownObjectError:
            return None
        return found[rank] if rank < len(found) else None

    def _standalone(self, rank: int) -> TransferInfo | None:
        if self._area is None:
            return None
        state = self._area.state(0, rank)
        if state is None:
            return None
        client_path, client_paths = state.get("client_path"), state.get("client_paths")
        return TransferInfo(
            transfer_id(0, rank),
            _engine_path(self._area, 0, rank, client_path, client_paths),
            client_path,
            client_paths,
            bool(state.get("is_input")),
            str(state["status"]),
            state.get("expiration_date"),
        )

    def _info(
        self,
        workflow_id: int,
        rank: int,
        transfer: FileTransfer,
        staged: bool,
        roles: TransferRoles,
        done: set[int],
        expiration: float | None,
    ) -> TransferInfo:
        if staged and self._area is not None:
            engine = _engine_path(
                self._area, workflow_id, rank, transfer.client_path, transfer.client_paths
            )
            state = self._area.state(workflow_id, rank)
            status = _staged_status(transfer, state, roles.writers(rank), done)
        else:
            engine = transfer.client_path or ""
            status = _in_place_status(transfer, roles.writers(rank), done)
        return TransferInfo(
            transfer_id(workflow_id, rank),
            engine,
            transfer.client_path,
            transfer.client_paths,
            transfer.is_input,
            status.value,
            expiration,
        )

    def _roles_of(self, workflow_id: int) -> tuple[bool, TransferRoles]:
        with self._lock:
            found = self._roles.get(workflow_id)
            if found is not None:
                self._roles.move_to_end(workflow_id)
                return found
        if self._count is not None and self._count(workflow_id) == 0:
            found = _NO_TRANSFERS  # the common case, known without the document
        else:
            document = self._document(workflow_id)
            if not document.get("serialized_file_transfers"):
                found = _NO_TRANSFERS  # nothing to parse
            else:
                workflow = workflow_from_dict(document)
                found = (is_staged(workflow), transfer_roles(workflow))
        with self._lock:
            self._roles[workflow_id] = found
            while len(self._roles) > _CACHED:
                self._roles.popitem(last=False)
        return found


_NO_TRANSFERS: tuple[bool, TransferRoles] = (False, TransferRoles([], [], []))


def _engine_path(
    area: TransferArea, workflow_id: int, rank: int, path: str | None, paths: Sequence[str] | None
) -> str:
    return engine_path(area.directory(workflow_id, rank), path, paths)


def _written(writers: list[int], done: set[int]) -> bool:
    return bool(writers) and all(index in done for index in writers)


def _staged_status(
    transfer: FileTransfer, state: dict[str, Any] | None, writers: list[int], done: set[int]
) -> TransferStatus:
    if state is not None:
        try:
            return TransferStatus(str(state.get("status")))
        except ValueError as error:
            raise TransferError(f"transfer state of {transfer.name!r}: {error}") from None
    if transfer.is_input:
        return initial_status(transfer)
    return TransferStatus.FILES_ON_CR if _written(writers, done) else initial_status(transfer)


def _in_place_status(transfer: FileTransfer, writers: list[int], done: set[int]) -> TransferStatus:
    """The client's files are the resource's: an input, or a written output, is on both."""
    if transfer.is_input or _written(writers, done):
        return TransferStatus.FILES_ON_CLIENT_AND_CR
    return TransferStatus.FILES_DO_NOT_EXIST
