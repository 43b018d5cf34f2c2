"""The detached engine daemon: start on demand, one per state dir, status, stop, idle exit."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from swf_adapters.transport.pyro import EngineKeyRefused, PyroEngineLink
from swf_domain.errors import EngineError
from swf_entry.daemon import (
    EngineEndpoint,
    EngineLayout,
    engine_status,
    ensure_engine,
    local_engine_link,
    stop_engine,
)
from tests.integration.engine_daemon_fixtures import (
    FAKE_FACTORY,
    engine_state_dir,
    is_engine_process,
    kill_engines,
    started_engine_pids,
    wait_until,
)

pytestmark = pytest.mark.timeout(120)

DOCUMENT: dict[str, object] = {"jobs": [], "dependencies": []}

ENSURE_SCRIPT = """
import sys
from swf_entry.daemon import ensure_engine
print(ensure_engine(sys.argv[1], sys.argv[2], idle_timeout=0).pid)
"""

QUERY_LOOP_SCRIPT = """
import sys
from swf_adapters.transport.pyro import EngineKeyRefused, PyroEngineLink
link = PyroEngineLink(sys.argv[1], sys.argv[2])
workflow_id = int(sys.argv[3])
for index in range(150):
    assert link.workflow_status(workflow_id) == "workflow_in_progress"
    assert link.workflows([workflow_id]) == {workflow_id: ("shared", None)}
    assert link.job_files(index) == ("/tmp/job%d.out" % index, None)
