"""Staged file transfers end to end with a real engine, on two disjoint directory trees.

The client's files live under ``client/``, the resource's transfer directory under the
engine's ``home/``: nothing is shared but what the transfers copy (the SFTP suite runs
the same flows over the real sshd). The engine must hold a job until its inputs are on
the resource, outputs come back once written, and the workflow's copies go with it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_domain.errors import TransferEscapeError, UnknownObjectError
from swf_entry.client import FileTransfer, Helper, Job, Workflow, WorkflowController

COPY = (
    "import shutil, sys, pathlib;"
    "src, srcdir, mff, out, outdir = sys.argv[1:6];"
    "pathlib.Path(out).write_text(pathlib.Path(src).read_text().upper());"
    "pathlib.Path(outdir).mkdir(exist_ok=True);"
    "[shutil.copy(p, outdir) for p in pathlib.Path(srcdir).rglob('*.txt')];"
    "shutil.copy(mff, outdir);"
    "shutil.copy(mff[:-4] + '.hdr', outdir)"
)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[WorkflowController]:
    home = tmp_path / "resource"
    home.mkdir()
    controller = WorkflowController(isolated_light_mode=str(home))
    controller.file_transfers.staged = True
    yield controller
    controller.disconnect()
    shutdown_host(StateLayout(home / "jobhost"))  # the job host this site started


def _client_files(root: Path) -> dict[str, Path]:
    (root / "in_dir" / "sub").mkdir(parents=True)
    (root / "in.txt").write_text("hello")
    (root / "in_dir" / "a.txt").write_text("a")
    (root / "in_dir" / "sub" / "b.txt").write_text("b" * 100_000)
    (root / "img.nii").write_text("image")
    (root / "img.hdr").write_text("header")
    return {"in": root / "in.txt", "in_dir": root / "in_dir", "nii": root / "img.nii"}


def _workflow(client: Path) -> tuple[Workflow, dict[str, FileTransfer]]:
    files = _client_files(client)
    t = {
        "in": FileTransfer(True, str(files["in"]), name="in"),
        "in_dir": FileTransfer(True, str(files["in_dir"]), name="in_dir"),
        "mff": FileTransfer(
            True, str(files["nii"]), client_paths=[str(files["nii"]), str(client / "img.hdr")]
        ),
        "out": FileTransfer(False, str(client / "results" / "out.txt"), name="out"),
        "out_dir": FileTransfer(False, str(client / "results" / "out_dir"), name="out_dir"),
    }
    job = Job(
        [sys.executable, "-c", COPY, t["in"], t["in_dir"], t["mff"], t["out"], t["out_dir"]],
        name="copy",
        referenced_input_files=[t["in"], t["in_dir"], t["mff"]],
        referenced_output_files=[t["out"], t["out_dir"]],
    )
    (client / "results").mkdir()
    return Workflow([job], name="staged"), t


def _statuses(controller: WorkflowController, workflow_id: int) -> dict[str, str]:
    rows = controller.workflow_elements_status(workflow_id)[1]
    return {Path(row[1][3]).name: row[1][0] for row in rows}


def test_inputs_go_before_the_job_and_outputs_come_back(
    controller: WorkflowController, tmp_path: Path
) -> None:
    client = tmp_path / "client"
    workflow, t = _workflow(client)
    workflow_id = controller.submit_workflow(workflow)
    time.sleep(1.0)  # the job would have run by now if the engine did not hold it
    jobs = controller.workflow_elements_status(workflow_id)[0]
    assert jobs[0][1] == "not_submitted"
    statuses = _statuses(controller, workflow_id)
    assert statuses["in.txt"] == "on client side"
    assert statuses["out.txt"] == "do not exist"
    rows = controller.workflow_elements_status(workflow_id)[1]
    resource = tmp_path / "resource"
    for _, (_, progression, engine_path, client_path, _) in rows:
        assert Path(engine_path).is_relative_to(resource), engine_path
        assert not Path(client_path).is_relative_to(resource)
        assert progression == (100, 100)

    Helper.transfer_input_files(workflow_id, controller)
    controller.wait_workflow(workflow_id, timeout=60)
    job_id = controller.workflow_elements_status(workflow_id)[0][0][0]
    stderr = tmp_path / "stderr"
    controller.retrieve_job_stdouterr(job_id, str(tmp_path / "stdout"), str(stderr))
    assert controller.workflow_elements_status(workflow_id)[0][0][1] == "done", stderr.read_text()
    statuses = _statuses(controller, workflow_id)
    assert statuses["in.txt"] == "on both sides"
    assert statuses["out.txt"] == "on computing resource side"
    assert not (client / "results" / "out.txt").exists()  # not shared: still over there

    Helper.transfer_output_files(workflow_id, controller)
    assert (client / "results" / "out.txt").read_text() == "HELLO"
    back = client / "results" / "out_dir"
    assert sorted(p.name for p in back.iterdir()) == ["a.txt", "b.txt", "img.hdr", "img.nii"]
    assert (back / "b.txt").read_text() == "b" * 100_000
    assert set(_statuses(controller, workflow_id).values()) == {"on both sides"}

    mapping = controller.workflow(workflow_id).transfer_mapping
    by_name = {transfer.name: engine for transfer, engine in mapping.items()}
    assert Path(by_name["in"].engine_path).read_text() == "hello"
    assert sorted(p.name for p in Path(by_name[t["mff"].name].engine_path).iterdir()) == [
        "img.hdr",
        "img.nii",
    ]

    area = Path(by_name["in"].engine_path).parents[1]
    assert area.is_dir()
    controller.delete_workflow(workflow_id)
    assert not area.exists()  # the workflow's copies went with it


def test_a_symlink_in_an_input_directory_is_refused_and_the_job_keeps_waiting(
    controller: WorkflowController, tmp_path: Path
) -> None:
    client = tmp_path / "client"
    workflow, _ = _workflow(client)
    (client / "in_dir" / "secret").symlink_to("/etc/passwd")
    workflow_id = controller.submit_workflow(workflow)
    with pytest.raises(TransferEscapeError, match="secret"):
        Helper.transfer_input_files(workflow_id, controller)
    time.sleep(0.5)
    assert controller.workflow_elements_status(workflow_id)[0][0][1] == "not_submitted"
    controller.delete_workflow(workflow_id)


def test_a_transfer_outside_any_workflow(controller: WorkflowController, tmp_path: Path) -> None:
    client = tmp_path / "client"
    client.mkdir()
    (client / "data.bin").write_bytes(b"\x00\x01" * 50_000)
    engine = controller.register_transfer(FileTransfer(True, str(client / "data.bin")))
    assert controller.transfer_status(engine.transfer_id) == ("on client side", (100, 100))
    assert controller.transfer_files([engine.transfer_id])
    assert Path(engine.engine_path).read_bytes() == b"\x00\x01" * 50_000
    assert Path(engine.engine_path).is_relative_to(tmp_path / "resource")
    assert controller.transfer_status(engine.transfer_id)[0] == "on both sides"
    listed = controller.transfers()
    assert listed[engine.transfer_id][:2] == (engine.engine_path, str(client / "data.bin"))
    back = controller.register_transfer(FileTransfer(False, str(client / "back.bin")))
    Path(back.engine_path).parent.mkdir(parents=True, exist_ok=True)
    Path(back.engine_path).write_bytes(b"made on the resource")
    controller.transfer_status(back.transfer_id)
    controller.file_transfers.client._link.set_transfer_status(
        back.transfer_id, "on computing resource side"
    )
    controller.transfer_files(back.transfer_id)
    assert (client / "back.bin").read_bytes() == b"made on the resource"
    assert controller.delete_transfer(engine.transfer_id)
    assert not Path(engine.engine_path).exists()
    assert engine.transfer_id not in controller.transfers()
    with pytest.raises(UnknownObjectError):
        controller.transfer_status(engine.transfer_id)
