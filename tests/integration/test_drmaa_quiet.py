"""The DRMAA adapter on the real Grid Engine keeps the user's terminal clean: the
expected "no usage" answer (DRMAA error code 24) for a job deleted before it ran goes to
the engine's log at debug level, not to the terminal the engine was started from."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

from swf_domain.status import ExitStatus, JobStatus
from tests.integration.scheduler_contract import LONG, Recorder
from tests.integration.sge_contract import DrmaaBackend
from tests.integration.sge_fixtures import require_sge

pytestmark = [pytest.mark.sge, pytest.mark.timeout(180)]


def test_deleting_a_held_job_ends_it_killed_without_a_word_on_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    require_sge()
    caplog.set_level(logging.DEBUG, logger="swf.drmaa")
    backend = DrmaaBackend(tmp_path)
    scheduler, recorder = backend.new_scheduler(), Recorder()
    scheduler.start(recorder, [])
    try:
        scheduler.submit([replace(backend.request(1, LONG), native_specification="-h")])
        recorder.wait_until(lambda: bool(recorder.scheduler_ids(1)), 60, "a cluster id")
        scheduler.kill([1])
        (end,) = recorder.wait_ends([1], backend.timeout).values()
        assert end.status is JobStatus.FAILED
        assert end.exit is not None and end.exit.exit_status is ExitStatus.USER_KILLED
        deadline = time.monotonic() + 30
        while not _said(caplog, "code 24") and time.monotonic() < deadline:
            time.sleep(0.2)  # the agent's wait hears of the deleted task within seconds
        assert _said(caplog, "code 24"), "Grid Engine's no-usage answer reached the log"
        assert "code 24" not in capfd.readouterr().err
    finally:
        scheduler.close()
        backend.close()


def _said(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(
        text in record.getMessage() and record.levelno == logging.DEBUG for record in caplog.records
    )
