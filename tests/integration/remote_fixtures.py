"""Fixtures shared by the suites that run the facade scenarios on a remote resource
(test_remote_scenarios: local cores there; test_remote_slurm: its SLURM cluster).

Import ``tmp_path`` and ``wfc`` from here (they replace pytest's and facade_fixtures'):
the scenario's directory must be writable by the remote user, and Python jobs must run the
resource's python.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_entry.client import WorkflowController
from tests.integration import test_facade_scenarios as facade
from tests.integration.facade_fixtures import (
    ProcessGuard,
    Site,
    close_site,
    marked_environment,
    open_site,
    stop_unfinished,
)
from tests.integration.ssh_fixtures import require_sshd, shared_directory


def remote_site(guard: ProcessGuard, extra_config: str = "") -> Iterator[Site]:
    """A site whose engine runs on the remote resource (over SSH), closed at the end."""
    with marked_environment(guard):
        opened = open_site(guard, "remote", extra_config=extra_config)
        try:
            yield opened
        finally:
            close_site(opened)


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """The scenario's directory is the remote user's too: its jobs write there."""
    with shared_directory() as path:
        yield path


@pytest.fixture
def wfc(site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowController]:
    """The site's controller. Python jobs run the resource's python (this process's may
    live where the remote user cannot go)."""
    monkeypatch.setattr(facade, "PY", require_sshd().python)
    controller = site.controller
    before = set(controller.workflows())
    try:
        yield controller
    finally:
        controller = site.controller
        stop_unfinished(controller, [w for w in controller.workflows() if w not in before])
