"""The copier over SFTP against the real sshd: the client's tree here (root), the
resource's in the ``swfremote`` account's home — two accounts, no shared directory.
Files and directories both ways, verification by hashes computed on the resource, links
refused on the resource side, and a transfer whose connection is cut (the sshd process
serving it killed, by pid) that resumes from what had arrived."""

from __future__ import annotations

import io
import os
import posixpath
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import paramiko
import psutil
import pytest

from swf_adapters.transfer.local_tree import LocalTree, file_digest
from swf_adapters.transfer.sftp_tree import SftpTree
from swf_adapters.transport.ssh import SshTarget, open_ssh
from swf_adapters.transport.ssh.connector import RemoteEngineSpec
from swf_adapters.transport.ssh.link import SshEngineLink
from swf_app.ports import EntryKind
from swf_app.transfer_copy import PART_SUFFIX, copy_tree
from swf_domain.errors import TransferError, TransferEscapeError, TransferInterruptedError
from tests.integration.ssh_fixtures import SshService, known_hosts, sshd

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
        connector=SimpleNamespace(spec=spec, session=SimpleNamespace(client=None))
    )
    tree = SshEngineLink.resource_tree(cast(SshEngineLink, link))
    assert tree._python == ["bv", "python"]


def test_a_download_read_in_ranges_resumes_after_a_cut(
    remote: tuple[SftpTree, str], session: Session, tmp_path: Path
) -> None:
    """A big download reads ranges over several channels; cut, it leaves a prefix of the
    file as its part, and the next attempt resumes from there (not a range boundary)."""
    tree, root = remote
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(48 * 1024 * 1024 + 12345))
    copy_tree(LOCAL, str(big), tree, root + "/big.bin")
    back = tmp_path / "back.bin"
    killed: list[int] = []

    def cut(done: int, total: int) -> None:
        if done > 13 * 1024 * 1024 and not killed:
            killed.append(session.serving_pid())
            psutil.Process(killed[0]).kill()

    with pytest.raises(TransferInterruptedError):
        copy_tree(tree, root + "/big.bin", LOCAL, str(back), cut)
    part = Path(str(back) + PART_SUFFIX)
    assert 13 * 1024 * 1024 < part.stat().st_size < big.stat().st_size
    assert big.read_bytes().startswith(part.read_bytes())
    seen: list[int] = []
    copy_tree(tree, root + "/big.bin", LOCAL, str(back), lambda done, _: seen.append(done))
    assert seen[0] >= 13 * 1024 * 1024  # resumed, not started over
    assert back.read_bytes() == big.read_bytes()
    assert not part.exists()
