"""soma-workflow's file-transfer calls of the WorkflowController, over ``TransferClient``.

Transfer ids, statuses and progression tuples are soma's; a FileTransfer of a workflow
submitted to a resource that does not share the client's files ("staged") is copied to
the resource's transfer directory, and its jobs wait there for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from swf_app.link import EngineLink
from swf_app.ports import FileTree
from swf_app.read_models import TransferInfo
from swf_app.transfer_client import TransferClient
from swf_app.transfer_copy import Progress
from swf_domain.errors import TransferError
from swf_domain.model import FileTransfer, Workflow
from swf_domain.status import TransferStatus
from swf_domain.transfers import STAGED_KEY, transfer_roles
from swf_entry import arguments
from swf_entry.engine_view import EngineTransfer

#: (transfer id, info) -> a progress callback for its copy (the CLI's rich bar).
ProgressFactory = Callable[[TransferInfo], Progress | None]

_INPUT_WAITING = frozenset(
    {TransferStatus.FILES_ON_CLIENT, TransferStatus.TRANSFERING_FROM_CLIENT_TO_CR}
)
_OUTPUT_READY = frozenset(
    {TransferStatus.FILES_ON_CR, TransferStatus.TRANSFERING_FROM_CR_TO_CLIENT}
)


class FacadeTransfers:
    def __init__(
        self, link: EngineLink, client: FileTree, resource: FileTree, staged: bool
    ) -> None:
        self.client = TransferClient(link, client, resource)
        self._link = link
        #: The resource does not share the client's files: workflow transfers are copied.
        self.staged = staged

    def mark(self, document: dict[str, Any]) -> None:
        """Tell the engine (in the document it stores) to stage this workflow's files."""
        if self.staged:
            document[STAGED_KEY] = True

    def rows(self, workflow_id: int) -> list[tuple[int, tuple[Any, ...]]]:
        """soma's transfer rows of ``workflow_elements_status``."""
        return [
            (
                i.transfer_id,
                (
                    i.status,
                    self.client.progression(i),
                    i.engine_path,
                    i.client_path,
                    i.client_paths,
                ),
            )
            for i in self._link.workflow_transfers(workflow_id)
        ]

    def mapping(self, workflow_id: int, workflow: Workflow) -> dict[FileTransfer, EngineTransfer]:
        infos = self._link.workflow_transfers(workflow_id)
        transfers = transfer_roles(workflow).transfers
        return {
            t: EngineTransfer(t, i.transfer_id, i.engine_path, i.status)
            for t, i in zip(transfers, infos, strict=False)
        }

    def register(self, transfer: FileTransfer) -> EngineTransfer:
        if not isinstance(transfer, FileTransfer):
            raise TransferError(
                f"register_transfer: expected a FileTransfer, not {type(transfer).__name__}"
            )
        expiration = datetime.now() + timedelta(hours=transfer.disposal_timeout or 0)
        info = self._link.register_transfer(
            transfer.is_input, transfer.client_path, transfer.client_paths, expiration.timestamp()
        )
        return EngineTransfer(transfer, info.transfer_id, info.engine_path, info.status)

    def transfer_files(self, transfer_ids: Any, progress: ProgressFactory | None = None) -> bool:
        for transfer_id in _ids(transfer_ids):
            info = self.client.info(transfer_id)
            self.client.transfer(transfer_id, progress(info) if progress else None)
        return True

    def status(self, transfer_id: Any) -> tuple[str, Any]:
        info = self.client.info(arguments.object_id(transfer_id, "transfer_id"))
        return info.status, self.client.progression(info)

    def delete(self, transfer_id: Any) -> bool:
        return self._link.delete_transfer(arguments.object_id(transfer_id, "transfer_id"))

    def transfers(self, transfer_ids: Sequence[int] | None) -> dict[int, tuple[Any, ...]]:
        ids = arguments.optional_ids(transfer_ids, "transfer_ids")
        return {
            i.transfer_id: (i.engine_path, i.client_path, _date(i.expiration_date), i.client_paths)
            for i in self._link.transfers_info(ids or None)
        }

    def move_workflow(
        self, workflow_id: int, inputs: bool, progress: ProgressFactory | None = None
    ) -> list[int]:
        """Helper.transfer_input_files / transfer_output_files: the ids moved."""
        wanted = _INPUT_WAITING if inputs else _OUTPUT_READY
        infos = self._link.workflow_transfers(arguments.object_id(workflow_id, "workflow_id"))
        chosen = [i for i in infos if TransferStatus(i.status) in wanted and i.is_input == inputs]
        for info in chosen:
            self.client.transfer(info.transfer_id, progress(info) if progress else None)
        return [info.transfer_id for info in chosen]


def _ids(transfer_ids: Any) -> list[int]:
    """soma's rule: one id alone (a bare string too) is a list of one."""
    if isinstance(transfer_ids, (int, str, bytes)) or not isinstance(transfer_ids, Iterable):
        transfer_ids = [transfer_ids]
    return arguments.object_ids(transfer_ids, "transfer_ids")


def _date(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch)
