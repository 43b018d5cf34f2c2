"""Job output and the change feed through the link, on real engines (embedded and daemon).

For the daemon, the reads also go through a bare Pyro link, as a remote client would: it
never opens the store nor the job's files, the engine reads them and sends them over.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swf_adapters.transport.pyro import PyroEngineLink
from swf_app.link import MAX_OUTPUT_CHUNK
from swf_app.read_models import WorkflowSnapshot, merge_changes
from swf_domain.errors import JobError
from swf_entry.client import Job, Workflow, WorkflowController
from swf_entry.daemon import live_endpoint
from tests.integration.facade_fixtures import Site, facade_guard, site, wfc

__all__ = ["facade_guard", "site", "wfc"]  # fixtures, imported for pytest

pytestmark = pytest.mark.timeout(120)

#: More than one chunk, so readers must follow ``next_offset``.
BIG = MAX_OUTPUT_CHUNK + 123_457
WRITER = (
    "import sys; sys.stdout.write('0123456789' * ({size} // 10) + 'end');"
    "sys.stderr.write('oops\\n'); sys.exit(3)"
)


@pytest.fixture
def links(site: Site, wfc: WorkflowController) -> Iterator[list[Any]]:
    """The controller's link, and for the daemon a bare Pyro link too (no store, no files)."""
    found: list[Any] = [wfc.link]
    if site.mode == "daemon":
        endpoint = live_endpoint(site.home)
        assert endpoint is not None
        found.append(PyroEngineLink(endpoint.socket_path, endpoint.key_file))
    yield found
    for link in found[1:]:
        link.close()


def run_writer(wfc: WorkflowController) -> tuple[int, int]:
    job = Job([sys.executable, "-c", WRITER.format(size=BIG)], name="writer")
    workflow_id = wfc.submit_workflow(Workflow([job], name="output"))
    wfc.wait_workflow(workflow_id, timeout=60)
    return workflow_id, wfc.workflow(workflow_id).jobs[0].job_id or 0


def read_all(link: Any, job_id: int, stream: str) -> bytes:
    data, offset = b"", 0
    while True:
        chunk = link.read_job_output(job_id, stream, offset)
        assert len(chunk.data) <= MAX_OUTPUT_CHUNK and chunk.offset == offset
        data += chunk.data
        if not chunk.data:
            assert chunk.ended and chunk.size == len(data)
            return data
        offset = chunk.next_offset


def test_job_output_is_read_through_the_link(
    wfc: WorkflowController, links: list[Any], tmp_path: Path
) -> None:
    _, job_id = run_writer(wfc)
    expected = b"0123456789" * (BIG // 10) + b"end"
    for link in links:
        assert read_all(link, job_id, "stdout") == expected
        assert read_all(link, job_id, "stderr") == b"oops\n"
        tail = link.read_job_output(job_id, "stdout", -3)
        assert (tail.data, tail.offset, tail.size) == (b"end", len(expected) - 3, len(expected))
        with pytest.raises(JobError, match="stream must be one of stdout, stderr"):
            link.read_job_output(job_id, "stdlog")
        with pytest.raises(JobError, match="offset must be an integer"):
            link.read_job_output(job_id, "stdout", "12")
    out, err = tmp_path / "out", tmp_path / "err"
    wfc.retrieve_job_stdouterr(job_id, str(out), str(err))
    assert out.read_bytes() == expected and err.read_bytes() == b"oops\n"


def test_a_job_not_started_has_no_output_yet(wfc: WorkflowController, links: list[Any]) -> None:
    blocker = Job(["sleep", "30"], name="blocker")
    waiting = Job(["true"], name="waiting")
    workflow_id = wfc.submit_workflow(Workflow([blocker, waiting], [(blocker, waiting)]))
    waiting_id = wfc.workflow(workflow_id).jobs[1].job_id or 0
    for link in links:
        chunk = link.read_job_output(waiting_id)
        assert (chunk.data, chunk.size, chunk.ended) == (b"", None, False)
    wfc.stop_workflow(workflow_id)


def test_the_change_feed_follows_a_running_workflow(
    wfc: WorkflowController, links: list[Any]
) -> None:
    first = Job(["sleep", "0.5"], name="first")
    second = Job(["sleep", "0.5"], name="second")
    workflow_id = wfc.submit_workflow(Workflow([first, second], [(first, second)]))
    for link in links:
        batch = link.job_changes(workflow_id)
        copy, since = batch.jobs, batch.since
        deadline = time.monotonic() + 60
        while not all(job.status == "done" for job in copy):
            assert time.monotonic() < deadline, copy
            batch = link.wait_changes(workflow_id, since, timeout=30)
            assert batch.since >= since
            copy, since = merge_changes(copy, batch.jobs), batch.since
        assert copy == link.workflow_elements_status(workflow_id).jobs
        started = time.monotonic()
        quiet = link.wait_changes(workflow_id, since, timeout=0.3)
        assert quiet.jobs == [] and quiet.since >= since
        assert 0.2 < time.monotonic() - started < 10
    snapshot = WorkflowSnapshot.of(links[0].workflow_elements_status(workflow_id), "feed")
    assert snapshot.counts() == {"done": 2}
