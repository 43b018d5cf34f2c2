"""The copier over SFTP against the real sshd: the client's tree here (root), the
resource's in the ``swfremote`` account's home — two accounts, no shared directory.
Files and directories both ways, verification by hashes computed on the resource, links
refused on the resource side, and a transfer whose connection is cut (the sshd process
serving it killed, by pid) that resumes from what had arrived — over paramiko's SFTP and
over the OpenSSH client that carries big files (``openssh_stream``)."""

from __future__ import annotations

import io
import os
import posixpath
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import BinaryIO, cast

import paramiko
import psutil
import pytest

from swf_adapters.transfer.local_tree import LocalTree, file_digest
from swf_adapters.transfer.openssh_stream import OpenSshStreams
from swf_adapters.transfer.sftp_tree import READ_THROUGH_SSH_FROM, WRITE_THROUGH_SSH_FROM, SftpTree
from swf_adapters.transport.ssh import SshTarget, open_ssh
from swf_adapters.transport.ssh.connector import RemoteEngineSpec
from swf_adapters.transport.ssh.link import SshEngineLink
from swf_app.ports import EntryKind
from swf_app.transfer_copy import PART_SUFFIX, copy_tree
from swf_domain.errors import (
    HostKeyError,
    TransferError,
    TransferEscapeError,
    TransferInterruptedError,
)
from tests.integration.ssh_fixtures import SshService, known_hosts, sshd, sshd_serving

__all__ = ["known_hosts", "sshd"]

LOCAL = LocalTree()


class Session:
    """A live SSH client, opened again once the previous one broke (the resource's
    session does the same for the remote controller)."""

    def __init__(self, target: SshTarget) -> None:
        self.target = target
        self.client: paramiko.SSHClient | None = None
        self.opened = 0

    def __call__(self) -> paramiko.SSHClient:
        transport = self.client.get_transport() if self.client is not None else None
        if transport is None or not transport.is_active():
            self.client = open_ssh(self.target)
            self.opened += 1
        assert self.client is not None
        return self.client

    def serving_pid(self) -> int:
        """The sshd process at the other end of this client's TCP connection."""
        transport = self().get_transport()
        assert transport is not None
        local_port = transport.sock.getsockname()[1]
        for connection in psutil.net_connections(kind="tcp"):
            ours = connection.raddr and connection.raddr.port == local_port
            if ours and connection.laddr.port == self.target.port and connection.pid:
                return connection.pid
        raise AssertionError(f"no sshd process serves local port {local_port}")


@pytest.fixture
def session(sshd: SshService, known_hosts: Path) -> Iterator[Session]:
    found = Session(sshd.target(known_hosts))
    yield found
    if found.client is not None:
        found.client.close()


@pytest.fixture
def remote(session: Session) -> Iterator[tuple[SftpTree, str]]:
    tree = SftpTree(session)
    home = session().open_sftp().normalize(".")
    root = posixpath.join(home, "swf-transfer-tests", uuid.uuid4().hex)
    tree.make_dir(root)
    yield tree, root
    tree.remove_tree(root)
    tree.close()


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_files_and_directories_both_ways(remote: tuple[SftpTree, str], tmp_path: Path) -> None:
    tree, root = remote
    source = tmp_path / "in"
    (source / "sub" / "deeper").mkdir(parents=True)
    (source / "a.txt").write_text("a")
    (source / "sub" / "b.bin").write_bytes(os.urandom(3_000_000))
    (source / "sub" / "deeper" / "empty").write_bytes(b"")
    assert copy_tree(LOCAL, str(source), tree, root + "/in") == 3_000_001
    assert tree.entry(root + "/in/sub/b.bin") == tree.entry(root + "/in/sub/b.bin")
    assert tree.digests([root + "/in/sub/b.bin"]) == [file_digest(str(source / "sub/b.bin"))]
    copy_tree(tree, root + "/in", LOCAL, str(tmp_path / "back"))
    assert _tree(tmp_path / "back") == _tree(source)
    entry = tree.entry(root + "/in/sub")
    assert entry is not None and entry.kind is EntryKind.DIRECTORY


def test_a_link_made_on_the_resource_is_not_followed(
    remote: tuple[SftpTree, str], session: Session, tmp_path: Path
) -> None:
    """A job could plant a link in an output directory: fetching it is refused."""
    tree, root = remote
    sftp = session().open_sftp()
    sftp.mkdir(root + "/out")
    sftp.putfo(io.BytesIO(b"result"), root + "/out/ok.txt")
    sftp.symlink("/etc/shadow", root + "/out/shadow")
    with pytest.raises(TransferEscapeError, match="shadow"):
        copy_tree(tree, root + "/out", LOCAL, str(tmp_path / "back"))
    assert not (tmp_path / "back" / "ok.txt").exists()


