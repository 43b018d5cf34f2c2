"""The engine holds a staged workflow's jobs until their input transfers are on the
resource, across engine restarts; outputs show on the resource once written."""

from __future__ import annotations

from pathlib import Path

from swf_adapters.transfer.area import LocalTransferArea
from swf_domain.model import FileTransfer, Job, Workflow
from swf_domain.serialization import workflow_to_dict
from swf_domain.transfers import STAGED_KEY, transfer_id
from tests.app_fakes import EngineHarness

BOTH = "on both sides"


def _workflow() -> tuple[Workflow, dict[str, FileTransfer]]:
    t = {
        "in1": FileTransfer(True, "/client/in1.txt"),
        "in2": FileTransfer(True, "/client/in2.txt"),
        "out": FileTransfer(False, "/client/out.txt"),
    }
    a = Job(["run", "a", t["in1"], t["out"]], name="a",
            referenced_input_files=[t["in1"]], referenced_output_files=[t["out"]])  # fmt: skip
    b = Job(["run", "b", t["in2"]], name="b", referenced_input_files=[t["in2"]])
    c = Job(["run", "c"], name="c")
    return Workflow([a, b, c], dependencies=[(a, b)]), t


def _submit(harness: EngineHarness, staged: bool = True) -> int:
    document = workflow_to_dict(_workflow()[0])
    if staged:
        document[STAGED_KEY] = True
    return harness.service.submit_workflow(document)


def test_jobs_wait_for_their_inputs_even_across_restarts(tmp_path: Path) -> None:
    area = LocalTransferArea(tmp_path)
    with EngineHarness(transfers=area) as harness:
        wf = _submit(harness)
        harness.idle()
        assert harness.statuses(wf) == ["not_submitted", "not_submitted", "done"]
        ranks = {Path(i.client_path or "").name: i for i in harness.service.workflow_transfers(wf)}
        assert [i.status for i in ranks.values()] == [
            "on client side",
            "do not exist",
            "on client side",
        ]
        harness.service.set_transfer_status(ranks["in1.txt"].transfer_id, BOTH)
        harness.idle()
        assert harness.statuses(wf) == ["done", "not_submitted", "done"]
        out = next(i for i in harness.service.workflow_transfers(wf) if not i.is_input)
        assert out.status == "on computing resource side"
        assert Path(out.engine_path).parent.is_dir()  # made before its writer ran
        harness.restart_engine()
        assert harness.statuses(wf) == ["done", "not_submitted", "done"]
        area.write_state(wf, ranks["in2.txt"].transfer_id % (1 << 20), {"status": BOTH})
        harness.restart_engine()  # the record is the journal: read again at restart
        harness.wait(wf)
        assert harness.statuses(wf) == ["done", "done", "done"]


def test_engine_paths_are_in_the_area_and_go_with_the_workflow(tmp_path: Path) -> None:
    area = LocalTransferArea(tmp_path)
    with EngineHarness(transfers=area) as harness:
        wf = _submit(harness)
        for info in harness.service.workflow_transfers(wf):
            harness.service.set_transfer_status(info.transfer_id, BOTH)
        harness.wait(wf)
        argv = harness.service.jobs_info(harness.ids(wf)[:1])[harness.ids(wf)[0]].command
        assert argv is not None and argv[2] == str(tmp_path / str(wf) / "0" / "in1.txt")
        assert argv[3] == str(tmp_path / str(wf) / "1" / "out.txt")
        harness.service.delete_workflow(wf)
        harness.idle()
        assert not (tmp_path / str(wf)).exists()


def test_unstaged_workflows_use_their_files_in_place(tmp_path: Path) -> None:
    with EngineHarness(transfers=LocalTransferArea(tmp_path)) as harness:
        wf = _submit(harness, staged=False)
        harness.wait(wf)
        infos = harness.service.workflow_transfers(wf)
        assert [i.engine_path for i in infos] == [i.client_path for i in infos]
        assert {i.status for i in infos} == {BOTH}
        assert infos[0].transfer_id == transfer_id(wf, 0)


def test_standalone_transfers_expire(tmp_path: Path) -> None:
    area = LocalTransferArea(tmp_path)
    with EngineHarness(transfers=area) as harness:
        now = harness.clock.now()
        short = harness.service.register_transfer(True, "/client/a", None, now + 60)
        long = harness.service.register_transfer(True, "/client/b", None, now + 864_000)
        assert [i.transfer_id for i in harness.service.transfers_info()] == [
            short.transfer_id,
            long.transfer_id,
        ]
        harness.advance(3599)  # past the sweep interval of the harness (3600 s)
        harness.advance(2)
        assert [i.transfer_id for i in harness.service.transfers_info()] == [long.transfer_id]
        assert not Path(short.engine_path).parent.exists()
