"""Where jobs run, where their files go, and that no job reaches the engine's own files:
on the real engine, in both modes (embedded engine thread, engine daemon over Pyro5).

A job without a working directory runs where its workflow was submitted from; its
relative files are in its working directory, as in a shell. No job file (stdin, stdout,
stderr, params files) and no working directory may resolve into the state directory
(store, key, socket, journal) but its jobs/ and tmp/ areas: submission refuses such a
workflow naming the job and the path, and a file swf writes for a job that only leads
there at launch time (a symlink made by an earlier job) fails that job alone. Each
refusal is checked to have left the store byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from swf_adapters.workspace.local import DEFAULT_OUTPUT_NAME, LocalWorkspace
from swf_domain.errors import ConfigurationError, EngineFilesError, JobError
from swf_domain.status import JobStatus
from swf_entry.client import Job, Workflow, WorkflowController
from tests.integration.facade_fixtures import Site, facade_guard, site, wfc

__all__ = ["facade_guard", "site", "wfc"]  # fixtures, imported for pytest

pytestmark = pytest.mark.timeout(120)

PY = sys.executable


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A user's project directory, the current directory while the test submits."""
    directory = tmp_path / "project"
    directory.mkdir()
    monkeypatch.chdir(directory)
    yield directory


def run(
    wfc: WorkflowController, *jobs: Job, dependencies: list[tuple[Job, Job]] | None = None
) -> int:
    workflow_id = wfc.submit_workflow(Workflow(list(jobs), dependencies=dependencies))
    wfc.wait_workflow(workflow_id, timeout=60)
    assert wfc.workflow_status(workflow_id) == "workflow_done"
    return workflow_id


def statuses(wfc: WorkflowController, workflow_id: int) -> dict[int, str]:
    return {job_id: status for job_id, status, *_ in wfc.workflow_elements_status(workflow_id)[0]}


def by_job_name(wfc: WorkflowController, workflow_id: int, names: list[str]) -> dict[str, str]:
    """Statuses by the names of the workflow's jobs, given in their order (a workflow's
    job ids follow its jobs' order)."""
    found = statuses(wfc, workflow_id)
    return dict(zip(names, (found[job_id] for job_id in sorted(found)), strict=True))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- where jobs run ----------------------------------------------------------------------


def test_a_job_without_working_directory_runs_where_the_workflow_was_submitted(
    wfc: WorkflowController, project: Path
) -> None:
    (project / "prepare.py").write_text("open('prepared', 'w').write('ok')\n")
    job = Job(["python3", "prepare.py"], name="prepare")  # found relative to the project
    workflow_id = run(wfc, job)
    assert set(statuses(wfc, workflow_id).values()) == {JobStatus.DONE.value}
    assert (project / "prepared").read_text() == "ok"


def test_relative_files_resolve_in_the_jobs_own_working_directory(
    wfc: WorkflowController, project: Path
) -> None:
    (project / "sub").mkdir()
    (project / "sub" / "in.txt").write_text("from stdin\n")
    script = (
        "import os, sys; print(os.getcwd(), sys.stdin.read().strip()); print('e', file=sys.stderr)"
    )
    job = Job(
        [PY, "-c", script],
        name="shell-like",
        working_directory="sub",  # relative: to the submit directory
        stdin="in.txt",
        stdout_file="out.txt",
        stderr_file="../err.txt",
    )
    run(wfc, job)
    assert (project / "sub" / "out.txt").read_text().split() == [
        str(project / "sub"),
        "from",
        "stdin",
    ]
    assert (project / "err.txt").read_text() == "e\n"


# -- the engine's files are out of reach ---------------------------------------------------


def _forms(site: Site, project: Path) -> dict[str, Callable[[], Job]]:
    """Every way of naming a file of the state directory, each a job factory."""
    home = site.home
    (project / "state-link").symlink_to(home)
    (project / "db-link").symlink_to(home / "swf.db")
    relative_home = os.path.relpath(home, project)
    return {
        "absolute stdout": lambda: Job(["true"], stdout_file=str(home / "swf.db")),
        "relative stdout from a working directory": lambda: Job(
            ["true"], working_directory=str(home / "jobs"), stdout_file="../swf.db"
        ),
        "dot-dot stdin": lambda: Job(["true"], stdin=f"{relative_home}/swf.db"),
        "stderr through a symlinked directory": lambda: Job(
            ["true"], stderr_file="state-link/swf.db"
        ),
        "stdout through a symlinked file": lambda: Job(["true"], stdout_file="db-link"),
        "working directory in the state dir": lambda: Job(["true"], working_directory=str(home)),
        "symlinked working directory": lambda: Job(["true"], working_directory="state-link"),
        "output params into the job host": lambda: Job(
            ["true"], has_outputs=True, output_params_file=str(home / "jobhost" / "journal")
        ),
        "input params over the store": lambda: Job(
            ["true"], use_input_params_file=True, input_params_file="state-link/swf.db"
        ),
    }


def test_every_path_form_into_the_state_directory_is_refused_at_submit(
    site: Site, wfc: WorkflowController, project: Path
) -> None:
    store = site.home / "swf.db"
    before = digest(store)
    for form, make in _forms(site, project).items():
        job = make()
        job.name = form
        with pytest.raises(EngineFilesError) as refused:
            wfc.submit_workflow(Workflow([job]))
        assert isinstance(refused.value, JobError)
        message = str(refused.value)
        assert f"job {form!r}" in message and str(site.home) in message, message
    assert digest(store) == before  # nothing stored, nothing written
    assert run(wfc, Job(["true"], name="still fine")) > 0


