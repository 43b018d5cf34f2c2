"""Issue 14's "done when", transfers part: a user submits from one account (root, here)
to another (the test sshd's ``swfremote``) through the real sshd, with input files and
directories, closes the client, reconnects and gets the outputs back.

The client's files are under pytest's tmp_path, private to root: the remote account
cannot read them, so nothing reaches the jobs but what the transfers copy. The resource
side also translates a SharedResourcePath with its own PATH_TRANSLATION_FILES (written
there over SFTP) and makes and removes a TemporaryPath.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from swf_entry.client import (
    FileTransfer,
    Helper,
    Job,
    SharedResourcePath,
    TemporaryPath,
    Workflow,
    WorkflowController,
)
from tests.integration.ssh_fixtures import SshService, require_sshd, write_remote_config

pytestmark = [pytest.mark.timeout(300)]

#: Job 1: input file + input directory + a translated file -> a temporary file.
FIRST = (
    "import pathlib, sys;"
    "src, srcdir, shared, tmp = sys.argv[1:5];"
    "parts = [pathlib.Path(src).read_text(), pathlib.Path(shared).read_text()];"
    "parts += sorted(p.read_text() for p in pathlib.Path(srcdir).rglob('*.txt'));"
    "pathlib.Path(tmp).write_text('|'.join(parts))"
)
#: Job 2: the temporary file -> an output file and an output directory.
SECOND = (
    "import pathlib, sys;"
    "tmp, out, outdir = sys.argv[1:4];"
    "text = pathlib.Path(tmp).read_text();"
    "pathlib.Path(out).write_text(text.upper());"
    "pathlib.Path(outdir).mkdir(exist_ok=True);"
    "[(pathlib.Path(outdir) / f'part{i}.txt').write_text(w) for i, w in enumerate(text.split('|'))]"
)


@pytest.fixture
def sshd() -> SshService:
    return require_sshd()


@pytest.fixture
def sftp(sshd: SshService, tmp_path: Path) -> Iterator[paramiko.SFTPClient]:
    from swf_adapters.transport.ssh import open_ssh

    client = open_ssh(sshd.target(_known_hosts(sshd, tmp_path)))
    yield client.open_sftp()
    client.close()


def _known_hosts(sshd: SshService, tmp_path: Path) -> Path:
    copy = tmp_path / "known_hosts_sftp"
    copy.write_bytes(sshd.known_hosts.read_bytes())
    return copy


@pytest.fixture
def resource(sshd: SshService, sftp: paramiko.SFTPClient, tmp_path: Path) -> Iterator[Path]:
    """The configuration of a remote resource whose translations live on the resource."""
    root = posixpath.join(sftp.normalize("."), "swf-transfer-e2e", uuid.uuid4().hex)
    _remote_makedirs(sftp, root + "/data/sub")
    sftp.putfo(io.BytesIO(b"shared data"), root + "/data/sub/shared.txt")
    sftp.putfo(io.BytesIO(f"data_uuid {root}/data\n".encode()), root + "/translations.txt")
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    yield write_remote_config(
        sshd, config_dir, PATH_TRANSLATION_FILES=f"e2e{{{root}/translations.txt}}"
    )
    with contextlib.suppress(OSError):
        _remote_remove(sftp, root)


def _remote_makedirs(sftp: paramiko.SFTPClient, path: str) -> None:
    current = ""
    for part in path.strip("/").split("/"):
        current += "/" + part
        with contextlib.suppress(OSError):
            sftp.mkdir(current)


def _remote_remove(sftp: paramiko.SFTPClient, path: str) -> None:
    for entry in sftp.listdir_attr(path):
        child = posixpath.join(path, entry.filename)
        if entry.st_mode is not None and entry.st_mode & 0o40000:
            _remote_remove(sftp, child)
        else:
            sftp.remove(child)
    sftp.rmdir(path)


def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.lstat(path)
    except FileNotFoundError:
        return False
    return True


def _workflow(client: Path) -> Workflow:
    (client / "in_dir" / "sub").mkdir(parents=True)
    (client / "in.txt").write_text("hello")
    (client / "in_dir" / "a.txt").write_text("alpha")
    (client / "in_dir" / "sub" / "b.txt").write_text("beta")
    (client / "results").mkdir()
    source = FileTransfer(True, str(client / "in.txt"), name="source")
    source_dir = FileTransfer(True, str(client / "in_dir"), name="source_dir")
    shared = SharedResourcePath("sub/shared.txt", "e2e", "data_uuid")
    temporary = TemporaryPath(name="between")
    out = FileTransfer(False, str(client / "results" / "out.txt"), name="out")
    out_dir = FileTransfer(False, str(client / "results" / "parts"), name="parts")
    first = Job(
        ["python3", "-c", FIRST, source, source_dir, shared, temporary],
        name="first",
        referenced_input_files=[source, source_dir, temporary],
        referenced_output_files=[temporary],
    )
    second = Job(
        ["python3", "-c", SECOND, temporary, out, out_dir],
        name="second",
        referenced_input_files=[temporary],
        referenced_output_files=[out, out_dir],
    )
    return Workflow([first, second], dependencies=[(first, second)], name="e2e transfers")


def _stop_remote_engine(controller: WorkflowController) -> None:
    with contextlib.suppress(Exception):
        link: Any = controller.link
        state_dir = link.connector.endpoint.state_dir
        link.stop_engine()
        link.connector.session.run(["rm", "-rf", state_dir])


def test_submit_close_reconnect_and_get_the_outputs_back(
    resource: Path, sftp: paramiko.SFTPClient, tmp_path: Path
) -> None:
    client = tmp_path / "client"
    client.mkdir()
    controller = WorkflowController("remote", config=str(resource))
    try:
        assert controller.file_transfers.staged
        workflow_id = controller.submit_workflow(_workflow(client))
        time.sleep(2.0)  # long enough for a job to start if the engine did not hold it
        assert [row[1] for row in controller.workflow_elements_status(workflow_id)[0]] == [
            "not_submitted",
            "not_submitted",
        ]
        Helper.transfer_input_files(workflow_id, controller)
        controller.disconnect()  # the laptop closes; the workflow goes on over there

        controller = WorkflowController("remote", config=str(resource))
        controller.wait_workflow(workflow_id, timeout=120)
        jobs = controller.workflow_elements_status(workflow_id)[0]
        assert [row[1] for row in jobs] == ["done", "done"], jobs
        rows = dict(controller.workflow_elements_status(workflow_id)[1])
        outputs = [r for r in rows.values() if r[3] and "/results/" in r[3]]
        assert {r[0] for r in outputs} == {"on computing resource side"}
        assert not (client / "results" / "out.txt").exists()
        Helper.transfer_output_files(workflow_id, controller)

        text = "HELLO|SHARED DATA|ALPHA|BETA"
        assert (client / "results" / "out.txt").read_text() == text
        parts = sorted(p.name for p in (client / "results" / "parts").iterdir())
        assert parts == ["part0.txt", "part1.txt", "part2.txt", "part3.txt"]
        after = controller.workflow_elements_status(workflow_id)[1]
        assert {status for _, (status, *_) in after} == {"on both sides"}
        engine_paths = [r[2] for r in rows.values()]
        assert all(_exists(sftp, path) for path in engine_paths)
        assert not any(path.startswith(str(client)) for path in engine_paths)
        first_id = jobs[0][0]
        argv = controller.link.jobs_info([first_id])[first_id].command
        temporary = argv[-1]
        assert _exists(sftp, temporary)

        controller.delete_workflow(workflow_id)
        assert not any(_exists(sftp, path) for path in engine_paths)
        assert not _exists(sftp, temporary)  # the TemporaryPath went with its workflow
    finally:
        _stop_remote_engine(controller)
        controller.disconnect()
