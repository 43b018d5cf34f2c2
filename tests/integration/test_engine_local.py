"""The engine with real parts: SQLite store, local scheduler (job host), files on disk.

Real processes run the jobs; the assertions read what they wrote and what the store
recorded. An engine restart in the middle adopts a job that kept running.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_adapters.schedulers.local.adapter import LocalScheduler
from swf_adapters.store.sqlalchemy_store import SqlAlchemyStore
from swf_adapters.workspace.local import LocalWorkspace
from swf_app.engine import Engine
from swf_app.service import EngineService
from swf_app.system_clock import SystemClock
from swf_domain.model import Job, Workflow
from swf_domain.serialization import workflow_to_dict

PY = sys.executable


class Stack:
    """Store, scheduler, workspace, engine and service under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = SqlAlchemyStore(f"sqlite:///{root / 'swf.db'}")
        self.scheduler = LocalScheduler(root / "host", slots=2)
        self.workspace = LocalWorkspace(root / "state")
        self.clock = SystemClock()
        self.engine = self.start_engine()

    def start_engine(self) -> Engine:
        engine = Engine(self.store, self.scheduler, self.clock, self.workspace)
        engine.start()
        self.service = EngineService(self.store, engine, self.clock, user="tester")
        return engine

    def restart_engine(self) -> None:
        self.engine.shutdown()
        self.engine = self.start_engine()

    def submit(self, workflow: Workflow) -> int:
        return self.service.submit_workflow(workflow_to_dict(workflow), None, None, None)

    def statuses(self, wf_id: int) -> list[str]:
        return [row.state.status.value for row in self.store.jobs_of(wf_id)]

    def close(self) -> None:
        self.engine.shutdown()
        self.scheduler.shutdown_host()
        self.store.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    built = Stack(tmp_path)
    try:
        yield built
    finally:
        built.close()


def python_job(name: str, code: str, **kwargs: object) -> Job:
    return Job([PY, "-c", code], name=name, **kwargs)  # type: ignore[arg-type]


def test_chain_failure_and_dynamic_outputs(stack: Stack, tmp_path: Path) -> None:
    marker = tmp_path / "order.txt"
    producer = python_job(
        "producer",
        "import json, os; "
        f"open({str(marker)!r}, 'a').write('producer\\n'); "
        "json.dump({'value': 'from-producer'}, open(os.environ['SOMAWF_OUTPUT_PARAMS'], 'w'))",
        has_outputs=True,
    )
    consumer = Job(
        [PY, "-c", f"open({str(marker)!r}, 'a').write('%(value)s\\n')"],
        name="consumer",
        param_dict={"value": "unset"},
    )
    failing = python_job("failing", "import sys; print('oops', file=sys.stderr); sys.exit(4)")
    never = python_job("never", "print('must not run')")
    workflow = Workflow(
        [producer, consumer, failing, never],
        dependencies=[(failing, never)],
        param_links={consumer: {"value": [(producer, "value")]}},
    )
    wf_id = stack.submit(workflow)
    assert stack.service.wait_workflow(wf_id, timeout=60)
    assert stack.statuses(wf_id) == ["done", "done", "failed", "failed"]
    assert marker.read_text() == "producer\nfrom-producer\n"
    ids = [row.job_id for row in stack.store.jobs_of(wf_id)]
    assert stack.service.job_termination_status(ids[2])[:2] == ("finished_regularly", 4)
    assert stack.service.job_termination_status(ids[3])[0] == "aborted_before_running"
    _stdout, stderr = stack.service.job_files(ids[2])
    assert stderr is not None and Path(stderr).read_text() == "oops\n"
    assert stack.service.get_job_output_params(ids[0]) == {"value": "from-producer"}


def test_stop_then_restart_and_adoption_across_an_engine_restart(
    stack: Stack, tmp_path: Path
) -> None:
    flag = tmp_path / "go"
    waiter = python_job(
        "waiter", f"import os, time\nwhile not os.path.exists({str(flag)!r}): time.sleep(0.02)"
    )
    after = python_job("after", "print('after')")
    wf_id = stack.submit(Workflow([waiter, after], dependencies=[(waiter, after)]))
    deadline = time.monotonic() + 30
    while stack.statuses(wf_id)[0] != "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    stack.restart_engine()  # the running job is adopted, not lost
    assert stack.statuses(wf_id) == ["running", "not_submitted"]
    assert stack.service.stop_workflow(wf_id) is True
    assert stack.statuses(wf_id) == ["failed", "failed"]
    waiter_id, after_id = (row.job_id for row in stack.store.jobs_of(wf_id))
    assert stack.service.job_termination_status(waiter_id)[0] == "killed_by_user"
    assert stack.service.job_termination_status(after_id)[0] == "aborted_before_running"
    flag.touch()
    assert stack.service.restart_workflow(wf_id) is True
    assert stack.service.wait_workflow(wf_id, timeout=60)
    assert stack.statuses(wf_id) == ["done", "done"]
    stdout = stack.service.job_files(after_id)[0]
    assert stdout is not None and Path(stdout).read_text() == "after\n"
