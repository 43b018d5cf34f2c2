"""LocalWorkspace on a real directory, with real env_builder_code subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swf_adapters.workspace.local import LocalWorkspace
from swf_app.ports import WorkspaceError
from swf_domain.model import Job, TemporaryPath, Workflow
from tests.app_fakes import EngineHarness


def test_layout_and_cleanup(tmp_path: Path) -> None:
    workspace = LocalWorkspace(tmp_path)
    out, err = workspace.default_output_files(7, 42)
    assert (out, err) == (f"{tmp_path}/jobs/7/42.out", f"{tmp_path}/jobs/7/42.err")
    assert Path(out).parent.is_dir()
    assert workspace.params_file(7, 42, "output") == f"{tmp_path}/jobs/7/42.outputs.json"
    with pytest.raises(ValueError, match="direction"):
        workspace.params_file(7, 42, "sideways")
    file_path = workspace.temporary_path(7, "t0_scratch", False, ".nii")
    dir_path = workspace.temporary_path(7, "t1", True, "")
    assert Path(file_path).is_file() and Path(file_path).name == "t0_scratch.nii"
    assert Path(dir_path).is_dir()
    escaped = workspace.temporary_path(7, "../../evil", False, "")
    assert Path(escaped).parent == Path(file_path).parent
    workspace.remove_workflow(7)
    assert not (tmp_path / "jobs" / "7").exists() and not (tmp_path / "tmp" / "7").exists()
    # directories are made again after a removal
    assert Path(workspace.default_output_files(7, 1)[0]).parent.is_dir()


def test_json_files_and_errors_name_the_file(tmp_path: Path) -> None:
    workspace = LocalWorkspace(tmp_path)
    path = str(tmp_path / "sub" / "p.json")
    workspace.write_json(path, {"a": [1, 2]})
    assert workspace.read_json(path) == {"a": [1, 2]}
    Path(path).write_text("{oops")
    with pytest.raises(WorkspaceError, match=r"p\.json is not valid JSON \(line 1"):
        workspace.read_json(path)
    workspace.discard(path)
    workspace.discard(path)  # twice is fine
    with pytest.raises(WorkspaceError, match=r"p\.json does not exist"):
        workspace.read_json(path)
    workspace.append_text(str(tmp_path / "e.err"), "first")
    workspace.append_text(str(tmp_path / "e.err"), "second\n")
    assert (tmp_path / "e.err").read_text() == "first\nsecond\n"


def test_env_builder_runs_python_without_a_shell(tmp_path: Path) -> None:
    workspace = LocalWorkspace(tmp_path)
    code = "import json, sys; print(json.dumps({'A': 1, 'PY': sys.executable != ''}))"
    assert workspace.run_env_builder(code) == {"A": "1", "PY": "True"}
    with pytest.raises(WorkspaceError, match="exited with status 3"):
        workspace.run_env_builder("import sys; sys.stderr.write('broken'); sys.exit(3)")
    with pytest.raises(WorkspaceError, match="must print a JSON object"):
        workspace.run_env_builder("print('not json')")
    with pytest.raises(WorkspaceError, match="got a list"):
        workspace.run_env_builder("print('[1]')")


def test_engine_on_a_local_workspace(tmp_path: Path) -> None:
    code = "import json; print(json.dumps({'FROM_BUILDER': 'yes'}))"
    scratch = TemporaryPath(is_directory=True, name="scratch")
    task = Job(["run", "task", scratch], name="task", referenced_output_files=[scratch])
    reader = Job(["run", "reader"], name="reader", use_input_params_file=True, param_dict={"k": 1})
    workflow = Workflow([task, reader], env_builder_code=code)
    with EngineHarness(workspace=LocalWorkspace(tmp_path)) as harness:
        wf_id = harness.submit(workflow)
        harness.wait(wf_id)
        first, second = harness.scheduler.submitted
        assert first.env["FROM_BUILDER"] == "yes"
        assert Path(first.argv[2]).is_dir()
        params = json.loads(Path(second.env["SOMAWF_INPUT_PARAMS"]).read_text())
        assert params == {"parameters": {"k": 1}}
        harness.service.delete_workflow(wf_id)
        assert not Path(first.argv[2]).exists()
        assert not Path(second.env["SOMAWF_INPUT_PARAMS"]).exists()


def test_unusable_state_directory_fails_jobs_not_the_engine(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    workflow = Workflow([Job(["run", "a"], name="a"), Job(["run", "b"], name="b")])
    with EngineHarness(workspace=LocalWorkspace(blocker / "state")) as harness:
        wf_id = harness.submit(workflow)
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["failed", "failed"]
        assert harness.exits(wf_id) == ["aborted", "aborted"]
        assert harness.engine.alive and harness.scheduler.submitted == []


def test_refusals_resolve_symlinks_and_dot_dot_like_the_system(tmp_path: Path) -> None:
    """What jobs may not reach: the state directory but jobs/ and tmp/, and a database kept
    elsewhere; every way of naming it, resolved as the kernel would."""
    state, elsewhere, user = tmp_path / "state", tmp_path / "db", tmp_path / "user"
    for directory in (state / "jobs", state / "jobhost", elsewhere, user):
        directory.mkdir(parents=True)
    (elsewhere / "swf.db").write_bytes(b"")
    (user / "to-state").symlink_to(state)
    (user / "to-db").symlink_to(elsewhere / "swf.db")
    (user / "to-jobs").symlink_to(state / "jobs")
    workspace = LocalWorkspace(state, [elsewhere / "swf.db"])
    refused = {
        str(state / "swf.db"),
        str(state),
        str(state / "jobhost" / "journal"),
        str(user / "to-state" / "key"),
        str(user / "to-db"),
        str(user / ".." / "state" / "engine.log"),
        str(state / "jobs" / ".." / "swf.db"),
        str(elsewhere / "swf.db-wal"),
    }
    allowed = {
        str(state / "jobs" / "3" / "7.out"),
        str(state / "tmp" / "3" / "t0"),
        str(user / "to-jobs" / "mine.out"),
        str(user / "out.txt"),
        str(elsewhere / "other.db"),
        str(tmp_path / "statement"),  # a sibling whose name starts like the state dir
    }
    paths = sorted(refused | allowed)
    answers = dict(zip(paths, workspace.refusals(paths), strict=True))
    assert {path for path, answer in answers.items() if answer is not None} == refused
    assert "inside the engine's state directory" in (answers[str(state / "swf.db")] or "")
    assert "the engine's database" in (answers[str(user / "to-db")] or "")


def _refused(workspace: LocalWorkspace, path: Path) -> bool:
    return workspace.refusals([str(path)])[0] is not None


def test_refusals_see_a_remembered_directory_replaced_by_a_symlink(tmp_path: Path) -> None:
    """Directories' real paths are remembered between calls (launch-time speed): a
    directory swapped for a symlink into the state directory since is seen at once."""
    state, user = tmp_path / "state", tmp_path / "user"
    (state / "jobhost").mkdir(parents=True)
    (user / "out").mkdir(parents=True)
    workspace = LocalWorkspace(state)
    assert not _refused(workspace, user / "out" / "journal")
    (user / "out").rename(user / "out.old")
    (user / "out").symlink_to(state / "jobhost")
    assert _refused(workspace, user / "out" / "journal")
    (user / "out").unlink()
    (user / "out").symlink_to(user / "out.old")
    assert not _refused(workspace, user / "out" / "journal")
    user.rename(tmp_path / "user.old")  # a parent component swapped
    user.symlink_to(state)
    assert _refused(workspace, user / "jobhost" / "journal")


def test_refusals_see_a_directory_made_later_as_a_symlink(tmp_path: Path) -> None:
    state, user = tmp_path / "state", tmp_path / "user"
    for directory in (state, user):
        directory.mkdir()
    workspace = LocalWorkspace(state)
    assert not _refused(workspace, user / "late" / "swf.db")
    (user / "late").symlink_to(state)
    assert _refused(workspace, user / "late" / "swf.db")


def test_refusals_see_a_symlink_planted_at_a_default_output_file(tmp_path: Path) -> None:
    """A job could plant a symlink where a later job's default stdout goes: followed."""
    state = tmp_path / "state"
    workspace = LocalWorkspace(state, [state / "swf.db"])
    out, err = workspace.default_output_files(3, 8)
    assert workspace.refusals([out, err]) == [None, None]
    Path(out).symlink_to(state / "swf.db")
    refused = workspace.refusals([out, err])
    assert "the engine's database" in (refused[0] or "") and refused[1] is None
