"""The daemon's idle timeout relies on ``EngineService.is_idle``; ``engine_stats`` feeds
``swf engine status``."""

from __future__ import annotations

from tests.app_fakes import EngineHarness
from tests.unit.test_service import chain, durations


def test_idle_only_once_every_workflow_has_ended() -> None:
    with EngineHarness(behaviour=durations({"a": 5.0})) as harness:
        assert harness.service.is_idle()
        wf_id = harness.submit(chain("a", "b"))
        assert not harness.service.is_idle()
        stats = harness.service.engine_stats()
        assert stats["workflows_unfinished"] == 1
        assert stats["jobs_running"] == 1
        harness.advance(6.0)  # the virtual clock ends "a"; "b" then ends at once
        harness.wait(wf_id)
        assert harness.service.is_idle()
        assert harness.service.engine_stats()["jobs_running"] == 0
