"""The local disk as one side of a transfer (the client's; a resource's in unit tests)."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Sequence
from typing import BinaryIO

from swf_app.ports import EntryKind, FileEntry


class LocalTree:
    """``FileTree`` over this machine's file system (paths are plain OS paths)."""

    def entry(self, path: str) -> FileEntry | None:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        return FileEntry(entry_kind(info.st_mode), info.st_size)

    def list_dir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def list_entries(self, path: str) -> list[tuple[str, FileEntry]]:
        with os.scandir(path) as found:
            entries = [(e.name, e.stat(follow_symlinks=False)) for e in found]
        return sorted((name, FileEntry(entry_kind(i.st_mode), i.st_size)) for name, i in entries)

    def make_dir(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def open_read(self, path: str, offset: int, size: int) -> BinaryIO:
        stream = open(path, "rb")  # noqa: SIM115 - the copier closes it
        stream.seek(offset)
        return stream

    def open_write(self, path: str, append: bool, size: int = 0) -> BinaryIO:
        return open(path, "ab" if append else "wb")

    def replace(self, source: str, target: str) -> None:
        os.replace(source, target)

    def remove(self, path: str) -> None:
        os.unlink(path)

    def remove_tree(self, path: str) -> None:
        found = self.entry(path)
        if found is None:
            return
        if found.kind is EntryKind.DIRECTORY:
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def digests(self, paths: Sequence[str]) -> list[str]:
        return [file_digest(path) for path in paths]


def file_digest(path: str) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def entry_kind(mode: int) -> EntryKind:
    """The kind of an ``lstat`` mode (shared with the SFTP tree)."""
    if stat.S_ISLNK(mode):
        return EntryKind.LINK
    if stat.S_ISDIR(mode):
        return EntryKind.DIRECTORY
    return EntryKind.FILE if stat.S_ISREG(mode) else EntryKind.OTHER
