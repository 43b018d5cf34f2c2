"""The resource's files over SFTP (paramiko), as one side of a transfer (``FileTree``).

Reads are prefetched and writes pipelined (many requests in flight: a round trip per
32 KB packet would cap throughput at the link's latency); a big file's bytes go
through the OpenSSH client instead where it logs in (``openssh_stream``: paramiko's
Python per packet caps a download at a fraction of OpenSSH's speed). Hashes are computed on the
resource by its python over the same SSH connection, many files per call, so
verifying never reads the data back. A lost connection becomes a
``TransferInterruptedError``; the next operation opens a new session through
``connect`` (the resource's SSH session, which reconnects), so a transfer started again
resumes from the parts already there.
"""

from __future__ import annotations

import errno
import posixpath
import shlex
import socket
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, NoReturn

import paramiko

from swf_adapters.transfer.local_tree import entry_kind as _kind
from swf_adapters.transfer.openssh_stream import OpenSshStreams, PipeStream
from swf_app.ports import EntryKind, FileEntry
from swf_domain.errors import TransferError, TransferInterruptedError

#: Hashes the files named on its command line, one hex digest per line (runs on the
#: resource; the names never go through a shell: the command line is quoted word by word).
_DIGEST_SCRIPT = (
    "import hashlib, sys\n"
    "for name in sys.argv[1:]:\n"
    "    digest = hashlib.sha256()\n"
    "    with open(name, 'rb') as stream:\n"
    "        for block in iter(lambda: stream.read(1 << 20), b''):\n"
    "            digest.update(block)\n"
    "    print(digest.hexdigest())\n"
)
#: Read requests a download keeps in flight (paramiko's default, all of them at once, and
#: small values were both measured slower on loopback; 256 x 32 KB = 8 MB ahead).
_READS_IN_FLIGHT = 256
#: Bytes of a download from which they go through ``ssh``: its login (about 0.1 s) is
#: paid back from there (paramiko's SFTP reads at a fifth of OpenSSH's speed).
READ_THROUGH_SSH_FROM = 16 << 20
#: Bytes of an upload from which they go through ``ssh`` (paramiko's SFTP writes at
#: more than half of OpenSSH's speed: the login is paid back later).
WRITE_THROUGH_SSH_FROM = 64 << 20
#: Bytes per read from paramiko's prefetch buffers (its reply size).
_PIECE = 32 * 1024
#: Characters of file names per hashing call (well under any ARG_MAX).
_DIGEST_BATCH_CHARS = 64_000
#: Seconds a hashing call may take per GB before it counts as lost (and at least 60 s).
_DIGEST_TIMEOUT = 600.0
_LOST = (EOFError, socket.error, paramiko.SSHException)


