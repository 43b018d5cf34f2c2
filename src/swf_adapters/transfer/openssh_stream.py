"""A big file's bytes carried by the OpenSSH client (``ssh``) instead of paramiko.

paramiko decrypts and dispatches every SSH packet in Python: a download over it runs at
a fifth of OpenSSH's own ``sftp`` on a quiet machine, whatever the SFTP tuning
(bench/README.md). Here ``ssh`` runs the resource's python, which writes one range of
the file to its stdout (or appends its stdin to a file); the bytes go through a pipe
that this process reads in 1 MB chunks, so the copier keeps its ``.swf-part`` files,
its resume and progress, and verifies size + SHA-256 on both sides afterwards as for
any copy.

The same guarantees as the paramiko connection: ``ssh`` gets a known_hosts file holding
exactly the host key paramiko verified for this connection (``StrictHostKeyChecking``
yes, never updated), no user configuration (``-F /dev/null``: the same host and port as
paramiko, no proxy or alias of ``~/.ssh/config``), no prompt (``BatchMode``: key file,
default keys or agent only), no shell here (an argument list) and the remote command
quoted word by word. Where ``ssh`` is missing or cannot log in that way (a password,
an encrypted key), a probe says so once and the caller keeps paramiko's SFTP; a host
key that differs from the verified one is a ``HostKeyError``, never a fallback.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, NoReturn

import paramiko

from swf_adapters.transport.ssh.connection import SshTarget
from swf_domain.errors import HostKeyError, TransferError

#: Writes the marker ``argv[4]``, then ``argv[3]`` bytes of the file ``argv[1]`` from
#: ``argv[2]``, to stdout (runs on the resource; a link is not followed: the copier
#: refuses links in a transfer). The marker tells the data from whatever the remote
#: shell's startup files print first.
_READ_SCRIPT = (
    "import os, sys\n"
    "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NOFOLLOW)\n"
    "offset, left = int(sys.argv[2]), int(sys.argv[3])\n"
    "out = sys.stdout.buffer\n"
    "out.write(sys.argv[4].encode())\n"
    "while left > 0:\n"
    "    block = os.pread(fd, min(left, 1 << 20), offset)\n"
    "    if not block:\n"
    "        break\n"
    "    out.write(block)\n"
    "    offset += len(block)\n"
    "    left -= len(block)\n"
    "out.flush()\n"
)
#: Appends (``argv[2]`` = "a") or writes anew its stdin to the file ``argv[1]``.
_WRITE_SCRIPT = (
    "import os, sys\n"
    "mode = os.O_APPEND if sys.argv[2] == 'a' else os.O_TRUNC\n"
    "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | mode, 0o666)\n"
    "source = sys.stdin.buffer.raw\n"
    "while block := source.read(1 << 20):\n"
    "    view = memoryview(block)\n"
    "    while view:\n"
    "        view = view[os.write(fd, view):]\n"
    "os.close(fd)\n"
)
#: The name the verified key is filed under in the temporary known_hosts.
_ALIAS = "swf-verified-host"
#: ``ssh``'s exit status for its own failures (connection, login, host key).
_SSH_FAILED = 255
_HOST_KEY_PROBLEM = "Host key verification failed"
#: AES-GCM first: with the CPU's AES instructions it costs about half the CPU per GB of
#: OpenSSH's default chacha20-poly1305 (measured here: 0.7 vs 1.5 s per GB on the client),
#: and CPU is what bounds a copy on loopback or a fast network. All are AEAD or CTR
#: ciphers OpenSSH accepts by default; the first the server also takes is used.
_CIPHERS = (
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,"
    "aes128-ctr,aes192-ctr,aes256-ctr"
)
#: Bytes of the pipes between ``ssh`` and this process.
_PIPE_SIZE = 1 << 20
#: Bytes the remote shell may print before the marker (its startup files' noise).
_NOISE_LIMIT = 1 << 20
#: Seconds the probe may take (a login: connection, key exchange, authentication).
_PROBE_TIMEOUT = 60.0


class OpenSshStreams:
    """Opens file streams through ``ssh`` to ``target``, once a probe showed it logs in."""

    def __init__(self, target: SshTarget, python: Sequence[str] = ("python3",)) -> None:
        self._target = target
        self._python = list(python)
        self._program = shutil.which("ssh")
        self._usable: bool | None = None if self._program else False
        self._lock = threading.Lock()

    def usable(self, client: paramiko.SSHClient) -> bool:
        """Whether ``ssh`` logs in without a prompt (asked once: a login costs a round
        of key exchange); a host key other than the verified one raises."""
        with self._lock:
            if self._usable is None:
                self._usable = self._probe(client)
            return self._usable

    def open_read(
        self, client: paramiko.SSHClient, path: str, offset: int, size: int
    ) -> PipeStream:
        """The bytes of ``path`` from ``offset`` to ``size`` (a short read: see
        ``PipeStream``)."""
        marker = secrets.token_hex(16)
        remote = [*self._python, "-c", _READ_SCRIPT, path, str(offset), str(size - offset), marker]
        return PipeStream(self._start(client, remote, reading=True), size - offset, marker)

    def open_write(self, client: paramiko.SSHClient, path: str, append: bool) -> PipeStream:
        remote = [*self._python, "-c", _WRITE_SCRIPT, path, "a" if append else "w"]
        return PipeStream(self._start(client, remote, reading=False), -1)

    def _probe(self, client: paramiko.SSHClient) -> bool:
        known = _known_hosts(_verified_key(client))
        try:
            answer = subprocess.run(  # an argument list, no shell
                self._argv(known, ["true"]),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=_PROBE_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
        finally:
            known.unlink(missing_ok=True)
        problem = answer.stderr.decode(errors="replace")
        _refuse_other_key(self._target, problem)
        return answer.returncode == 0

    def _start(self, client: paramiko.SSHClient, remote: list[str], reading: bool) -> _Process:
        known = _known_hosts(_verified_key(client))
        pipes = {"stdout": subprocess.PIPE} if reading else {"stdin": subprocess.PIPE}
        process = subprocess.Popen(  # an argument list, no shell
            self._argv(known, [shlex.join(remote)]),
            stdin=pipes.get("stdin", subprocess.DEVNULL),
            stdout=pipes.get("stdout", subprocess.DEVNULL),
            stderr=subprocess.PIPE,
        )
        _widen(process.stdout if reading else process.stdin)
        return _Process(process, known, self._target)

    def _argv(self, known: Path, command: list[str]) -> list[str]:
        target = self._target
        assert self._program is not None
        argv = [self._program, "-F", "/dev/null", "-T", "-x", "-a", "-p", str(target.port)]
        for option in (
            "BatchMode=yes",
            "StrictHostKeyChecking=yes",
            f"UserKnownHostsFile={known}",
            "GlobalKnownHostsFile=/dev/null",
            f"HostKeyAlias={_ALIAS}",
            "UpdateHostKeys=no",
            "ClearAllForwardings=yes",
            f"Ciphers={_CIPHERS}",
            "LogLevel=ERROR",
            f"ConnectTimeout={int(target.timeout)}",
            "ServerAliveInterval=15",
            "ServerAliveCountMax=4",
        ):
            argv += ["-o", option]
        if target.login:
            argv += ["-l", target.login]
        if target.key_file is not None:
            argv += ["-i", str(target.key_file.expanduser()), "-o", "IdentitiesOnly=yes"]
        return [*argv, "--", target.host, *command]


def _widen(pipe: IO[bytes] | None) -> None:
    """A 1 MB pipe (Linux; 64 KB by default): ``ssh`` moves the data in fewer, larger
    writes (measured: a quarter less of its CPU per GB)."""
    size_option = getattr(fcntl, "F_SETPIPE_SZ", None)
    if pipe is not None and size_option is not None:
        with suppress(OSError):  # above the system's pipe-max-size: keep the default
            fcntl.fcntl(pipe.fileno(), size_option, _PIPE_SIZE)


def _verified_key(client: paramiko.SSHClient) -> paramiko.PKey:
    transport = client.get_transport()
    if transport is None or not transport.is_active():
        raise EOFError("the SSH connection is closed")
    return transport.get_remote_server_key()


def _refuse_other_key(target: SshTarget, problem: str) -> None:
    """``ssh`` saw a key other than the one paramiko verified a moment ago."""
    if _HOST_KEY_PROBLEM not in problem:
        return
    seen = re.search(r"SHA256:[A-Za-z0-9+/]+", problem)
    raise HostKeyError(
        f"the host key of {target.describe()} presented to ssh differs from the one verified"
        f" for this connection: {problem.strip()}",
        seen.group(0) if seen else "",
    )


def _known_hosts(key: paramiko.PKey) -> Path:
    """A private known_hosts file holding exactly ``key`` (the caller removes it)."""
    handle, name = tempfile.mkstemp(prefix="swf-known-hosts-")
    with os.fdopen(handle, "w") as file:
        file.write(f"{_ALIAS} {key.get_name()} {key.get_base64()}\n")
    return Path(name)


class _Process:
    """A running ``ssh`` and what to clean after it."""

    def __init__(self, process: subprocess.Popen[bytes], known: Path, target: SshTarget) -> None:
        self.process, self._known, self._target = process, known, target

    def finish(self, kill: bool) -> None:
        """Wait for ``ssh`` (killed first when its data is no longer wanted); a failure
        of the remote command is a ``TransferError``, of ``ssh`` itself a lost
        connection (``EOFError``: the copier resumes)."""
        if kill and self.process.poll() is None:
            self.process.kill()
        errors = self._wait(drain=not kill)
        status, problem = self.process.returncode, errors.decode(errors="replace").strip()
        _refuse_other_key(self._target, problem)
        if kill or status == 0:
            return
        if status == _SSH_FAILED or status < 0:
            raise EOFError(f"ssh to {self._target.describe()} ended ({status}): {problem}")
        raise TransferError(f"on {self._target.describe()}: {problem or f'exit status {status}'}")

    def _wait(self, drain: bool) -> bytes:
        """``ssh``'s error output once it ended (not ``communicate``: stdin may be
        closed already, which it does not expect). What it still writes on stdout is
        read and dropped (closing the pipe under it would make it fail)."""
        assert self.process.stderr is not None
        if drain and self.process.stdout is not None:
            while self.process.stdout.read(1 << 20):
                pass
        errors = self.process.stderr.read()
        self.process.wait()
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
        self._known.unlink(missing_ok=True)
        return errors


class PipeStream:
    """One end of an ``ssh`` pipe as a read or write stream of the copier.

    A read that ends before ``expected`` bytes is a lost connection (``EOFError``), or
    a file that shrank meanwhile: either way the copier resumes, and a changed file
    then fails its size + hash check.
    """

    def __init__(self, process: _Process, expected: int, marker: str = "") -> None:
        self._process, self._left = process, expected
        self._closed = False
        #: Where the data starts (None: found, or a write stream).
        self._marker: bytes | None = marker.encode() if marker else None
        self._early = b""  # data read along with the marker

    def read(self, size: int) -> bytes:
        stdout = self._process.process.stdout
        assert stdout is not None
        if self._marker is not None:
            self._early, self._marker = self._after(self._marker, stdout), None
        want = min(size, self._left)
        data, self._early = self._early[:want], self._early[want:]
        if len(data) < want:
            data += stdout.read(want - len(data))
        self._left -= len(data)
        if not data and self._left > 0:
            self._ended_short()
        return data

    def _after(self, marker: bytes, stdout: IO[bytes]) -> bytes:
        """The bytes after ``marker`` (the shell's noise before it dropped)."""
        seen = b""
        while (at := seen.find(marker)) < 0:
            more = stdout.read1(1 << 16)  # type: ignore[attr-defined]
            if not more:
                self._ended_short()
            if len(seen) > _NOISE_LIMIT:
                self._close(kill=True)
                raise TransferError("the resource's shell printed over 1 MB before the data")
            seen += more
        return seen[at + len(marker) :]

    def _ended_short(self) -> NoReturn:
        self._close(kill=False)  # a failure of the remote command raises here
        raise EOFError(f"the stream ended {self._left} bytes short (connection lost?)")

    def write(self, data: bytes) -> None:
        stdin = self._process.process.stdin
        assert stdin is not None
        try:
            stdin.write(data)
        except BrokenPipeError:
            self._close(kill=False)
            raise EOFError("ssh ended while writing") from None

    def close(self) -> None:
        stdin = self._process.process.stdin
        if stdin is not None and not self._closed:
            with suppress(BrokenPipeError):
                stdin.close()  # end of data: the remote side closes its file and exits
        self._close(kill=self._left > 0)

    def _close(self, kill: bool) -> None:
        if not self._closed:
            self._closed = True
            self._process.finish(kill)
