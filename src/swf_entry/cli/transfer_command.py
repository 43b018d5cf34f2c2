"""``swf transfer``: move a workflow's files, with a rich progress bar per transfer; and
the transfers table ``swf status --jobs`` shows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from swf_app.read_models import TransferInfo
from swf_app.transfer_copy import Progress as CopyProgress

if TYPE_CHECKING:
    from swf_entry.client import WorkflowController


def transfers_table(infos: list[TransferInfo]) -> Table:
    table = Table(title="file transfers", title_justify="left")
    for column in ("id", "direction", "status", "client path", "on the resource"):
        table.add_column(column, overflow="fold")
    for info in infos:
        table.add_row(
            str(info.transfer_id),
            "in" if info.is_input else "out",
            info.status,
            info.client_path or ", ".join(info.client_paths or []),
            info.engine_path,
        )
    return table


def transfers_json(infos: list[TransferInfo]) -> list[dict[str, Any]]:
    return [info._asdict() for info in infos]


@contextmanager
def progress_bars(console: Any) -> Iterator[Any]:
    """A factory of copy progress callbacks, one rich bar per transfer."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bars:

        def factory(info: TransferInfo) -> CopyProgress:
            label = info.client_path or f"transfer {info.transfer_id}"
            task = bars.add_task(("send " if info.is_input else "fetch ") + label, total=None)
            return lambda done, total: bars.update(task, completed=done, total=total)

        yield factory


def move(wfc: WorkflowController, workflow_id: int, inputs: bool, console: Any) -> list[int]:
    with progress_bars(console) as factory:
        return wfc.file_transfers.move_workflow(workflow_id, inputs, factory)
