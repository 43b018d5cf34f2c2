"""``swf status --jobs`` shows the attempt number once a job of the workflow retried."""

from __future__ import annotations

import io

from rich.console import Console

from swf_app.read_models import JobView, WorkflowSnapshot
from swf_entry.cli.display import jobs_table


def rendered(*attempts: int) -> str:
    jobs = [
        JobView(i, f"job{i}", "done", "finished_regularly", 0, None, 1.0, 2.0, 3.0, None, n)
        for i, n in enumerate(attempts)
    ]
    out = io.StringIO()
    Console(file=out, width=120).print(jobs_table(WorkflowSnapshot(1, "w", "done", None, jobs)))
    return out.getvalue()


def test_attempt_column_appears_only_when_a_job_retried() -> None:
    assert "attempt" not in rendered(1, 1)
    table = rendered(1, 3)
    assert "attempt" in table
    assert [line.split("│")[-2].strip() for line in table.splitlines() if "job1" in line] == ["3"]


def test_json_carries_the_attempt() -> None:
    view = JobView(7, "a", "failed", "finished_regularly", 1, None, None, None, None, None, 2)
    assert view.as_json()["attempt"] == 2