def test_a_workflow_submitted_from_the_state_directory_is_refused(
    site: Site, wfc: WorkflowController, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(site.home)
    with pytest.raises(EngineFilesError, match="submit from another directory"):
        wfc.submit_workflow(Workflow([Job(["true"], name="from the state dir")]))


def test_the_jobs_area_of_the_state_directory_stays_open(
    site: Site, wfc: WorkflowController, project: Path
) -> None:
    target = site.home / "jobs" / "mine.out"
    workflow_id = run(wfc, Job(["echo", "hi"], name="to jobs", stdout_file=str(target)))
    assert set(statuses(wfc, workflow_id).values()) == {JobStatus.DONE.value}
    assert target.read_text() == "hi\n"


def test_a_symlink_made_after_submission_fails_that_job_alone(
    site: Site, wfc: WorkflowController, project: Path
) -> None:
    """The check is made again at launch: a job cannot prepare a path for a later one."""
    store = site.home / "swf.db"
    maker = Job(["ln", "-s", str(site.home), "late"], name="maker")
    writer = Job(["echo", "oops"], name="writer", stdout_file="late/swf.db")
    side = Job(["echo", "side"], name="side", stdout_file="side.txt")
    workflow_id = run(wfc, maker, writer, side, dependencies=[(maker, writer)])
    ids = sorted(statuses(wfc, workflow_id))
    by_name = by_job_name(wfc, workflow_id, ["maker", "writer", "side"])
    assert by_name == {"maker": "done", "writer": "failed", "side": "done"}
    assert (project / "side.txt").read_text() == "side\n"
    assert not store.read_bytes().startswith(b"oops")
    wfc.retrieve_job_stdouterr(ids[1], str(project / "w.out"), str(project / "w.err"))
    assert "engine's own files" in (project / "w.err").read_text()


#: Run by a job: plant symlinks to the store where the next job's default stdout and
#: stderr will go (its id is this job's plus one; the directory is this job's own).
PLANT_NEXT = """
import os, sys
out = os.readlink("/proc/self/fd/1")
directory, name = os.path.split(out)
following = int(name.split(".")[0]) + 1
for suffix in ("out", "err"):
    os.symlink(sys.argv[1], os.path.join(directory, f"{following}.{suffix}"))
"""


def test_a_symlink_planted_at_a_default_output_fails_that_job_alone(
    site: Site, wfc: WorkflowController, project: Path
) -> None:
    """Default outputs are not checked at launch (no system call per job on the
    engine's thread): the scheduler opens them without following a symlink, and swf
    writes its reason nowhere through one either."""
    store = site.home / "swf.db"
    planter = Job([PY, "-c", PLANT_NEXT, str(store)], name="planter")
    victim = Job(["echo", "oops"], name="victim")
    side = Job(["echo", "side"], name="side", stdout_file="side.txt")
    workflow_id = run(wfc, planter, victim, side, dependencies=[(planter, victim)])
    by_name = by_job_name(wfc, workflow_id, ["planter", "victim", "side"])
    assert by_name == {"planter": "done", "victim": "failed", "side": "done"}
    assert (project / "side.txt").read_text() == "side\n"
    data = store.read_bytes()
    assert data.startswith(b"SQLite format 3\x00") and b"oops" not in data
    assert b"could not start" not in data and b"cannot start" not in data  # no reason there
    assert run(wfc, Job(["true"], name="still fine")) > 0


#: Run by a job: swap its workflow's jobs directory (where its own stdout is) for a
#: symlink to the directory given (the engine's state directory).
SWAP_DIRECTORY = """
import os, shutil, sys
directory = os.path.dirname(os.readlink("/proc/self/fd/1"))
shutil.rmtree(directory)
os.symlink(sys.argv[1], directory)
"""


def test_a_jobs_directory_swapped_for_a_symlink_reaches_no_engine_file(
    site: Site, wfc: WorkflowController, project: Path
) -> None:
    """Default outputs are not checked at launch: through a jobs directory that a job
    swapped for a symlink to the state directory, the next job's stdout is a new
    ``<id>.out`` there, never one of the engine's files (none is named so)."""
    store = site.home / "swf.db"
    swapper = Job([PY, "-c", SWAP_DIRECTORY, str(site.home)], name="swapper")
    victim = Job(["echo", "oops"], name="victim")
    workflow_id = run(wfc, swapper, victim, dependencies=[(swapper, victim)])
    assert set(statuses(wfc, workflow_id).values()) == {JobStatus.DONE.value}
    victim_id = max(statuses(wfc, workflow_id))
    assert (site.home / f"{victim_id}.out").read_text() == "oops\n"
    data = store.read_bytes()
    assert data.startswith(b"SQLite format 3\x00") and b"oops" not in data
    assert run(wfc, Job(["true"], name="still fine")) > 0
    named_like_outputs = [
        path
        for path in site.home.rglob("*")
        if path.parts[len(site.home.parts)] not in ("jobs", "tmp")
        and DEFAULT_OUTPUT_NAME.fullmatch(path.name)
        and path.name not in (f"{victim_id}.out", f"{victim_id}.err")
    ]
    assert named_like_outputs == []  # no engine file bears a default output's name


def test_an_engine_file_named_like_a_default_output_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"12\.out"):
        LocalWorkspace(tmp_path / "state", engine_files=[tmp_path / "12.out"])