def test_a_cut_connection_resumes_from_what_arrived(
    remote: tuple[SftpTree, str], session: Session, tmp_path: Path
) -> None:
    tree, root = remote
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(64 * 1024 * 1024))
    killed: list[int] = []

    def cut(done: int, total: int) -> None:
        if done > 16 * 1024 * 1024 and not killed:
            killed.append(session.serving_pid())
            psutil.Process(killed[0]).kill()

    with pytest.raises(TransferInterruptedError):
        copy_tree(LOCAL, str(big), tree, root + "/big.bin", cut)
    assert killed
    part = tree.entry(root + "/big.bin" + PART_SUFFIX)
    assert part is not None and 0 < part.size < big.stat().st_size
    seen: list[int] = []
    copy_tree(LOCAL, str(big), tree, root + "/big.bin", lambda done, _: seen.append(done))
    assert session.opened == 2
    assert seen[0] >= part.size - 1024 * 1024  # resumed, not started over
    assert tree.digests([root + "/big.bin"]) == [file_digest(str(big))]
    assert tree.entry(root + "/big.bin" + PART_SUFFIX) is None


def test_hashes_use_the_resources_configured_python(
    session: Session, remote: tuple[SftpTree, str]
) -> None:
    """``PYTHON_COMMAND`` hashes, not ``python3`` from PATH: a missing one is named."""
    tree, root = remote
    session().open_sftp().putfo(io.BytesIO(b"x"), root + "/x")
    named = SftpTree(session, python=["env", "SWF_HASH_MARK=1", "python3"])
    assert named.digests([root + "/x"]) == tree.digests([root + "/x"])
    missing = SftpTree(session, python=["/nonexistent/swf-python"])
    with pytest.raises(TransferError, match="swf-python"):
        missing.digests([root + "/x"])
    named.close()
    missing.close()


def test_the_links_tree_hashes_with_the_resources_python() -> None:
    spec = RemoteEngineSpec("r", python=["bv", "python"])
    link = SimpleNamespace(
        connector=SimpleNamespace(
            spec=spec, session=SimpleNamespace(client=None, target=SshTarget("h"))
        )
    )
    tree = SshEngineLink.resource_tree(cast(SshEngineLink, link))
    assert tree._python == ["bv", "python"]
    assert tree._openssh is not None and tree._openssh._python == ["bv", "python"]


@pytest.fixture
def streamed(session: Session, remote: tuple[SftpTree, str]) -> Iterator[tuple[SftpTree, str]]:
    """``remote``'s directory, big files' bytes through the OpenSSH client."""
    tree = SftpTree(session, openssh=OpenSshStreams(session.target))
    yield tree, remote[1]
    tree.close()


def _ssh_children() -> list[str]:
    return [p.name() for p in psutil.Process().children(recursive=True) if p.name() == "ssh"]


def test_big_files_go_through_ssh_both_ways(streamed: tuple[SftpTree, str], tmp_path: Path) -> None:
    tree, root = streamed
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(WRITE_THROUGH_SSH_FROM + 12345))
    up: list[list[str]] = []
    copy_tree(LOCAL, str(big), tree, root + "/big.bin", lambda *_: up.append(_ssh_children()))
    assert tree.digests([root + "/big.bin"]) == [file_digest(str(big))]
    down: list[list[str]] = []
    back = str(tmp_path / "back")
    copy_tree(tree, root + "/big.bin", LOCAL, back, lambda *_: down.append(_ssh_children()))
    assert (tmp_path / "back").read_bytes() == big.read_bytes()
    # The first call (bytes kept: 0) comes before the stream opens.
    assert len(up) > 2 and all(found == ["ssh"] for found in up[1:])
    assert len(down) > 2 and all(found == ["ssh"] for found in down[1:])
    assert _ssh_children() == []  # every ssh waited for


@pytest.mark.parametrize("direction", ["upload", "download"])
def test_a_cut_ssh_stream_resumes_from_what_arrived(
    streamed: tuple[SftpTree, str], sshd: SshService, tmp_path: Path, direction: str
) -> None:
    """The sshd serving the ``ssh`` that carries the bytes is killed, by pid: the
    transfer is interrupted, its part kept, and the next attempt resumes from it."""
    tree, root = streamed
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(64 * 1024 * 1024))
    if direction == "download":
        copy_tree(LOCAL, str(local), tree, root + "/big.bin")
        source, target, served = (
            (tree, root + "/big.bin"),
            (LOCAL, str(tmp_path / "back")),
            root + "/big.bin",
        )
    else:
        source, target, served = (
            (LOCAL, str(local)),
            (tree, root + "/big.bin"),
            root + "/big.bin" + PART_SUFFIX,
        )
    killed: list[int | None] = []

    def cut(done: int, total: int) -> None:
        if done > 8 * 1024 * 1024 and not killed:
            killed.append(sshd_serving(served, sshd.user))
            psutil.Process(killed[0]).kill()

    with pytest.raises(TransferInterruptedError):
        copy_tree(*source, *target, cut)
    part = target[0].entry(target[1] + PART_SUFFIX)
    assert killed and part is not None and 0 < part.size < local.stat().st_size
    seen: list[int] = []
    copy_tree(*source, *target, lambda done, _: seen.append(done))
    assert seen[0] >= part.size  # resumed, not started over
    assert target[0].digests([target[1]]) == [file_digest(str(local))]
    assert target[0].entry(target[1] + PART_SUFFIX) is None


