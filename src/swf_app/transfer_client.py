"""The client's half of file transfers: moving the data, through the link's records.

The engine knows where each transfer lives on the resource and its status; the client
holds the client side's files, so it does the copying (``transfer_copy``, between its
own disk and the resource's ``FileTree``: SFTP when remote) and tells the engine before
and after (``set_transfer_status``), which releases the jobs waiting for an input.
Direction follows soma-workflow: a transfer on the client (or being sent) is sent; one
on the resource (or being fetched) is fetched.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from swf_domain.errors import TransferError, TransferInterruptedError, UnknownObjectError
from swf_domain.status import TransferStatus as TS
from swf_domain.transfer_paths import data_directory, engine_main_name

from .link import EngineLink
from .ports import EntryKind, FileTree
from .read_models import TransferInfo
from .transfer_copy import PART_SUFFIX, Progress, copy_tree

_SEND = frozenset({TS.FILES_ON_CLIENT, TS.TRANSFERING_FROM_CLIENT_TO_CR})
_FETCH = frozenset({TS.FILES_ON_CR, TS.FILES_ON_CLIENT_AND_CR, TS.TRANSFERING_FROM_CR_TO_CLIENT})
#: Times a copy is started again after its connection was lost (then the error stands).
RECONNECTS = 3
#: soma-workflow's progression of a transfer that is not moving.
IDLE_PROGRESSION = (100, 100)


@dataclass(frozen=True, slots=True)
class Copy:
    """One source -> target of a transfer (a multi-file transfer has several)."""

    client: str
    resource: str


class TransferClient:
    def __init__(self, link: EngineLink, client: FileTree, resource: FileTree) -> None:
        self._link = link
        self.client = client
        self.resource = resource

    def info(self, transfer_id: int) -> TransferInfo:
        found = self._link.transfers_info([transfer_id])
        if not found:
            raise UnknownObjectError(f"unknown transfer id {transfer_id!r}")
        return found[0]

    def transfer(self, transfer_id: int, progress: Progress | None = None) -> TransferInfo:
        """Send or fetch the transfer's data (see the module docstring)."""
        info = self.info(transfer_id)
        status = TS(info.status)
        if _in_place(info):
            return info
        if status in _SEND:
            self._move(info, TS.TRANSFERING_FROM_CLIENT_TO_CR, progress, send=True)
        elif status in _FETCH:
            self._move(info, TS.TRANSFERING_FROM_CR_TO_CLIENT, progress, send=False)
        else:
            raise TransferError(f"transfer {transfer_id}: nothing to move yet ({info.status})")
        return self.info(transfer_id)

    def progression(self, info: TransferInfo) -> Any:
        """soma's progression: (bytes in all, bytes there) while moving, else (100, 100)."""
        status = TS(info.status)
        if status is TS.TRANSFERING_FROM_CLIENT_TO_CR:
            return self._sizes(info, send=True)
        if status is TS.TRANSFERING_FROM_CR_TO_CLIENT:
            return self._sizes(info, send=False)
        return IDLE_PROGRESSION

    # -- internals ----------------------------------------------------------------------

    def _move(self, info: TransferInfo, moving: TS, progress: Progress | None, send: bool) -> None:
        self._link.set_transfer_status(info.transfer_id, moving.value)
        copies = copies_of(info)
        done_before, total = 0, self._total(copies, send)
        for copy in copies:
            done_before += self._copy(copy, send, _offset(progress, done_before, total))
        self._link.set_transfer_status(info.transfer_id, TS.FILES_ON_CLIENT_AND_CR.value)

    def _copy(self, copy: Copy, send: bool, progress: Progress | None) -> int:
        """One copy, started again (resuming from what arrived) after a lost connection."""
        for _ in range(RECONNECTS):
            try:
                return self._copy_once(copy, send, progress)
            except TransferInterruptedError:
                continue
        return self._copy_once(copy, send, progress)

    def _copy_once(self, copy: Copy, send: bool, progress: Progress | None) -> int:
        if send:
            self.resource.make_dir(posixpath.dirname(copy.resource))
            return copy_tree(self.client, copy.client, self.resource, copy.resource, progress)
        return copy_tree(self.resource, copy.resource, self.client, copy.client, progress)

    def _total(self, copies: Sequence[Copy], send: bool) -> int:
        tree = self.client if send else self.resource
        return sum(tree_size(tree, c.client if send else c.resource) for c in copies)

    def _sizes(self, info: TransferInfo, send: bool) -> tuple[int, int]:
        copies = copies_of(info)
        total = self._total(copies, send)
        target = self.resource if send else self.client
        there = sum(tree_size(target, c.resource if send else c.client) for c in copies)
        return total, min(there, total)


def copies_of(info: TransferInfo) -> list[Copy]:
    """Each client path and where it is in the transfer's directory on the resource."""
    directory = data_directory(info.engine_path, info.client_paths)
    sources = info.client_paths or ([info.client_path] if info.client_path else [])
    return [Copy(s, posixpath.join(directory, engine_main_name(s, None))) for s in sources]


def _in_place(info: TransferInfo) -> bool:
    """The resource uses the client's own files (a local resource): nothing to move."""
    return info.client_path is not None and info.engine_path == info.client_path


def _offset(progress: Progress | None, before: int, total: int) -> Progress | None:
    if progress is None:
        return None
    return lambda done, _: progress(before + done, total)


def tree_size(tree: FileTree, root: str) -> int:
    """Bytes under ``root`` (partial copies included; links not followed; 0 if absent)."""
    found = tree.entry(root)
    if found is None:
        return 0 if root.endswith(PART_SUFFIX) else tree_size(tree, root + PART_SUFFIX)
    if found.kind is EntryKind.FILE:
        return found.size
    if found.kind is not EntryKind.DIRECTORY:
        return 0
    return sum(tree_size(tree, posixpath.join(root, name)) for name in tree.list_dir(root))
