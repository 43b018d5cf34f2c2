"""The file-transfer commands of the link (``EngineService`` inherits them).

The client moves the data (it holds the client side's files); the engine keeps each
transfer's state record in the resource's transfer area and releases the jobs waiting
for an input once the client says it is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from swf_domain.errors import TransferError, UnknownObjectError
from swf_domain.status import TransferStatus
from swf_domain.transfer_paths import transfer_names
from swf_domain.transfers import ON_RESOURCE, split_transfer_id

from .ports import TransferArea
from .read_models import TransferInfo

if TYPE_CHECKING:
    from .engine import Engine
    from .queries import QueryService


class TransferCommands:
    _engine: Engine
    _transfers: TransferArea | None
    queries: QueryService

    def register_transfer(
        self,
        is_input: bool,
        client_path: str | None,
        client_paths: Sequence[str] | None,
        expiration_date: float | None,
    ) -> TransferInfo:
        area = self._area()
        transfer_names(client_path, client_paths)  # refuses names that would escape
        rank = area.new_standalone()
        status = TransferStatus.FILES_ON_CLIENT if is_input else TransferStatus.FILES_DO_NOT_EXIST
        area.write_state(
            0, rank, _record(is_input, client_path, client_paths, expiration_date, status)
        )
        return self.queries.transfers.standalone_info(rank)

    def set_transfer_status(self, transfer_id: int, status: str) -> bool:
        workflow_id, rank = split_transfer_id(transfer_id)
        try:
            chosen = TransferStatus(status)
        except ValueError:
            raise TransferError(f"transfer {transfer_id}: unknown status {status!r}") from None
        area = self._area()
        if workflow_id == 0:
            state = area.state(0, rank)
            if state is None:
                raise UnknownObjectError(f"unknown transfer id {transfer_id}")
            area.write_state(0, rank, {**state, "status": chosen.value})
            return True
        self._check_rank(workflow_id, rank, transfer_id)
        area.write_state(workflow_id, rank, {"status": chosen.value})
        if chosen in ON_RESOURCE:
            execution = self._engine.execution
            self._engine.call(lambda tx: execution.transfer_arrived(workflow_id, rank, tx))
        return True

    def delete_transfer(self, transfer_id: int) -> bool:
        workflow_id, rank = split_transfer_id(transfer_id)
        if workflow_id != 0:
            raise TransferError(
                f"transfer {transfer_id} belongs to workflow {workflow_id}: it is deleted with it"
            )
        area = self._area()
        if area.state(0, rank) is None:
            return False
        area.remove(0, rank)
        return True

    def _check_rank(self, workflow_id: int, rank: int, transfer_id: int) -> None:
        if rank >= len(self.queries.workflow_transfers(workflow_id)):
            raise UnknownObjectError(f"unknown transfer id {transfer_id}")

    def _area(self) -> TransferArea:
        if self._transfers is None:
            raise TransferError("this engine has no transfer directory")
        return self._transfers


def _record(
    is_input: bool,
    client_path: str | None,
    client_paths: Sequence[str] | None,
    expiration_date: float | None,
    status: TransferStatus,
) -> dict[str, Any]:
    return {
        "status": status.value,
        "is_input": bool(is_input),
        "client_path": client_path,
        "client_paths": list(client_paths) if client_paths else None,
        "expiration_date": expiration_date,
    }


def expire_standalone(area: TransferArea, now: float) -> list[int]:
    """Remove the transfers registered outside a workflow whose expiration date passed
    (soma-workflow: their ``disposal_timeout``); the ranks removed."""
    expired = []
    for rank in area.standalone():
        state = area.state(0, rank)
        date = state.get("expiration_date") if state is not None else None
        if isinstance(date, (int, float)) and date < now:
            area.remove(0, rank)
            expired.append(rank)
    return expired
