"""Real paths as the system resolves them now, cheap enough to check every job's paths
at launch (a few microseconds and two or three system calls per job).

``os.path.realpath`` is pure Python: one ``lstat`` per component of the path and string
work around each, about 15 µs for a short path, which was a fifth of the engine's busy
time at launch. Here the real path of each *directory* is remembered together with the
identity (device, inode) of the directory it led to, and is reused after one ``stat``
shows that the same string still leads to that same directory:

- a symlink put in place of any component since then (by an earlier job, say) leads to
  another directory, so the real path is computed again;
- a directory has a single parent, so the same directory has the same real path unless
  it was itself renamed — which puts a directory of the user's where it was moved, not
  one of the engine's files (reaching those means a job writing into the engine's state
  directory itself, which no check of paths can prevent);
- a directory that does not exist is never remembered (a job may create it, as a
  symlink, at any time), nor one that changed while it was being resolved.

Like any check made before a file is opened, it tells what the paths lead to at that
moment; a job running at the same time could still swap a component in between.

The last component of each path is looked at every time (one ``lstat``): a symlink there
is followed to its real target. Unless the caller says the file will be opened without
following one (``follow_last`` False, ``O_NOFOLLOW``): then the path is its directory's
real path and its name, with no system call of its own.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

#: Remembered directories at most (then forgotten at once: they are cheap to learn again).
MAX_DIRECTORIES = 20_000


class RealPaths:
    """``realpath`` for many paths in few directories; safe to share between threads
    (each entry is replaced as a whole, and checked before it is used)."""

    def __init__(self) -> None:
        self._directories: dict[str, tuple[str, int, int]] = {}
        #: The batch open on one thread: (its ident, real paths of directories seen).
        self._batch: tuple[int, dict[str, str]] | None = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Calls made inside it by this thread share their directories' real paths, as
        one call would: the engine checks the jobs of one launch batch (built together,
        before any of them runs) one by one, and their files share a few directories —
        one ``stat`` each per batch instead of per job. Other threads are not affected."""
        outer, self._batch = self._batch, (threading.get_ident(), {})
        try:
            yield
        finally:
            self._batch = outer

    def _checked(self) -> dict[str, str]:
        """The open batch's directories when this thread opened it, else a fresh dict."""
        batch = self._batch
        if batch is not None and batch[0] == threading.get_ident():
            return batch[1]
        return {}

    def real_paths(self, paths: Iterable[str], follow_last: bool = True) -> list[str]:
        """``os.path.realpath`` of each path, as the system resolves it at this moment
        (each directory and path looked at once per call or batch: big submissions
        repeat them); with ``follow_last`` False, a symlink at the last component is
        left as it is (see the module docstring)."""
        checked = self._checked()
        seen: dict[str, str] = {}
        out: list[str] = []
        for path in paths:
            real = seen.get(path)
            if real is None:
                real = seen[path] = self._real_path(path, checked, follow_last)
            out.append(real)
        return out

    def _real_path(self, path: str, checked: dict[str, str], follow_last: bool) -> str:
        cut = path.rfind("/")
        directory, name = path[: max(cut, 1)], path[cut + 1 :]
        if cut < 0 or name in ("", ".", ".."):
            return os.path.realpath(path)
        real_directory = checked.get(directory)
        if real_directory is None:
            real_directory = checked[directory] = self.real_directory(directory)
        candidate = f"{real_directory.rstrip('/')}/{name}"
        if not follow_last:
            return candidate
        try:
            is_link = stat.S_ISLNK(os.lstat(candidate).st_mode)
        except OSError:  # nothing there (yet): nothing to follow
            return candidate
        return os.path.realpath(candidate) if is_link else candidate

    def real_directory(self, directory: str) -> str:
        """The real path of ``directory``, from memory when it still leads to the same
        directory (see the module docstring)."""
        try:
            found = os.stat(directory)
        except OSError:  # does not exist (or cannot be searched): resolve, never remember
            return os.path.realpath(directory)
        known = self._directories.get(directory)
        if known is not None and known[1] == found.st_ino and known[2] == found.st_dev:
            return known[0]
        return self._learn(directory, found)

    def _learn(self, directory: str, found: os.stat_result) -> str:
        """Resolve ``directory``; remember it only if its real path still leads to the
        directory ``found`` (nothing was swapped while it was resolved)."""
        real = os.path.realpath(directory)
        try:
            same = os.path.samestat(os.stat(real), found)
        except OSError:
            same = False
        if same:
            if len(self._directories) >= MAX_DIRECTORIES:
                self._directories.clear()
            self._directories[directory] = (real, found.st_ino, found.st_dev)
        return real