def test_ssh_refuses_a_host_key_other_than_the_verified_one(
    session: Session, tmp_path: Path
) -> None:
    """``ssh`` trusts exactly the key paramiko verified: another one is refused, loudly
    (never a silent fall back to SFTP)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True
    )
    other = paramiko.Ed25519Key(filename=str(tmp_path / "k"))
    transport = SimpleNamespace(is_active=lambda: True, get_remote_server_key=lambda: other)
    client = cast(paramiko.SSHClient, SimpleNamespace(get_transport=lambda: transport))
    with pytest.raises(HostKeyError, match="differs from the one verified"):
        OpenSshStreams(session.target).usable(client)
    assert OpenSshStreams(session.target).usable(session())


def test_a_login_ssh_cannot_do_without_a_prompt_stays_on_sftp(
    sshd: SshService, known_hosts: Path, tmp_path: Path
) -> None:
    """An encrypted key (its passphrase is paramiko's to use): SFTP carries big files."""
    target = sshd.target(
        known_hosts, key_file=sshd.encrypted_key, key_passphrase=sshd.key_passphrase
    )
    session = Session(target)
    streams = OpenSshStreams(target)
    assert not streams.usable(session())
    tree = SftpTree(session, openssh=streams)
    root = posixpath.join(
        session().open_sftp().normalize("."), "swf-transfer-tests", uuid.uuid4().hex
    )
    tree.make_dir(root)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(READ_THROUGH_SSH_FROM + 1))
    seen: list[list[str]] = []
    back = str(tmp_path / "back")
    try:
        copy_tree(LOCAL, str(big), tree, root + "/big.bin")
        copy_tree(tree, root + "/big.bin", LOCAL, back, lambda *_: seen.append(_ssh_children()))
        assert (tmp_path / "back").read_bytes() == big.read_bytes()
        assert len(seen) > 2 and not any(seen)
    finally:
        tree.remove_tree(root)
        tree.close()
        session().close()


def test_a_failing_remote_command_is_a_transfer_error(
    session: Session, streamed: tuple[SftpTree, str], tmp_path: Path
) -> None:
    """Not a lost connection (which would be tried again): the culprit is named."""
    tree, root = streamed
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(READ_THROUGH_SSH_FROM))
    copy_tree(LOCAL, str(big), tree, root + "/big.bin")
    broken = SftpTree(session, openssh=OpenSshStreams(session.target, ["/nonexistent/swf-python"]))
    with pytest.raises(TransferError, match="swf-python") as raised:
        copy_tree(broken, root + "/big.bin", LOCAL, str(tmp_path / "back"))
    assert not isinstance(raised.value, TransferInterruptedError)
    broken.close()


class _Corrupting(LocalTree):
    """Flips the first byte written to a part once (a corrupted stream)."""

    def __init__(self) -> None:
        self.corrupted = 0

    def open_write(self, path: str, append: bool, size: int = 0) -> BinaryIO:
        stream = super().open_write(path, append, size)
        if self.corrupted == 0:
            self.corrupted += 1
            original = stream.write
            stream.write = lambda data: original(bytes([data[0] ^ 0xFF]) + data[1:])  # type: ignore[method-assign]
        return stream


def test_a_corrupted_ssh_download_is_caught_by_the_hashes(
    streamed: tuple[SftpTree, str], tmp_path: Path
) -> None:
    tree, root = streamed
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(READ_THROUGH_SSH_FROM + 7))
    copy_tree(LOCAL, str(big), tree, root + "/big.bin")
    local = _Corrupting()
    copy_tree(tree, root + "/big.bin", local, str(tmp_path / "back"))
    assert local.corrupted == 1
    assert (tmp_path / "back").read_bytes() == big.read_bytes()


def test_what_the_remote_shell_prints_before_the_data_is_dropped(
    session: Session, streamed: tuple[SftpTree, str], tmp_path: Path
) -> None:
    """A chatty startup file (here: the python command itself) prints before the file's
    bytes; the marker the stream starts with tells them apart."""
    tree, root = streamed
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(READ_THROUGH_SSH_FROM + 99))
    copy_tree(LOCAL, str(big), tree, root + "/big.bin")
    noisy = ["sh", "-c", 'echo "Welcome to the cluster"; exec python3 "$@"', "sh"]
    chatty = SftpTree(session, openssh=OpenSshStreams(session.target, noisy))
    copy_tree(chatty, root + "/big.bin", LOCAL, str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == big.read_bytes()
    chatty.close()
