"""Copying a file or directory tree from one ``FileTree`` to another, safely.

The same code uploads (client disk -> resource) and downloads (resource -> client disk):

* plan: walk the source with ``lstat``; a symbolic link or special file anywhere in it is
  refused (``TransferEscapeError`` naming it), every name goes through ``safe_relative``;
* copy: each file streams in chunks into ``<target>.swf-part``, reporting progress; a
  part left by an interrupted copy is resumed from its size; a target that already holds
  the same bytes (size, then SHA-256) is kept, so a cut transfer started again only
  moves what is missing;
* verify: size and SHA-256 of every copied part against its source (each computed on its
  own side, in one call per side), then an atomic rename into place. A part that does
  not match is copied again from zero once; a second mismatch is a ``TransferError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from swf_domain.errors import TransferError, TransferEscapeError
from swf_domain.transfer_paths import inside, safe_relative

from .ports import EntryKind, FileTree, ReadStream, WriteStream

#: Bytes per read/write: large enough for SFTP pipelining, small enough for progress.
CHUNK = 1 << 20
#: Suffix of a file being written (renamed into place once verified).
PART_SUFFIX = ".swf-part"

#: progress(bytes done, bytes in all): called as chunks land.
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class CopyPlan:
    """A source tree to copy: directories then files (names relative to the root; the
    root itself is the name "")."""

    directories: list[str] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(size for _, size in self.files)


@dataclass(slots=True)
class _Counter:
    total: int
    progress: Progress | None
    done: int = 0

    def add(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)


def plan_tree(tree: FileTree, root: str) -> CopyPlan:
    """What copying ``root`` (a file or a directory) means, links refused."""
    found = tree.entry(root)
    if found is None:
        raise TransferError(f"file transfer: {root!r} does not exist")
    plan = CopyPlan()
    if found.kind is EntryKind.FILE:
        plan.files.append(("", found.size))
    elif found.kind is EntryKind.DIRECTORY:
        plan.directories.append("")
        _walk(tree, root, "", plan)
    else:
        raise TransferEscapeError(root, f"is a {found.kind.value}, not a file or directory")
    return plan


def _walk(tree: FileTree, root: str, relative: str, plan: CopyPlan) -> None:
    for name in tree.list_dir(_join(root, relative)):
        child = _join(relative, safe_relative(name)) if relative else safe_relative(name)
        found = tree.entry(_join(root, child))
        if found is None:
            continue  # removed while we looked: nothing to copy
        if found.kind is EntryKind.DIRECTORY:
            plan.directories.append(child)
            _walk(tree, root, child, plan)
        elif found.kind is EntryKind.FILE:
            plan.files.append((child, found.size))
        else:
            raise TransferEscapeError(
                _join(root, child), f"is a {found.kind.value} inside a transfer"
            )


def copy_tree(
    source: FileTree,
    source_root: str,
    target: FileTree,
    target_root: str,
    progress: Progress | None = None,
) -> int:
    """Copy ``source_root`` to ``target_root`` (merging into an existing directory);
    the bytes in the tree."""
    plan = plan_tree(source, source_root)
    counter = _Counter(plan.total, progress)
    for directory in plan.directories:
        _make_dir(target, _join(target_root, directory))
    pairs = [
        (_join(source_root, name), _join(target_root, name), size) for name, size in plan.files
    ]
    todo = _missing(source, target, pairs, counter)
    for source_path, target_path, size in todo:
        _copy_file(source, source_path, target, target_path, size, counter)
    _verify(source, target, todo, counter)
    return plan.total


def _join(root: str, name: str) -> str:
    return inside(root, name) if name else root


def _make_dir(target: FileTree, path: str) -> None:
    found = target.entry(path)
    if found is not None and found.kind is not EntryKind.DIRECTORY:
        raise TransferEscapeError(path, f"is a {found.kind.value} where a directory goes")
    if found is None:
        target.make_dir(path)


Pair = tuple[str, str, int]


def _missing(
    source: FileTree, target: FileTree, pairs: list[Pair], counter: _Counter
) -> list[Pair]:
    """The pairs whose target does not hold the source's bytes yet (same size and hash:
    kept, and counted as done)."""
    same_size = [pair for pair in pairs if _target_size(target, pair[1]) == pair[2]]
    if not same_size:
        return pairs
    kept = _matching(source, target, [(s, t, size) for s, t, size in same_size])
    for pair in kept:
        counter.add(pair[2])
    return [pair for pair in pairs if pair not in kept]


def _target_size(target: FileTree, path: str) -> int | None:
    found = target.entry(path)
    if found is None:
        return None
    if found.kind is not EntryKind.FILE:
        raise TransferEscapeError(path, f"is a {found.kind.value} where a file goes")
    return found.size


def _matching(source: FileTree, target: FileTree, pairs: list[Pair]) -> list[Pair]:
    wanted = source.digests([s for s, _, _ in pairs])
    found = target.digests([t for _, t, _ in pairs])
    return [pair for pair, a, b in zip(pairs, wanted, found, strict=True) if a == b]


def _copy_file(
    source: FileTree,
    source_path: str,
    target: FileTree,
    target_path: str,
    size: int,
    counter: _Counter,
) -> None:
    part = target_path + PART_SUFFIX
    offset = _resumable(target, part, size)
    counter.add(offset)
    reader = source.open_read(source_path, offset)
    try:
        writer = target.open_write(part, append=offset > 0)
        try:
            _stream(reader, writer, counter)
        finally:
            writer.close()
    finally:
        reader.close()


def _resumable(target: FileTree, part: str, size: int) -> int:
    """Bytes of ``part`` an interrupted copy left that can be kept (0: start over)."""
    found = target.entry(part)
    if found is None:
        return 0
    if found.kind is not EntryKind.FILE:
        raise TransferEscapeError(part, f"is a {found.kind.value} where a file goes")
    if found.size > size:
        target.remove(part)
        return 0
    return found.size


def _stream(reader: ReadStream, writer: WriteStream, counter: _Counter) -> None:
    read, write = reader.read, writer.write
    while chunk := read(CHUNK):
        write(chunk)
        counter.add(len(chunk))


def _verify(source: FileTree, target: FileTree, pairs: list[Pair], counter: _Counter) -> None:
    """Check every part, copy a bad one again from zero once, then rename into place."""
    if not pairs:
        return
    bad = _mismatched(source, target, pairs)
    for source_path, target_path, size in bad:
        target.remove(target_path + PART_SUFFIX)
        counter.add(-size)
        _copy_file(source, source_path, target, target_path, size, counter)
    still = _mismatched(source, target, bad) if bad else []
    if still:
        names = ", ".join(repr(t) for _, t, _ in still[:5])
        raise TransferError(f"file transfer: copied data differs from its source at {names}")
    for _, target_path, _ in pairs:
        target.replace(target_path + PART_SUFFIX, target_path)


def _mismatched(source: FileTree, target: FileTree, pairs: list[Pair]) -> list[Pair]:
    parts = [(s, t + PART_SUFFIX, size) for s, t, size in pairs]
    sized = [pair for pair in parts if _target_size(target, pair[1]) == pair[2]]
    good = {t for _, t, _ in _matching(source, target, sized)} if sized else set()
    return [pair for pair, part in zip(pairs, parts, strict=True) if part[1] not in good]
