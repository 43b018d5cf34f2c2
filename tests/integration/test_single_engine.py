"""One engine at most drives a state directory, however it was started: a second one
would run the same store and job host without knowing the first one's workflows."""

from __future__ import annotations

from pathlib import Path

import pytest

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_domain.errors import EngineError
from swf_entry.client import Job, Workflow, WorkflowController
from swf_entry.composition import ClientOptions, open_controller
from swf_entry.daemon import stop_engine


def test_second_embedded_engine_is_refused_then_allowed_once_the_first_closed(
    tmp_path: Path,
) -> None:
    first = WorkflowController(isolated_light_mode=str(tmp_path))
    try:
        with pytest.raises(EngineError, match="already drives"):
            WorkflowController(isolated_light_mode=str(tmp_path))
    finally:
        first.disconnect()
    second = WorkflowController(isolated_light_mode=str(tmp_path))
    try:
        wf_id = second.submit_workflow(Workflow([Job(["true"], name="t")]))
        second.wait_workflow(wf_id, timeout=30)
        assert second.workflow_status(wf_id) == "workflow_done"
    finally:
        second.disconnect()
        shutdown_host(StateLayout(tmp_path / "jobhost"))


def test_embedded_engine_next_to_a_daemon_is_refused(tmp_path: Path) -> None:
    daemon_client = open_controller(ClientOptions(home=tmp_path))
    try:
        with pytest.raises(EngineError, match="already drives"):
            open_controller(ClientOptions(home=tmp_path), embedded=True)
    finally:
        daemon_client.disconnect()
        stop_engine(tmp_path)
        shutdown_host(StateLayout(tmp_path / "jobhost"))
