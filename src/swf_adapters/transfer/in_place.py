"""The local resource's ``FileStager``: the jobs use the client's files where they are."""

from __future__ import annotations

from collections.abc import Sequence

from swf_domain.model import FileTransfer


class InPlaceStager:
    """A ``FileStager`` that copies nothing: on the local resource a FileTransfer's engine
    path is its client path (for a multi-file transfer, its directory), so staging in or out
    has nothing to move."""

    def engine_path(self, workflow_id: int, transfer: FileTransfer) -> str:
        return transfer.client_path or ""

    def stage_in(self, workflow_id: int, transfers: Sequence[FileTransfer]) -> None:
        """The inputs already are where the jobs read them."""

    def stage_out(self, workflow_id: int, transfers: Sequence[FileTransfer]) -> None:
        """The outputs already are where the client reads them."""