link.close()
print("ok")
"""


@pytest.fixture
def state_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with engine_state_dir(monkeypatch) as path:
        yield path


def _fake_starts(state_dir: Path) -> list[str]:
    path = state_dir / "fake-starts.txt"
    return path.read_text().splitlines() if path.exists() else []


def _shutdowns(state_dir: Path) -> list[int]:
    path = state_dir / "fake-shutdowns.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _gone(pid: int, state_dir: Path) -> bool:
    return not is_engine_process(pid, state_dir)


def _ensure(state_dir: Path, idle_timeout: float = 0) -> EngineEndpoint:
    return ensure_engine(state_dir, FAKE_FACTORY, idle_timeout=idle_timeout)


def test_ensure_engine_starts_one_detached_daemon_and_reuses_it(state_dir: Path) -> None:
    config = state_dir / "swf.cfg"
    endpoint = ensure_engine(
        state_dir, FAKE_FACTORY, idle_timeout=0, config_file=config, resource_id="lab"
    )

    process = psutil.Process(endpoint.pid)
    assert process.ppid() != os.getpid()  # not our child: it outlives this client
    assert os.getsid(endpoint.pid) != os.getsid(0)
    info = json.loads((state_dir / "engine.json").read_text())
    assert info["pid"] == endpoint.pid
    assert info["socket"] == str(endpoint.socket_path)
    assert info["resource"] == "lab"
    assert info["version"]
    assert time.time() - 60 < info["started_at"] <= time.time()
    assert _fake_starts(state_dir) == [f"{endpoint.pid} lab {config}"]
    assert int((state_dir / "engine.lock").read_text()) == endpoint.pid

    assert ensure_engine(state_dir, FAKE_FACTORY, idle_timeout=0) == endpoint
    assert len(_fake_starts(state_dir)) == 1


def test_ensure_engine_from_many_threads_at_once_starts_one_engine(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWF_FAKE_START_DELAY", "0.5")
    results: list[EngineEndpoint | BaseException] = []
    barrier = threading.Barrier(6)

    def start() -> None:
        barrier.wait()
        try:
            results.append(_ensure(state_dir))
        except BaseException as error:
            results.append(error)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    pids = {result.pid for result in results if isinstance(result, EngineEndpoint)}
    assert len(results) == 6 and len(pids) == 1, results
    assert len(_fake_starts(state_dir)) == 1


def test_ensure_engine_from_two_processes_at_once_starts_one_engine(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWF_FAKE_START_DELAY", "0.5")
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", ENSURE_SCRIPT, str(state_dir), FAKE_FACTORY],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [client.communicate(timeout=60) for client in clients]

    assert [client.returncode for client in clients] == [0, 0, 0], outputs
    assert len({stdout.strip() for stdout, _ in outputs}) == 1
    assert len(_fake_starts(state_dir)) == 1


def test_a_second_daemon_for_the_same_dir_exits_saying_where_the_first_runs(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWF_FAKE_START_DELAY", "0.3")
    command = [
        sys.executable,
        "-m",
        "swf_entry.daemon",
        "--state-dir",
        str(state_dir),
        "--factory",
        FAKE_FACTORY,
        "--idle-timeout",
        "0",
    ]
    logs = [state_dir / f"direct{i}.log" for i in range(2)]
    daemons = []
    for log in logs:
        with log.open("w") as stream:
            daemons.append(subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT))
    try:
        assert wait_until(lambda: any(d.poll() is not None for d in daemons), 30)
        loser = next(d for d in daemons if d.poll() is not None)
        winner = next(d for d in daemons if d is not loser)
        assert loser.returncode == 0
        loser_log = logs[daemons.index(loser)].read_text()
        assert "already runs" in loser_log and f"pid {winner.pid}" in loser_log
        assert wait_until(lambda: (state_dir / "engine.json").exists(), 30)
        assert _ensure(state_dir).pid == winner.pid
        assert len(_fake_starts(state_dir)) == 1
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(10)
    assert winner.returncode == 0


def test_after_kill_9_a_new_engine_starts_and_clients_reconnect(state_dir: Path) -> None:
    link = local_engine_link(state_dir, FAKE_FACTORY, idle_timeout=0)
    workflow_id = link.submit_workflow(DOCUMENT, "kept", None, None)
    first_pid = link.ping()

    os.kill(first_pid, signal.SIGKILL)
    assert wait_until(lambda: _gone(first_pid, state_dir), 10)
    stale = json.loads((state_dir / "engine.json").read_text())
    assert stale["pid"] == first_pid  # a dead engine's file stays, and fools nobody
    assert engine_status(state_dir) is None

    assert link.workflows() == {workflow_id: ("kept", None)}  # reconnects (restarting)
    second_pid = link.ping()
    assert second_pid != first_pid
    assert _ensure(state_dir).pid == second_pid
    assert json.loads((state_dir / "engine.json").read_text())["pid"] == second_pid
    link.close()


def test_an_idle_engine_exits_cleanly(state_dir: Path) -> None:
    endpoint = _ensure(state_dir, idle_timeout=1.0)
    assert wait_until(lambda: _gone(endpoint.pid, state_dir), 15)
    assert _shutdowns(state_dir) == [endpoint.pid]
    assert not (state_dir / "engine.json").exists()
    assert not endpoint.socket_path.exists()
    assert engine_status(state_dir) is None


def test_an_engine_with_running_work_does_not_exit_when_idle(state_dir: Path) -> None:
    endpoint = _ensure(state_dir, idle_timeout=1.0)
    with PyroEngineLink(endpoint.socket_path, endpoint.key_file) as link:
        workflow_id = link.submit_workflow(DOCUMENT, "running", None, None)
        time.sleep(2.5)
        assert is_engine_process(endpoint.pid, state_dir)
        link.stop_workflow(workflow_id)
    assert wait_until(lambda: _gone(endpoint.pid, state_dir), 15)


def test_stop_engine_shuts_the_engine_down_cleanly(state_dir: Path) -> None:
    assert stop_engine(state_dir) is False
    endpoint = _ensure(state_dir)

    assert stop_engine(state_dir, timeout=10) is True

    assert _gone(endpoint.pid, state_dir)
    assert _shutdowns(state_dir) == [endpoint.pid]
    assert not (state_dir / "engine.json").exists()
    assert not endpoint.socket_path.exists()
    assert endpoint.key_file.exists()  # kept: clients reconnect to the next engine
    assert stop_engine(state_dir) is False
    assert "engine stopping (requested)" in (state_dir / "engine.log").read_text()


def test_sigterm_shuts_the_engine_down_cleanly(state_dir: Path) -> None:
    endpoint = _ensure(state_dir)
    os.kill(endpoint.pid, signal.SIGTERM)
    assert wait_until(lambda: _gone(endpoint.pid, state_dir), 10)
    assert _shutdowns(state_dir) == [endpoint.pid]
    assert not (state_dir / "engine.json").exists()
    assert not endpoint.socket_path.exists()


def test_engine_status_says_where_since_when_and_what(state_dir: Path) -> None:
    assert engine_status(state_dir) is None
    before = time.time()
    endpoint = ensure_engine(state_dir, FAKE_FACTORY, idle_timeout=0, resource_id="cluster")
    with PyroEngineLink(endpoint.socket_path, endpoint.key_file) as link:
        link.submit_workflow(DOCUMENT, "a", None, None)
        link.stop_workflow(link.submit_workflow(DOCUMENT, "b", None, None))

    status = engine_status(state_dir)

    assert status is not None
    assert status["pid"] == endpoint.pid
    assert status["socket"] == str(endpoint.socket_path)
    assert status["resource"] == "cluster"
    assert before - 1 <= status["started_at"] <= time.time()
    assert 0 <= status["uptime"] < 60
    assert status["engine"] == {"workflows": 2, "running": 1, "calls": 3}
    assert status["active_calls"] == 0


def test_a_failing_factory_gives_an_error_with_the_log_tail(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWF_FAKE_FAIL", "database is locked")
    with pytest.raises(EngineError) as failure:
        _ensure(state_dir)
    message = str(failure.value)
    assert "did not start" in message
    assert "fake factory refused to start: database is locked" in message
    assert str(state_dir / "engine.log") in message
    assert wait_until(
        lambda: all(_gone(pid, state_dir) for pid in started_engine_pids(state_dir)), 10
    )

    monkeypatch.delenv("SWF_FAKE_FAIL")
    assert _ensure(state_dir).pid > 0  # the lock of the failed engine is free


def test_an_unknown_factory_is_named_in_the_error(state_dir: Path) -> None:
    with pytest.raises(EngineError, match="no_such_module_xyz"):
        ensure_engine(state_dir, "no_such_module_xyz:build", idle_timeout=0)


def test_eight_client_processes_querying_in_a_loop(state_dir: Path) -> None:
    endpoint = _ensure(state_dir)
    with PyroEngineLink(endpoint.socket_path, endpoint.key_file) as link:
        workflow_id = link.submit_workflow(DOCUMENT, "shared", None, None)
    arguments = [str(endpoint.socket_path), str(endpoint.key_file), str(workflow_id)]
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", QUERY_LOOP_SCRIPT, *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outputs = [client.communicate(timeout=90) for client in clients]
    assert [client.returncode for client in clients] == [0] * 8, outputs
    assert [stdout.strip() for stdout, _ in outputs] == ["ok"] * 8
    status = engine_status(state_dir)
    assert status is not None and status["engine"]["calls"] >= 8 * 450


def test_a_long_state_dir_gets_its_socket_in_a_private_tmp_dir(state_dir: Path) -> None:
    deep = state_dir / ("d" * 60) / ("e" * 60)
    layout = EngineLayout.of(deep)
    assert layout.socket_path.parent == Path("/tmp") / f"swf-{os.getuid()}"
    try:
        endpoint = _ensure(deep)
        assert endpoint.socket_path == layout.socket_path
        assert stat.S_IMODE(endpoint.socket_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(endpoint.socket_path.parent.stat().st_mode) == 0o700
        with PyroEngineLink(endpoint.socket_path, endpoint.key_file) as link:
            assert link.workflows() == {}
        assert stop_engine(deep) is True
        assert not endpoint.socket_path.exists()
    finally:
        kill_engines(deep)


def test_ensure_engine_fails_fast_when_the_running_engine_refuses_the_key_file(
    state_dir: Path,
) -> None:
    endpoint = _ensure(state_dir)
    endpoint.key_file.unlink()
    replaced = state_dir / "replaced.key"
    replaced.write_text("f" * 64 + "\n")
    replaced.chmod(0o600)
    replaced.replace(endpoint.key_file)

    started = time.monotonic()
    with pytest.raises(EngineKeyRefused, match="refused the key"):
        _ensure(state_dir)
    assert time.monotonic() - started < 10
    assert is_engine_process(endpoint.pid, state_dir)
    assert len(_fake_starts(state_dir)) == 1
