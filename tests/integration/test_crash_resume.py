"""The engine survives its own death and its clients' (issue 4), with real processes.

- a client that submits then exits, or is SIGKILLed, loses nothing: a new client sees the
  same workflow, which finishes;
- the engine daemon SIGKILLed again and again at random moments (while jobs run, while
  it starts and recovers): every job runs exactly once (or never, below a failure), with
  its real exit value and resource usage, even when it ended while no engine ran;
- the same with an embedded engine whose client process is SIGKILLed;
- two clients starting the real engine at once end with one engine and one job host;
- a client with a wrong key is refused by the real engine and does not disturb it.

Seeds: ``CRASH_SEEDS=1,2,3`` (environment) replaces the default ones.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from swf_adapters.transport.pyro import EngineKeyRefused, PyroEngineLink
from swf_domain.errors import EngineError
from swf_entry.client import Job, Workflow, WorkflowController
from swf_entry.daemon import EngineLayout
from tests.integration.crash_fixtures import (
    Plan,
    Site,
    command_line,
    crash_plan,
    crash_root,
    finish_client,
    first_line,
    integrity,
    job_rows,
    kill_9,
    launch_client,
    marked_processes,
    outcome_problems,
    running_now,
    staged_plan,
    start_client,
    wait_until,
)

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

SEEDS = [int(seed) for seed in os.environ.get("CRASH_SEEDS", "3,17,29").split(",")]
WAIT = 120.0
TRUE = shutil.which("true") or "/bin/true"


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with crash_root(monkeypatch) as path:
        yield path


def _finish_and_check(
    site: Site,
    controller: WorkflowController,
    workflow_id: int,
    plan: Plan,
    downtimes: list[tuple[float, float]],
) -> list[str]:
    """Wait for the workflow, check every job; the jobs that ended while no engine ran."""
    controller.wait_workflow(workflow_id, timeout=WAIT)
    problems, ended_down = outcome_problems(controller, workflow_id, plan, downtimes)
    assert not problems, "\n".join(problems)
    assert "database is locked" not in site.engine_log() + site.host_log()
    return ended_down


# -- the client dies -------------------------------------------------------------------


@pytest.mark.parametrize("death", ["exit", "kill"])
def test_a_client_that_dies_after_submitting_loses_nothing(root: Path, death: str) -> None:
    site = Site.create(root, "c")
    plan = staged_plan(site.home)
    client, line = start_client(site, plan.save("staged"), "exit" if death == "exit" else "hang")
    if death == "kill":
        kill_9(client.pid)
    finish_client(client)
    workflow_id = int(line)
    try:
        controller = site.daemon_controller()
        assert workflow_id in controller.workflows()
        rows = job_rows(controller, workflow_id)
        assert sorted(rows) == sorted(plan.names)
        assert controller.workflow_status(workflow_id) in (
            "workflow_not_started",
            "workflow_in_progress",
        )
        assert any(entry[1] != "done" for entry in rows.values())  # still running

        _finish_and_check(site, controller, workflow_id, plan, [])
        controller.disconnect()
    finally:
        site.close()


# -- the engine daemon dies, again and again -------------------------------------------


@dataclass
class Kills:
    """What the kill loop did: when no engine ran, and how each kill went."""

    downtimes: list[tuple[float, float]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def _kill_while_starting(site: Site, rng: random.Random, kills: Kills) -> None:
    """Start an engine (as a client would) and SIGKILL it a random moment later, often
    before it is ready: while it opens the store, recovers, or reaches the job host."""
    before = set(site.engine_pids())

    def start() -> None:
        with contextlib.suppress(EngineError):
            site.daemon_controller().disconnect()

    starter = threading.Thread(target=start, daemon=True)
    starter.start()
    new: list[int] = []

    def started() -> bool:
        pid = site.locking_engine_pid()
        if pid is not None and pid not in before:
            new.append(pid)
        return bool(new)

    assert wait_until(started, 30.0), "no engine started"
    time.sleep(rng.uniform(0.0, 0.7))
    ready = site.engine_pid() == new[0]
    kill_9(new[0])
    kills.log.append(f"killed starting engine {new[0]} ({'ready' if ready else 'not ready'})")
    starter.join(60)
    assert not starter.is_alive()


def _next_job_start(plan: Plan, timeout: float = 3.0) -> str | None:
    """The name of the next job to start (its marker file appears), watched closely."""
    markers = plan.home / "markers"
    before = set(os.listdir(markers))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = set(os.listdir(markers)) - before
        if new:
            return min(new)
        time.sleep(0.001)
    return None


def _kill_engine_loop(
    site: Site,
    controller: WorkflowController,
    workflow_id: int,
    plan: Plan,
    rng: random.Random,
) -> Kills:
    kills = Kills()
    for number in range(rng.randint(5, 8)):
        time.sleep(rng.uniform(0.1, 0.8))
        if controller.workflow_status(workflow_id) == "workflow_done":
            kills.log.append("workflow done: no more kills")
            break
        pid = site.running_engine_pid(controller)
        at_a_start = number > 0 and rng.random() < 0.3
        if at_a_start:  # the engine may not have recorded the submission yet
            started = _next_job_start(plan)
            kill_9(pid)
            kills.log.append(f"killed engine {pid} as soon as {started} started")
        else:
            wait_until(lambda: bool(running_now(plan)), 2.0)
            running = running_now(plan)
            kill_9(pid)
            kills.log.append(f"killed engine {pid} while {len(running)} job(s) ran")
        down = time.time()
        # The first pause outlasts any job: some job surely ends while no engine runs.
        time.sleep(1.0 if number == 0 else rng.uniform(0.05, 0.8))
        kills.downtimes.append((down, time.time()))
        if rng.random() < 0.35:
            _kill_while_starting(site, rng, kills)
        site.running_engine_pid(controller)  # the link restarts the engine
        site.note_host()
    return kills


@pytest.mark.parametrize("seed", SEEDS)
def test_engine_daemon_killed_at_random_moments_runs_every_job_once(root: Path, seed: int) -> None:
    rng = random.Random(seed)
    site = Site.create(root, "d")
    plan = crash_plan(site.home, seed)
    try:
        controller = site.daemon_controller()
        workflow_id = controller.submit_workflow(plan.workflow(f"crash-{seed}"))

        kills = _kill_engine_loop(site, controller, workflow_id, plan, rng)
        print(f"seed {seed}:", *kills.log, sep="\n  ")

        ended_down = _finish_and_check(site, controller, workflow_id, plan, kills.downtimes)
        assert ended_down, f"no job ended while the engine was down: {kills.log}"
        assert len(site.engine_pids()) > len(kills.downtimes), kills.log
        controller.disconnect()
    finally:
        site.close()
    assert integrity(site.database) == "ok"


def test_an_engine_killed_during_a_submission_stores_all_of_the_workflow_or_nothing(
    root: Path,
) -> None:
    size = 5000
    site = Site.create(root, "s")

    def workflow() -> Workflow:
        return Workflow([Job([TRUE], name=f"t{index}") for index in range(size)])

    try:
        controller = site.daemon_controller()
        started = time.monotonic()
        first = controller.submit_workflow(workflow())
        duration = time.monotonic() - started
        controller.delete_workflow(first)
        answers: list[object] = []
        for fraction in (0.1, 0.3, 0.5, 0.7, 0.9):
            submitted = workflow()
            # An engine runs: the previous kill may have hit an idle engine (the submission
            # had ended) and nothing has restarted it since.
            pid = site.running_engine_pid(controller)

            def submit(built: Workflow = submitted) -> None:
                try:
                    answers.append(controller.submit_workflow(built))
                except EngineError as error:
                    answers.append(error)

            submitter = threading.Thread(target=submit, daemon=True)
            submitter.start()
            time.sleep(duration * fraction)
            assert site.engine_pid() == pid  # the engine the submission went to
            kill_9(pid)
            submitter.join(WAIT)
            assert not submitter.is_alive()
        print("answers:", answers)

        kept = controller.workflows()  # read from the store
        for workflow_id in kept:
            assert len(job_rows(controller, workflow_id)) == size, workflow_id
        returned = [answer for answer in answers if isinstance(answer, int)]
        assert set(returned) <= set(kept)
        for workflow_id in kept:
            controller.delete_workflow(workflow_id)
        controller.disconnect()
    finally:
        site.close()
    assert integrity(site.database) == "ok"


def test_a_client_waiting_for_a_workflow_outlives_several_engine_deaths(root: Path) -> None:
    site = Site.create(root, "w")
    plan = staged_plan(site.home, stages=4, width=3, sleep=0.4)
    try:
        controller = site.daemon_controller()
        workflow_id = controller.submit_workflow(plan.workflow("waited"))
        outcome: list[object] = []

        def wait() -> None:
            try:
                controller.wait_workflow(workflow_id, timeout=WAIT)
                outcome.append("returned")
            except Exception as error:
                outcome.append(error)

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        for _ in range(3):
            time.sleep(0.7)
            if not waiter.is_alive():
                break
            pid = site.engine_pid()
            assert pid is not None
            kill_9(pid)

            def restarted(dead: int = pid) -> bool:
                return site.engine_pid() not in (None, dead) or not waiter.is_alive()

            # The waiting client restarts the engine and waits on.
            assert wait_until(restarted, 30.0)
        waiter.join(WAIT)
        assert outcome == ["returned"], outcome
        _finish_and_check(site, controller, workflow_id, plan, [])
        controller.disconnect()
    finally:
        site.close()


def test_embedded_engine_killed_with_its_client_resumes_in_a_new_client(root: Path) -> None:
    rng = random.Random(SEEDS[0])
    site = Site.create(root, "e")
    plan = crash_plan(site.home, SEEDS[0])
    downtimes: list[tuple[float, float]] = []
    client, line = start_client(site, plan.save("embedded"), "embedded")
    workflow_id = int(line)
    try:
        for round_number in range(3):
            time.sleep(rng.uniform(0.3, 1.2))
            wait_until(lambda: bool(running_now(plan)), 2.0)
            kill_9(client.pid)
            down = time.time()
            finish_client(client)
            time.sleep(1.0 if round_number == 0 else rng.uniform(0.05, 0.8))
            downtimes.append((down, time.time()))
            if round_number < 2:
                client, line = start_client(site, None, "embedded")
                assert line == "resumed"
        controller = site.embedded_controller()
        assert controller.workflow_status(workflow_id) != "workflow_done"
        ended_down = _finish_and_check(site, controller, workflow_id, plan, downtimes)
        assert ended_down, "no job ended while the engine was down"
        controller.disconnect()
    finally:
        if client.poll() is None:
            kill_9(client.pid)
            finish_client(client)
        site.close()
    assert integrity(site.database) == "ok"


# -- starting and reaching the real engine -----------------------------------------------


def test_two_clients_starting_the_real_engine_at_once_share_one_engine(root: Path) -> None:
    site = Site.create(root, "t")
    plans = [staged_plan(site.home, 2, 3, 0.1, prefix) for prefix in ("a", "b")]
    documents = [plan.save(f"both{index}") for index, plan in enumerate(plans)]
    try:
        clients = [launch_client(site, document, "exit") for document in documents]
        workflow_ids = [int(first_line(client)) for client in clients]
        for client in clients:
            finish_client(client)
        assert [client.returncode for client in clients] == [0, 0]

        assert len(site.engine_pids()) == 1, site.engine_log()
        hosts = [
            process
            for process in marked_processes(str(root))
            if "swf_adapters.schedulers.local.host" in command_line(process)
        ]
        assert len(hosts) == 1, hosts
        controller = site.daemon_controller()
        assert sorted(controller.workflows()) == sorted(workflow_ids)
        for workflow_id, plan in zip(workflow_ids, plans, strict=True):
            _finish_and_check(site, controller, workflow_id, plan, [])
        controller.disconnect()
    finally:
        site.close()


def test_the_real_engine_refuses_a_wrong_key_and_serves_on(root: Path) -> None:
    site = Site.create(root, "k")
    plan = staged_plan(site.home, stages=2, width=2, sleep=0.2)
    try:
        controller = site.daemon_controller()
        workflow_id = controller.submit_workflow(plan.workflow("keyed"))
        pid = site.engine_pid()
        wrong = site.home / "wrong.key"
        wrong.write_text("0" * 64 + "\n")
        wrong.chmod(0o600)
        restarts: list[int] = []
        layout = EngineLayout.of(site.home)
        intruder = PyroEngineLink(
            layout.socket_path, wrong, on_disconnect=lambda: restarts.append(1)
        )

        with pytest.raises(EngineKeyRefused, match="refused the key"):
            intruder.workflows()
        with pytest.raises(EngineKeyRefused, match="refused the key"):
            intruder.stop_workflow(workflow_id)
        intruder.close()

        assert restarts == []  # a refused key never makes a client restart the engine
        assert site.engine_pid() == pid
        _finish_and_check(site, controller, workflow_id, plan, [])
        controller.disconnect()
    finally:
        site.close()
