"""Waiting for a workflow returns when it ends, not at a poll: counted, not timed.

The engine's ``wait_workflow`` re-checks the store only when the workflow's status
changes (a few times per workflow, not once per tick); the facade's ``wait_workflow`` is
one call on the link; ``swf wait`` / ``swf run`` without a display make one wait call per
slice and read the jobs once, at the end.
"""

from __future__ import annotations

import importlib
import itertools
import threading
from typing import Any

from swf_app.link import OPERATIONS
from swf_app.ports import LaunchRequest
from swf_domain.model import Job, Workflow
from swf_entry.client import WorkflowController
from tests.app_fakes import EngineHarness, FakeOutcome

#: The module (``swf_entry.cli.app`` the attribute is the Typer application).
cli = importlib.import_module("swf_entry.cli.app")
NAMES = [f"j{number}" for number in range(12)]


def _one_second_each(request: LaunchRequest) -> FakeOutcome:
    return FakeOutcome(duration=1.0)


def test_engine_wait_checks_the_store_only_at_status_changes() -> None:
    jobs = [Job(["run", name], name=name) for name in NAMES]
    chain = Workflow(jobs, dependencies=list(itertools.pairwise(jobs)))
    with EngineHarness(slots=1, behaviour=_one_second_each) as harness:
        workflow_id = harness.submit(chain)
        harness.idle()  # the first job runs: the workflow is running
        service = harness.service
        checks: list[int] = []
        finished_or_gone = service._finished_or_gone

        def counted(checked_id: int) -> bool:
            checks.append(checked_id)
            return finished_or_gone(checked_id)

        service._finished_or_gone = counted  # type: ignore[method-assign]
        returned: list[bool] = []
        waiter = threading.Thread(
            target=lambda: returned.append(service.wait_workflow(workflow_id))
        )
        ticks = harness.engine.ticks
        waiter.start()
        for _ in NAMES:
            harness.advance(1.0)  # one job ends, the next starts: a tick each
        waiter.join(10)
        assert returned == [True]
        assert harness.engine.ticks - ticks >= len(NAMES)
        # once when called, once when the workflow's status became done (one more if the
        # waiter started during a status change): not once per tick
        assert 2 <= len(checks) <= 3, checks


class _CountingLink:
    """A link whose ``wait_workflow`` answers from ``answers`` and records its calls."""

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.waits: list[tuple[int, float]] = []

    def wait_workflow(self, workflow_id: int, timeout: float = -1) -> bool:
        self.waits.append((workflow_id, timeout))
        return self.answers.pop(0)

    def __getattr__(self, name: str) -> Any:
        if name in OPERATIONS:
            raise AssertionError(f"unexpected link call {name}")
        raise AttributeError(name)  # optional features (``getattr(link, x, None)``)


def test_facade_wait_is_one_call_without_a_time_limit() -> None:
    link = _CountingLink([True])
    controller = WorkflowController.from_link(link)  # type: ignore[arg-type]
    controller.wait_workflow(7)
    assert link.waits == [(7, -1)]


def test_cli_waits_in_engine_waits_until_the_workflow_ends() -> None:
    link = _CountingLink([False, False, True])
    assert cli._wait_quietly(link, 3, None) is True  # type: ignore[arg-type]
    assert link.waits == [(3, cli.QUIET_SLICE)] * 3


def test_cli_wait_with_a_timeout_gives_up_after_it() -> None:
    link = _CountingLink([False])
    assert cli._wait_quietly(link, 3, 0.0) is False  # type: ignore[arg-type]
    assert link.waits == [(3, 0.0)]
    link = _CountingLink([True])
    assert cli._wait_quietly(link, 3, 60.0) is True  # type: ignore[arg-type]
    assert len(link.waits) == 1 and 0 < link.waits[0][1] <= cli.QUIET_SLICE
