"""PyroEngineLink against a real engine daemon process serving the fake EngineLink."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import Pyro5.client
import Pyro5.errors
import pytest

from swf_adapters.transport.pyro import PyroEngineLink, engine_uri
from swf_adapters.transport.pyro.private_files import read_key
from swf_app.read_models import (
    JobChangeBatch,
    JobProgress,
    JobTermination,
    OutputChunk,
    WorkflowProgress,
)
from swf_domain.errors import (
    EngineError,
    SerializationError,
    UnknownObjectError,
    WorkflowError,
    WorkflowValidationError,
)
from swf_entry.daemon import EngineEndpoint, ensure_engine, stop_engine
from tests.integration.engine_daemon_fixtures import (
    FAKE_FACTORY,
    engine_state_dir,
    wait_until,
)
from tests.integration.pyro_fake_service import FAKE_JOB

pytestmark = pytest.mark.timeout(120)

DOCUMENT = {"jobs": [{"command": ["echo", "é"], "name": "a"}], "dependencies": []}


@pytest.fixture
def state_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with engine_state_dir(monkeypatch) as path:
        yield path


@pytest.fixture
def endpoint(state_dir: Path) -> EngineEndpoint:
    return ensure_engine(state_dir, FAKE_FACTORY, idle_timeout=0)


@pytest.fixture
def link(endpoint: EngineEndpoint) -> Iterator[PyroEngineLink]:
    with PyroEngineLink(endpoint.socket_path, endpoint.key_file) as client:
        yield client


def _restarting_link(state_dir: Path, calls: list[float]) -> PyroEngineLink:
    def restart() -> None:
        calls.append(time.time())
        ensure_engine(state_dir, FAKE_FACTORY, idle_timeout=0)

    endpoint = ensure_engine(state_dir, FAKE_FACTORY, idle_timeout=0)
    return PyroEngineLink(endpoint.socket_path, endpoint.key_file, on_disconnect=restart)


def test_round_trip_keeps_plain_data_shapes(link: PyroEngineLink, endpoint: EngineEndpoint) -> None:
    workflow_id = link.submit_workflow(DOCUMENT, "wf", "q1", 1234.5)

    assert link.workflow_document(workflow_id) == DOCUMENT
    assert link.workflows() == {workflow_id: ("wf", 1234.5)}
    assert link.workflows([workflow_id, 999]) == {workflow_id: ("wf", 1234.5)}
    assert link.workflow_status(workflow_id) == "workflow_in_progress"
    progress = link.workflow_elements_status(workflow_id)
    assert progress == WorkflowProgress(workflow_id, "workflow_in_progress", "q1", [FAKE_JOB])
    assert type(progress.jobs[0]) is JobProgress
    assert link.workflows()[workflow_id].expiration_date == 1234.5
    assert link.job_status(3) == "done"
    assert link.job_termination_status(3) == JobTermination("finished_regularly", 0, None, "1.5")
    assert link.job_files(3).stdout == "/tmp/job3.out"
    assert link.job_changes(workflow_id).jobs == [FAKE_JOB]
    assert link.job_changes(workflow_id, since=7) == JobChangeBatch(
        workflow_id, 7, "workflow_in_progress", []
    )
    assert link.wait_changes(workflow_id, 7, timeout=0.1).since == 7
    chunk = link.read_job_output(3, "stderr", 250)
    assert chunk == OutputChunk(bytes(range(250, 256)), 250, 256, 256, True)
    assert link.get_job_output_params(3) == {"value": 3, "nested": {"list": [1, 2.5, None]}}
    assert link.status_summary(workflow_id) == {"done": 1}
    assert link.change_workflow_expiration_date(workflow_id, None) is True
    assert link.workflows([workflow_id]) == {workflow_id: ("wf", None)}
    assert link.wait_workflow(workflow_id, timeout=0.2) is False
    assert link.stop_workflow(workflow_id) is True
    assert link.wait_workflow(workflow_id) is True
    assert link.stop_jobs(workflow_id, (1, 2)) is True
    assert link.restart_jobs(workflow_id, [1]) is True
    assert link.wait_job([1, 2], 1.0) is True
    assert link.restart_workflow(workflow_id) is True
    assert link.delete_workflow(workflow_id) is True
    assert link.workflows() == {}
    assert link.ping() == endpoint.pid


def test_engine_errors_arrive_typed_with_their_message(link: PyroEngineLink) -> None:
    with pytest.raises(UnknownObjectError, match=r"^workflow 77 does not exist$"):
        link.workflow_status(77)
    with pytest.raises(SerializationError, match="no field 'jobs'"):
        link.submit_workflow({"name": "x"}, None, None, None)
    with pytest.raises(WorkflowValidationError) as invalid:
        link.submit_workflow({"invalid": True, "jobs": []}, None, None, None)
    assert isinstance(invalid.value, WorkflowError)
    assert invalid.value.problems == [
        "job 'b' depends on unknown job 'zz'",
        "job 'c' has an empty command",
    ]
    assert str(invalid.value) == "job 'b' depends on unknown job 'zz' (and 1 more problem(s))"


def test_a_document_that_is_not_plain_data_is_refused_before_sending(
    link: PyroEngineLink,
) -> None:
    calls_before = link.stats()["engine"]["calls"]
    with pytest.raises(SerializationError, match=r"\['jobs'\]\[0\]\['command'\]\[1\]"):
        link.submit_workflow({"jobs": [{"command": ["cat", Path("/x")]}]}, None, None, None)
    assert link.stats()["engine"]["calls"] == calls_before


def test_an_engine_bug_arrives_as_engine_error_and_the_link_stays_usable(
    link: PyroEngineLink,
) -> None:
    with pytest.raises(EngineError, match="RuntimeError: fake engine crashed on job 666"):
        link.job_status(666)
    assert link.job_status(1) == "done"


def test_a_client_with_the_wrong_key_is_refused(
    state_dir: Path, endpoint: EngineEndpoint, link: PyroEngineLink
) -> None:
    wrong_key = state_dir / "wrong.key"
    wrong_key.write_text("0" * 64)
    wrong_key.chmod(0o600)
    calls_before = link.stats()["engine"]["calls"]
    intruder = PyroEngineLink(endpoint.socket_path, wrong_key)

    with pytest.raises(EngineError, match="refused the key"):
        intruder.stop_workflow(1)
    with pytest.raises(EngineError, match="refused the key"):
        intruder.workflows()

    assert link.stats()["engine"]["calls"] == calls_before


def test_a_raw_pyro_proxy_with_a_wrong_handshake_is_rejected(endpoint: EngineEndpoint) -> None:
    proxy = Pyro5.client.Proxy(engine_uri(endpoint.socket_path))
    proxy._pyroSerializer = "serpent"
    proxy._pyroHandshake = "not the key"
    with pytest.raises(Pyro5.errors.CommunicationError, match="rejected"):
        proxy.ping()
    proxy._pyroRelease()


@pytest.mark.parametrize("serializer", ["json", "marshal"])
def test_serializers_other_than_serpent_are_refused(
    endpoint: EngineEndpoint, serializer: str
) -> None:
    proxy = Pyro5.client.Proxy(engine_uri(endpoint.socket_path))
    proxy._pyroSerializer = serializer
    proxy._pyroHandshake = read_key(endpoint.key_file)
    # Refused at the handshake, before the engine decodes anything the client sent.
    with pytest.raises(Pyro5.errors.CommunicationError, match="serpent serializer only"):
        proxy.call("workflows", "[null]")
    proxy._pyroRelease()


def test_a_client_without_a_usable_key_file_gets_a_clear_error(
    state_dir: Path, endpoint: EngineEndpoint
) -> None:
    missing = state_dir / "missing.key"
    with pytest.raises(EngineError, match=f"key file {missing} does not exist"):
        PyroEngineLink(endpoint.socket_path, missing).workflows()

    shared = state_dir / "shared.key"
    shared.write_text(endpoint.key_file.read_text())
    shared.chmod(0o644)
    with pytest.raises(EngineError, match="readable by other users"):
        PyroEngineLink(endpoint.socket_path, shared).workflows()


def test_the_key_is_not_sent_to_a_socket_others_could_have_swapped(
    state_dir: Path, endpoint: EngineEndpoint, link: PyroEngineLink
) -> None:
    state_dir.chmod(0o777)
    try:
        with pytest.raises(EngineError, match="can be written by other users"):
            PyroEngineLink(endpoint.socket_path, endpoint.key_file).workflows()
    finally:
        state_dir.chmod(0o700)
    assert link.workflows() == {}


def test_state_socket_and_key_are_private(state_dir: Path, endpoint: EngineEndpoint) -> None:
    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert endpoint.socket_path == state_dir / "engine.sock"
    assert stat.S_ISSOCK(endpoint.socket_path.stat().st_mode)
    assert mode(state_dir) == 0o700
    assert mode(endpoint.socket_path) == 0o600
    assert mode(endpoint.key_file) == 0o600
    assert mode(state_dir / "engine.json") == 0o600
    assert mode(state_dir / "engine.log") == 0o600
    key = endpoint.key_file.read_text().strip()
    assert len(key) == 64
    assert int(key, 16) >= 0


def test_one_link_shared_by_many_threads(link: PyroEngineLink) -> None:
    workflow_ids = [link.submit_workflow(DOCUMENT, f"w{i}", None, float(i)) for i in range(8)]
    failures: list[BaseException] = []

    def hammer(index: int) -> None:
        try:
            for _ in range(60):
                workflow_id = workflow_ids[index]
                assert link.workflows([workflow_id]) == {workflow_id: (f"w{index}", float(index))}
                assert link.job_files(index) == (f"/tmp/job{index}.out", None)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []


def test_a_blocking_wait_does_not_block_other_calls(
    endpoint: EngineEndpoint, link: PyroEngineLink
) -> None:
    workflow_id = link.submit_workflow(DOCUMENT, "long", None, None)
    waiter = PyroEngineLink(endpoint.socket_path, endpoint.key_file)
    outcome: list[bool] = []
    thread = threading.Thread(target=lambda: outcome.append(waiter.wait_workflow(workflow_id)))
    thread.start()
    assert wait_until(lambda: link.stats()["active_calls"] >= 1, 10)

    # Another client, and the waiting client's own link from another thread, both get answers.
    for _ in range(20):
        assert link.workflow_status(workflow_id) == "workflow_in_progress"
        assert waiter.job_status(1) == "done"
    assert thread.is_alive() and outcome == []

    assert link.stop_workflow(workflow_id) is True
    thread.join(10)
    assert outcome == [True]
    waiter.close()


def test_the_link_reconnects_to_a_restarted_engine(state_dir: Path, link: PyroEngineLink) -> None:
    workflow_id = link.submit_workflow(DOCUMENT, "kept", None, None)
    first_pid = link.ping()

    assert stop_engine(state_dir, timeout=10) is True
    second = ensure_engine(state_dir, FAKE_FACTORY, idle_timeout=0)

    assert second.pid != first_pid
    assert link.workflows() == {workflow_id: ("kept", None)}  # a query: retried transparently
    assert link.ping() == second.pid
    assert link.stop_workflow(workflow_id) is True  # a command: connection checked first


def test_on_disconnect_restarts_a_stopped_engine_before_the_retry(state_dir: Path) -> None:
    restarts: list[float] = []
    link = _restarting_link(state_dir, restarts)
    first_pid = link.ping()
    assert stop_engine(state_dir) is True

    assert link.workflows() == {}
    assert len(restarts) == 1
    assert link.ping() != first_pid
    link.close()


def test_a_query_interrupted_by_an_engine_crash_is_retried_on_the_new_engine(
    state_dir: Path,
) -> None:
    restarts: list[float] = []
    link = _restarting_link(state_dir, restarts)
    first_pid = link.ping()
    with pytest.raises(UnknownObjectError, match="workflow -9"):
        link.workflow_status(-9)  # the engine SIGKILLs itself during the first attempt
    assert len(restarts) == 1
    assert link.ping() != first_pid
    link.close()


def test_a_command_interrupted_by_an_engine_crash_is_not_replayed(state_dir: Path) -> None:
    restarts: list[float] = []
    link = _restarting_link(state_dir, restarts)
    first_pid = link.ping()
    with pytest.raises(EngineError, match="may or may not have applied it"):
        link.stop_jobs(-9, [1])  # the engine SIGKILLs itself while running the command
    assert len(restarts) == 1
    assert link.ping() != first_pid  # reconnected to the new engine
    calls_after = link.stats()["engine"]["calls"]
    assert calls_after == 0  # the command was not sent again to the new engine
    link.close()


def test_a_wait_survives_an_engine_restart(state_dir: Path) -> None:
    restarts: list[float] = []
    link = _restarting_link(state_dir, restarts)
    workflow_id = link.submit_workflow(DOCUMENT, "survivor", None, None)
    outcome: list[bool | BaseException] = []

    def wait() -> None:
        try:
            outcome.append(link.wait_workflow(workflow_id))
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=wait)
    thread.start()
    assert wait_until(lambda: link.stats()["active_calls"] >= 1, 10)
    assert stop_engine(state_dir) is True  # the waiting call is cut; the link restarts it

    assert wait_until(lambda: len(restarts) == 1, 20)
    assert wait_until(lambda: link.stats()["active_calls"] >= 1, 20)
    assert thread.is_alive()
    assert link.stop_workflow(workflow_id) is True
    thread.join(10)
    assert outcome == [True]
    link.close()


def test_a_closed_link_refuses_calls(link: PyroEngineLink) -> None:
    link.close()
    with pytest.raises(EngineError, match="closed"):
        link.workflows()


def test_a_forked_child_uses_its_own_connections(link: PyroEngineLink) -> None:
    def own_answers(first: int) -> bool:
        return all(link.job_files(i) == (f"/tmp/job{i}.out", None) for i in range(first, 400, 2))

    assert link.job_files(0) == ("/tmp/job0.out", None)  # pools a connection
    opened = link.connections_opened
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        ok = own_answers(1)
        link.close()
        os._exit(0 if ok else 1)
    parent_ok = own_answers(0)
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert parent_ok
    assert link.connections_opened == opened  # the parent's connection was never disturbed
