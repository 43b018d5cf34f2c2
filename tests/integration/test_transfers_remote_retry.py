"""Issue 14's transfers against the real sshd, the hard paths: the SSH connection that
carries a remote ``WorkflowController``'s input cut in the middle (the sshd process
serving it killed, by pid), the transfer then completed by trying again over a new
connection (the transfer service does so itself, resuming from the part); and the outputs
fetched by ``swf --resource remote transfer --outputs`` from a NEW process, after the
submitting one disconnected."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paramiko
import psutil
import pytest

from swf_app.transfer_copy import PART_SUFFIX
from swf_entry.client import FileTransfer, Helper, Job, Workflow, WorkflowController
from tests.integration.ssh_fixtures import SshService, sshd_serving
from tests.integration.test_transfers_remote import (
    _exists,
    _stop_remote_engine,
    resource,
    sftp,
    sshd,
)

__all__ = ["resource", "sftp", "sshd"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.timeout(300)]

SWF = [sys.executable, "-m", "swf_entry.cli"]
BIG = 96 * 1024 * 1024
#: Bytes of the input's part on the resource before its connection is cut.
CUT_AT = 8 * 1024 * 1024
#: The job: the input's size and SHA-256, as text, into the output.
SUMMARY = (
    "import hashlib, pathlib, sys;"
    "data = pathlib.Path(sys.argv[1]).read_bytes();"
    "pathlib.Path(sys.argv[2]).write_text(f'{len(data)} {hashlib.sha256(data).hexdigest()}')"
)


def _workflow(client: Path) -> Workflow:
    (client / "big.bin").write_bytes(os.urandom(BIG))
    source = FileTransfer(True, str(client / "big.bin"), name="big")
    out = FileTransfer(False, str(client / "summary.txt"), name="summary")
    job = Job(
        ["python3", "-c", SUMMARY, source, out],
        name="summarize",
        referenced_input_files=[source],
        referenced_output_files=[out],
    )
    return Workflow([job], name="cut and retry")


def _engine_path(controller: WorkflowController, workflow_id: int, client_path: str) -> str:
    rows = controller.workflow_elements_status(workflow_id)[1]
    return next(row[2] for _, row in rows if row[3] == client_path)


class Cutter(threading.Thread):
    """Once ``path`` on the resource (watched over another connection) holds ``CUT_AT``
    bytes, kills the sshd process serving the connection that writes it (the big input's
    bytes go through ``ssh``, not the controller's own connection: ``openssh_stream``)."""

    def __init__(self, sftp: paramiko.SFTPClient, path: str, user: str) -> None:
        super().__init__(daemon=True)
        self.sftp, self.path, self.user = sftp, path, user
        self.stop, self.killed = threading.Event(), False

    def run(self) -> None:
        while not self.stop.wait(0.01):
            try:
                size = self.sftp.stat(self.path).st_size or 0
            except FileNotFoundError:
                continue
            pid = sshd_serving(self.path, self.user) if size >= CUT_AT else None
            if pid is not None:
                psutil.Process(pid).kill()
                self.killed = True
                return


def _swf(config: Path, home: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [*SWF, "--config", str(config), "--resource", "remote", *arguments]
    env = {**os.environ, "HOME": str(home)}  # never root's real HOME
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "client"
    path.mkdir()
    yield path


def test_a_cut_upload_completes_on_retry_and_a_new_process_fetches_the_outputs(
    resource: Path,
    sftp: paramiko.SFTPClient,
    sshd: SshService,
    client: Path,
    tmp_path: Path,
) -> None:
    controller = WorkflowController("remote", config=str(resource))
    try:
        workflow_id = controller.submit_workflow(_workflow(client))
        remote = _engine_path(controller, workflow_id, str(client / "big.bin"))
        cutter = Cutter(sftp, remote + PART_SUFFIX, sshd.user)
        cutter.start()
        Helper.transfer_input_files(workflow_id, controller)  # cut, then tried again
        cutter.stop.set()
        assert cutter.killed
        assert sftp.stat(remote).st_size == BIG and not _exists(sftp, remote + PART_SUFFIX)
        controller.disconnect()  # the laptop closes; the workflow goes on over there

        home = tmp_path / "home"
        home.mkdir()
        waited = _swf(resource, home, "wait", str(workflow_id))
        assert waited.returncode == 0, waited.stderr
        fetched = _swf(resource, home, "transfer", "--outputs", str(workflow_id))
        assert fetched.returncode == 0, fetched.stderr
        assert "1 transfer(s) fetched" in fetched.stdout
        digest = hashlib.sha256((client / "big.bin").read_bytes()).hexdigest()
        assert (client / "summary.txt").read_text() == f"{BIG} {digest}"
        controller = WorkflowController("remote", config=str(resource))
    finally:
        _stop_remote_engine(controller)
        controller.disconnect()
