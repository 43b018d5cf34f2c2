"""The engine daemon and its clients use the configured database, not a default one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_entry.client import Job, Workflow
from swf_entry.composition import ClientOptions, open_controller
from swf_entry.daemon import stop_engine


def test_daemon_and_client_queries_use_the_configured_database_url(tmp_path: Path) -> None:
    state, database = tmp_path / "state", tmp_path / "elsewhere" / "jobs.db"
    config = tmp_path / "swf.cfg"
    config.write_text(
        f"[mine]\nSTATE_DIR = {state}\nDATABASE_URL = sqlite:///{database}\nCPU_NB = 2\n"
    )
    controller = open_controller(ClientOptions(resource_id="mine", config_file=config))
    try:
        wf_id = controller.submit_workflow(Workflow([Job(["true"], name="t")], name="db-test"))
        controller.wait_workflow(wf_id, timeout=60)
        assert controller.workflow_status(wf_id) == "workflow_done"
    finally:
        controller.disconnect()
        stop_engine(state)
        shutdown_host(StateLayout(state / "jobhost"))
    with sqlite3.connect(database) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM swf_workflows")]
    assert names == ["db-test"]
    assert not (state / "swf.db").exists()
