"""Shared by the monitor's HTTP and browser tests: an engine with workflows to watch."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_entry.client import Group, Job, Workflow, WorkflowController
from tests.integration.waiting import wait_until as wait_until  # re-exported

#: A job name that would run script if a page ever put it into HTML unescaped.
HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


def sleepy_workflow(steps: int = 4, seconds: float = 30.0) -> Workflow:
    """prepare -> group of sleeping steps -> merge, plus a hostile-named failing job."""
    prepare = Job(["sh", "-c", "echo prepared-output; echo warn >&2"], name="prepare")
    hostile = Job(["sh", "-c", "echo '<b>not bold</b>'; echo 'bad <i>' >&2; exit 3"], name=HOSTILE)
    sleepers = [
        Job(["sh", "-c", f"echo step {n} running; sleep {seconds}"], name=f"step{n}")
        for n in range(steps)
    ]
    merge = Job(["sh", "-c", "echo merged"], name="merge")
    return Workflow(
        jobs=[prepare, hostile, *sleepers, merge],
        dependencies=[(prepare, s) for s in sleepers] + [(s, merge) for s in sleepers],
        root_group=[prepare, hostile, Group(sleepers, name="steps"), merge],
        name="watched",
    )


def wide_workflow(count: int) -> Workflow:
    """``count`` quick independent jobs in groups of 100 (paging and filtering)."""
    jobs = [Job(["true"], name=f"job{i:05d}") for i in range(count)]
    groups = [Group(jobs[i : i + 100], name=f"block{i // 100}") for i in range(0, count, 100)]
    return Workflow(jobs=jobs, root_group=groups, name="wide")


@contextlib.contextmanager
def embedded_controller(cpus: int = 4) -> Iterator[WorkflowController]:
    """An embedded engine in a private directory; everything it started is ended after."""
    home = Path(tempfile.mkdtemp(prefix="swf-mon-", dir="/tmp"))
    config = home / "swf.cfg"
    config.write_text(f"[local]\nCPU_NB = {cpus}\n")
    wfc = WorkflowController(config=str(config), isolated_light_mode=str(home))
    try:
        yield wfc
    finally:
        with contextlib.suppress(Exception):
            for workflow_id in list(wfc.workflows()):
                wfc.delete_workflow(workflow_id, force=True)
        with contextlib.suppress(Exception):
            wfc.disconnect()
        shutdown_host(StateLayout(home / "jobhost"))
        shutil.rmtree(home, ignore_errors=True)
