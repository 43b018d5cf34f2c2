"""The facade scenarios on a remote resource: the client reaches its engine over SSH.

The resource is the test sshd's user on this machine (scripts/services/sshd.sh): the engine
daemon, the job host and every job run as that user, started over SSH by the client; the
client only has the SSH connection. The scenarios are the facade suite's own functions
(test_facade_scenarios), run unchanged against a remote ``site``; those that are about this
machine's own engine (its pid, its files, its state directory) are left out by name below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration import test_facade_scenarios as facade
from tests.integration.facade_fixtures import ProcessGuard, Site, facade_guard
from tests.integration.remote_fixtures import remote_site, tmp_path, wfc

__all__ = ["facade_guard", "site", "tmp_path", "wfc"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.timeout(180)]

#: Scenarios about the local engine itself, not about what a client sees.
LOCAL_ONLY = {
    # which engine modes a client can start, and this machine's engine process
    "test_disconnect_leaves_the_workflow_running",
    "test_a_job_that_ends_while_no_engine_runs",
    "test_class_wide_isolated_light_mode",
    "test_a_wait_in_progress_survives_an_engine_restart",
    "test_a_client_that_exits_after_submitting",
    "test_environment_precedence",  # the client's environment does not travel to the resource
    # FileTransfers on a remote resource are moved by the FileStager (issue 14 part B)
    "test_file_transfers_are_used_in_place_on_the_local_resource",
}

for _name in dir(facade):
    if _name.startswith("test_") and _name not in LOCAL_ONLY:
        globals()[_name] = getattr(facade, _name)


#: d_special_paths reads the TemporaryPath copies in the local engine's directory.
@pytest.mark.parametrize("name", [n for n in facade.FIXTURE_NAMES if n != "d_special_paths"])
def test_soma_json_fixture_runs(name: str, site: Site, tmp_path: Path) -> None:
    facade.test_soma_json_fixture_runs(name, site, tmp_path)


@pytest.fixture(scope="module")
def site(facade_guard: ProcessGuard) -> Iterator[Site]:
    """One remote engine (over SSH), shared by the module's scenarios."""
    yield from remote_site(facade_guard)
