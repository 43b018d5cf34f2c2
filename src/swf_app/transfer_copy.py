"""Copying a file or directory tree from one ``FileTree`` to another, safely.

The same code uploads (client disk -> resource) and downloads (resource -> client disk):

* plan: list the source, one call per directory, without following links; a symbolic
  link or special file anywhere in it is refused (``TransferEscapeError`` naming it),
  and every name goes through ``safe_relative``;
* look at the target the same way (one listing per directory): a target that already
  holds the source's bytes (same size, then same SHA-256) is kept, and a part an
  interrupted copy left (``<name>.swf-part``, not longer than the source) is resumed
  from its size — so a cut transfer started again only moves what is missing;
* copy: each file streams in chunks into its part, reporting progress;
* verify: size and SHA-256 of every part against its source (each hash computed on its
  own side, many files per call), then an atomic rename into place. A part that does
  not match is copied again from zero once; a second mismatch is a ``TransferError``.

Listing whole directories rather than asking about each file matters over SFTP, where
every question is a network round trip: a tree of 10,000 small files costs about three
round trips per file (open, close, rename), as OpenSSH's own ``sftp`` does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from swf_domain.errors import TransferError, TransferEscapeError
from swf_domain.transfer_paths import inside, safe_relative

from .ports import EntryKind, FileEntry, FileTree, ReadStream, WriteStream

#: Bytes per read/write: large enough for SFTP pipelining, small enough for progress.
CHUNK = 1 << 20
#: Suffix of a file being written (renamed into place once verified).
PART_SUFFIX = ".swf-part"

#: Files smaller than this are copied COPY_THREADS at a time.
SMALL_FILE = 4 * CHUNK
COPY_THREADS = 8

#: progress(bytes done, bytes in all): called as chunks land.
Progress = Callable[[int, int], None]
#: A tree's entries by relative name ("" is the root itself).
Listing = dict[str, FileEntry]


@dataclass(frozen=True, slots=True)
class FileCopy:
    source: str
    target: str
    size: int


@dataclass(slots=True)
class _Counter:
    """Bytes done so far, added to from the copying threads."""

    total: int
    progress: Progress | None
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, count: int) -> None:
        with self.lock:
            self.done += count
            if self.progress is not None:
                self.progress(self.done, self.total)


def list_tree(tree: FileTree, root: str, refuse_links: bool = True) -> Listing:
    """Every entry under ``root`` (itself as ""); {} when nothing is there. Links and
    special files are refused, or (for a target) listed and left to the caller."""
    found = tree.entry(root)
    if found is None:
        return {}
    listing: Listing = {"": found}
    _check_kind(root, found, refuse_links, top=True)
    if found.kind is EntryKind.DIRECTORY:
        _list_below(tree, root, "", listing, refuse_links)
    return listing


def _list_below(tree: FileTree, root: str, relative: str, listing: Listing, refuse: bool) -> None:
    for name, entry in tree.list_entries(_join(root, relative)):
        child = f"{relative}/{safe_relative(name)}" if relative else safe_relative(name)
        _check_kind(_join(root, child), entry, refuse, top=False)
        listing[child] = entry
        if entry.kind is EntryKind.DIRECTORY:
            _list_below(tree, root, child, listing, refuse)


def _check_kind(path: str, entry: FileEntry, refuse: bool, top: bool) -> None:
    if refuse and entry.kind not in (EntryKind.FILE, EntryKind.DIRECTORY):
        where = "" if top else " inside a transfer"
        raise TransferEscapeError(path, f"is a {entry.kind.value}{where}, not a file or directory")


def copy_tree(
    source: FileTree,
    source_root: str,
    target: FileTree,
    target_root: str,
    progress: Progress | None = None,
) -> int:
    """Copy ``source_root`` to ``target_root`` (merging into an existing directory);
    the bytes in the tree."""
    plan = list_tree(source, source_root)
    if not plan:
        raise TransferError(f"file transfer: {source_root!r} does not exist")
    there = list_tree(target, target_root, refuse_links=False)
    _make_directories(target, target_root, plan, there)
    files = [
        FileCopy(_join(source_root, name), _join(target_root, name), entry.size)
        for name, entry in plan.items()
        if entry.kind is EntryKind.FILE
    ]
    counter = _Counter(sum(copy.size for copy in files), progress)
    names = {_join(target_root, name): entry for name, entry in there.items()}
    if plan[""].kind is EntryKind.FILE:  # its part, if any, is beside it
        part = target.entry(target_root + PART_SUFFIX)
        if part is not None:
            names[target_root + PART_SUFFIX] = part
    todo = _missing(source, target, files, names, counter)
    _copy_all(source, target, todo, names, counter)
    _verify(source, target, todo, counter)
    return counter.total


def _join(root: str, name: str) -> str:
    return inside(root, name) if name else root


def _make_directories(target: FileTree, root: str, plan: Listing, there: Listing) -> None:
    for name, entry in plan.items():
        found = there.get(name)
        if entry.kind is EntryKind.DIRECTORY and found is None:
            target.make_dir(_join(root, name))
        elif found is not None and found.kind is not entry.kind:
            where = _join(root, name)
            raise TransferEscapeError(
                where, f"is a {found.kind.value} where a {entry.kind.value} goes"
            )


def _missing(
    source: FileTree,
    target: FileTree,
    files: list[FileCopy],
    there: dict[str, FileEntry],
    counter: _Counter,
) -> list[FileCopy]:
    """The files whose target does not hold the source's bytes yet (the others are kept
    and counted as done)."""
    same_size = [c for c in files if _size(there.get(c.target)) == c.size]
    kept = set(_matching(source, target, same_size, "")) if same_size else set()
    for copy in kept:
        counter.add(copy.size)
    return [copy for copy in files if copy not in kept]


def _size(entry: FileEntry | None) -> int | None:
    return entry.size if entry is not None and entry.kind is EntryKind.FILE else None


def _matching(
    source: FileTree, target: FileTree, files: list[FileCopy], suffix: str
) -> list[FileCopy]:
    with ThreadPoolExecutor(1, thread_name_prefix="swf-hash") as pool:  # both sides at once
        wanted_later = pool.submit(source.digests, [copy.source for copy in files])
        found = target.digests([copy.target + suffix for copy in files])
        wanted = wanted_later.result()
    return [copy for copy, a, b in zip(files, wanted, found, strict=True) if a == b]


def _resumable(target: FileTree, copy: FileCopy, there: dict[str, FileEntry]) -> int:
    """Bytes of the part an interrupted copy left that can be kept (0: start over)."""
    part = there.get(copy.target + PART_SUFFIX)
    if part is None:
        return 0
    if part.kind is not EntryKind.FILE:
        raise TransferEscapeError(copy.target + PART_SUFFIX, f"is a {part.kind.value}")
    if part.size > copy.size:
        target.remove(copy.target + PART_SUFFIX)
        return 0
    return part.size


def _copy_all(
    source: FileTree,
    target: FileTree,
    files: list[FileCopy],
    there: dict[str, FileEntry],
    counter: _Counter,
) -> None:
    """Small files several at a time (over SFTP each costs round trips, not bandwidth),
    big ones one by one (each is pipelined already)."""
    small = [copy for copy in files if copy.size < SMALL_FILE]
    with ThreadPoolExecutor(COPY_THREADS, thread_name_prefix="swf-copy") as pool:
        copies = [
            pool.submit(_copy_file, source, target, c, _resumable(target, c, there), counter)
            for c in small
        ]
        for done in copies:
            done.result()  # the first failure stands (the others end with the pool)
    for copy in files:
        if copy.size >= SMALL_FILE:
            _copy_file(source, target, copy, _resumable(target, copy, there), counter)


def _copy_file(
    source: FileTree, target: FileTree, copy: FileCopy, offset: int, counter: _Counter
) -> None:
    counter.add(offset)
    reader = source.open_read(copy.source, offset, copy.size)
    try:
        writer = target.open_write(copy.target + PART_SUFFIX, offset > 0, copy.size - offset)
        try:
            _stream(reader, writer, counter)
        finally:
            writer.close()
    finally:
        reader.close()


def _stream(reader: ReadStream, writer: WriteStream, counter: _Counter) -> None:
    read, write = reader.read, writer.write
    while chunk := read(CHUNK):
        write(chunk)
        counter.add(len(chunk))


def _verify(source: FileTree, target: FileTree, files: list[FileCopy], counter: _Counter) -> None:
    """Check every part, copy a bad one again from zero once, then rename into place."""
    if not files:
        return
    bad = _mismatched(source, target, files)
    for copy in bad:
        target.remove(copy.target + PART_SUFFIX)
        counter.add(-copy.size)
        _copy_file(source, target, copy, 0, counter)
    still = _mismatched(source, target, bad) if bad else []
    if still:
        for copy in still:
            target.remove(copy.target + PART_SUFFIX)
        names = ", ".join(repr(copy.target) for copy in still[:5])
        raise TransferError(f"file transfer: copied data differs from its source at {names}")
    for copy in files:
        target.replace(copy.target + PART_SUFFIX, copy.target)


def _mismatched(source: FileTree, target: FileTree, files: list[FileCopy]) -> list[FileCopy]:
    sizes = _part_sizes(target, files)
    sized = [copy for copy in files if sizes.get(copy.target + PART_SUFFIX) == copy.size]
    good = set(_matching(source, target, sized, PART_SUFFIX)) if sized else set()
    return [copy for copy in files if copy not in good]


def _part_sizes(target: FileTree, files: list[FileCopy]) -> dict[str, int]:
    """Sizes of the parts: one listing per directory rather than one question per file."""
    directories = {copy.target.rpartition("/")[0] or "/" for copy in files}
    sizes: dict[str, int] = {}
    for directory in directories:
        for name, entry in target.list_entries(directory):
            if entry.kind is EntryKind.FILE and name.endswith(PART_SUFFIX):
                sizes[f"{directory.rstrip('/')}/{name}"] = entry.size
    return sizes