class SftpTree:
    """``FileTree`` over SFTP; ``connect`` returns a live SSH client (the same one until
    it breaks)."""

    def __init__(
        self,
        connect: Callable[[], paramiko.SSHClient],
        python: Sequence[str] = ("python3",),
        openssh: OpenSshStreams | None = None,
    ) -> None:
        self._connect = connect
        #: Carries big files' bytes where ``ssh`` logs in (None: SFTP only).
        self._openssh = openssh
        #: The resource's python, which hashes files there (OpenSSL's SHA-256: several
        #: times faster than coreutils' sha256sum).
        self._python = list(python)
        #: One SFTP channel per thread: the copier moves small files several at a time,
        #: and channels of one connection are independent (no lock between them).
        self._local = threading.local()
        self._opened: list[paramiko.SFTPClient] = []
        self._lock = threading.Lock()

    def entry(self, path: str) -> FileEntry | None:
        with self._session() as sftp:
            try:
                info = sftp.lstat(path)
            except FileNotFoundError:
                return None
        return FileEntry(_kind(info.st_mode or 0), info.st_size or 0)

    def list_dir(self, path: str) -> list[str]:
        with self._session() as sftp:
            return sorted(sftp.listdir(path))

    def list_entries(self, path: str) -> list[tuple[str, FileEntry]]:
        with self._session() as sftp:
            found = sftp.listdir_attr(path)
        return sorted((a.filename, FileEntry(_kind(a.st_mode or 0), a.st_size or 0)) for a in found)

    def make_dir(self, path: str) -> None:
        """With its missing parents (as ``mkdir -p``)."""
        missing: list[str] = []
        current = path.rstrip("/") or "/"
        while current not in ("", "/") and self.entry(current) is None:
            missing.append(current)
            current = posixpath.dirname(current)
        with self._session() as sftp:
            for directory in reversed(missing):
                _mkdir(sftp, directory)

    def open_read(self, path: str, offset: int, size: int) -> Any:
        if size - offset >= READ_THROUGH_SSH_FROM and self._streams():
            return self._through_ssh(
                lambda ssh, c: ssh.open_read(c, path, offset, size), size - offset
            )
        with self._session() as sftp:
            stream = sftp.open(path, "rb")
            stream.seek(offset)
            if size > offset:
                stream.prefetch(size - offset, _READS_IN_FLIGHT)
        return _Guarded(stream, self, size - offset)

    def open_write(self, path: str, append: bool, size: int = 0) -> Any:
        if size >= WRITE_THROUGH_SSH_FROM and self._streams():
            return self._through_ssh(lambda ssh, c: ssh.open_write(c, path, append), -1)
        with self._session() as sftp:
            stream = sftp.open(path, "ab" if append else "wb")
            stream.set_pipelined(True)
        return _Guarded(stream, self)

    def _streams(self) -> OpenSshStreams | None:
        """``ssh`` when it logs in to this resource (asked once)."""
        if self._openssh is None:
            return None
        try:
            return self._openssh if self._openssh.usable(self._connect()) else None
        except _LOST as error:
            self.lost(error)

    def _through_ssh(
        self, start: Callable[[OpenSshStreams, paramiko.SSHClient], PipeStream], left: int
    ) -> _Guarded:
        assert self._openssh is not None
        try:
            return _Guarded(start(self._openssh, self._connect()), self, left)
        except _LOST as error:
            self.lost(error)

    def replace(self, source: str, target: str) -> None:
        with self._session() as sftp:
            sftp.posix_rename(source, target)

    def remove(self, path: str) -> None:
        with self._session() as sftp:
            sftp.remove(path)

    def remove_tree(self, path: str) -> None:
        found = self.entry(path)
        if found is None:
            return
        if found.kind is not EntryKind.DIRECTORY:
            self.remove(path)
            return
        for name in self.list_dir(path):
            self.remove_tree(posixpath.join(path, name))
        with self._session() as sftp:
            sftp.rmdir(path)

    def digests(self, paths: Sequence[str]) -> list[str]:
        found: list[str] = []
        for batch in _batches(paths):
            found.extend(self._digest_batch(batch))
        return found

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for sftp in opened:
            with suppress(*_LOST):
                sftp.close()
        self._local = threading.local()

    # -- internals ----------------------------------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[paramiko.SFTPClient]:
        """The SFTP session; a lost connection is dropped and reported as interrupted."""
        try:
            sftp: paramiko.SFTPClient | None = getattr(self._local, "sftp", None)
            if sftp is None:
                sftp = self._local.sftp = self._open()
                with self._lock:
                    self._opened.append(sftp)
            yield sftp
        except _LOST as error:
            self.lost(error)

    def _open(self) -> paramiko.SFTPClient:
        """A new SFTP channel. A connection that cannot open one is dead even if paramiko
        has not noticed yet: it is closed, so that ``connect`` makes a new one (once)."""
        client = self._connect()
        try:
            return client.open_sftp()
        except _LOST:
            client.close()
        return self._connect().open_sftp()

    def lost(self, error: BaseException) -> NoReturn:
        self._local.sftp = None
        raise TransferInterruptedError(f"the SFTP connection was lost: {error!r}") from error

    def _digest_batch(self, paths: Sequence[str]) -> list[str]:
        command = shlex.join([*self._python, "-c", _DIGEST_SCRIPT, *paths])
        try:
            client = self._connect()
            _, stdout, stderr = client.exec_command(command, timeout=_DIGEST_TIMEOUT)
            out = stdout.read()
            status = stdout.channel.recv_exit_status()
        except _LOST as error:
            self.lost(error)
        if status != 0:
            problem = stderr.read().decode(errors="replace").strip()
            raise TransferError(f"cannot hash files on the resource: {problem}")
        return out.decode("ascii").split()


class _Guarded:
    """A remote file whose connection errors become ``TransferInterruptedError``.

    A read stops at the size the file was listed with: asking for more would cost a
    round trip per call past the prefetched data just to hear "end of file" (a file
    that grew meanwhile fails its verification and is copied again).
    """

    def __init__(
        self, stream: paramiko.SFTPFile | PipeStream, tree: SftpTree, left: int = -1
    ) -> None:
        self._stream, self._tree, self._left = stream, tree, left

    def read(self, size: int) -> bytes:
        if self._left == 0:
            return b""
        if self._left > 0:
            size = min(size, self._left)
        try:
            data = _read(self._stream, size)
            self._left = max(self._left - len(data), 0) if self._left > 0 else self._left
            return data
        except _LOST as error:
            self._tree.lost(error)

    def write(self, data: bytes) -> None:
        try:
            self._stream.write(data)
        except _LOST as error:
            self._tree.lost(error)

    def close(self) -> None:
        try:
            self._stream.close()
        except _LOST as error:
            self._tree.lost(error)


def _read(stream: paramiko.SFTPFile | PipeStream, size: int) -> bytes:
    if isinstance(stream, PipeStream):
        return stream.read(size)
    return b"".join(_pieces(stream, size))


def _pieces(stream: paramiko.SFTPFile, length: int) -> Iterator[bytes]:
    """The prefetched data a reply at a time (paramiko's one big ``read`` concatenates
    its buffer over and over: quadratic in the size asked for)."""
    while length > 0:
        piece = stream.read(min(_PIECE, length))
        if not piece:
            return
        length -= len(piece)
        yield piece


def _mkdir(sftp: paramiko.SFTPClient, directory: str) -> None:
    try:
        sftp.mkdir(directory, mode=0o700)
    except OSError as error:  # made meanwhile by another client: fine if a directory
        if error.errno not in (None, errno.EEXIST) and sftp.lstat(directory) is None:
            raise
        if not stat.S_ISDIR(sftp.lstat(directory).st_mode or 0):
            raise TransferError(f"{directory} on the resource is not a directory") from error


def _batches(paths: Sequence[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for path in paths:
        if batch and size + len(path) > _DIGEST_BATCH_CHARS:
            yield batch
            batch, size = [], 0
        batch.append(path)
        size += len(path) + 1
    if batch:
        yield batch
