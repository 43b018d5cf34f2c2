"""MpiScheduler (rank 0's adapter) against scripted worker ranks over in-process channels.

The real ranks under mpirun are in tests/integration/test_mpi_runner.py; here the worker
side is the test itself, so every message rank 0 sends can be looked at.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from swf_adapters.process import ends
from swf_adapters.schedulers.mpi import MpiScheduler, wire
from swf_adapters.schedulers.mpi.adapter import MAX_DEPTH
from swf_adapters.schedulers.mpi.channel import LocalChannels
from swf_adapters.schedulers.mpi.worker import job_environment
from swf_app.ports import (
    Capacity,
    CapacityUnit,
    LaunchRequest,
    ParallelSpec,
    SchedulerEvent,
    SchedulerReport,
)
from swf_domain.status import ExitStatus, JobStatus

REGULAR = ExitStatus.FINISHED_REGULARLY.value


class Events:
    """The engine's side: every event batch the adapter delivered."""

    def __init__(self) -> None:
        self.batches: list[list[SchedulerEvent]] = []
        self.capacities: list[Capacity] = []
        self._changed = threading.Condition()

    def __call__(self, reports: Sequence[SchedulerReport]) -> None:
        with self._changed:
            self.capacities.extend(r for r in reports if isinstance(r, Capacity))
            self.batches.append([r for r in reports if isinstance(r, SchedulerEvent)])
            self._changed.notify_all()

    def all(self) -> list[SchedulerEvent]:
        with self._changed:
            return [event for batch in self.batches for event in batch]

    def ended(self, timeout: float = 5.0, count: int = 1) -> dict[int, SchedulerEvent]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = {
                    e.job_id: e
                    for e in self.all()
                    if e.status in (JobStatus.DONE, JobStatus.FAILED)
                }
                if len(found) >= count or time.monotonic() >= deadline:
                    return found
                self._changed.wait(0.05)


class FakeWorker:
    """A worker rank played by the test."""

    def __init__(self, channels: LocalChannels, rank: int, cores: int = 1) -> None:
        self.channel = channels.channel(rank)
        self.rank = rank
        self.cores = cores
        self.hello()

    def hello(self, held: Sequence[list[Any]] = (), ended: Sequence[list[Any]] = ()) -> None:
        """The answer to rank 0's inventory request (sent ahead: the channel keeps it)."""
        hello = {
            "rank": self.rank,
            "host": f"node{self.rank}",
            "pid": 1000 + self.rank,
            "cores": self.cores,
            "inventory": True,
            "held": list(held),
            "ended": list(ended),
        }
        self.channel.send(0, wire.HELLO, wire.encode(hello))

    def orders(self, timeout: float = 5.0, want_jobs: bool = True) -> list[dict[str, Any]]:
        """The next orders (skipping heartbeats when jobs are wanted)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = [wire.decode(payload) for _, _, payload in self.channel.receive()]
            useful = [o for o in received if o["jobs"] or o["kill"] or o["stop"]]
            if useful or (received and not want_jobs):
                return useful if want_jobs else received
            time.sleep(0.005)
        return []

    def report(self, *records: list[Any]) -> None:
        self.channel.send(0, wire.REPORT, wire.encode(list(records)))

    def run(self, job_id: int, value: int = 0, pid: int = 7) -> None:
        self.report(
            ends.started_record(job_id, pid, 1.0),
            ends.ended_record(job_id, pid, 1.0, (REGULAR, value, None, "cput=0", 1.001)),
        )


def request(job_id: int, tmp_path: Path, slots: int = 1) -> LaunchRequest:
    return LaunchRequest(
        job_id=job_id,
        workflow_id=1,
        argv=("true",),
        env={"A": "1"},
        stdout_file=str(tmp_path / f"{job_id}.out"),
        stderr_file=str(tmp_path / f"{job_id}.err"),
        slots=slots,
        parallel=ParallelSpec("native", 1, slots) if slots > 1 else None,
    )


@pytest.fixture
def channels() -> LocalChannels:
    return LocalChannels(4)


@pytest.fixture
def events() -> Events:
    return Events()


def started(
    channels: LocalChannels, events: Events, workers: int = 2, cores: int = 1, **options: Any
) -> tuple[MpiScheduler, list[FakeWorker]]:
    ranks = [FakeWorker(channels, rank, cores) for rank in range(1, workers + 1)]
    scheduler = MpiScheduler(
        channels.channel(0), [w.rank for w in ranks], hello_timeout=5, heartbeat=0.2, **options
    )
    assert scheduler.start(events) == frozenset()  # the store is the journal: nothing held
    return scheduler, ranks


@pytest.fixture
def closing() -> Iterator[list[MpiScheduler]]:
    opened: list[MpiScheduler] = []
    yield opened
    for scheduler in opened:
        scheduler.close()


def test_capacity_is_the_workers_cores_reported_in_their_hellos(
    channels: LocalChannels, events: Events, closing: list[MpiScheduler]
) -> None:
    scheduler, _ = started(channels, events, workers=2, cores=3)
    closing.append(scheduler)
    assert scheduler.cores() == 6
    assert scheduler.capacity() == Capacity(CapacityUnit.CPUS, 6 * MAX_DEPTH)
    assert [w["host"] for w in scheduler.workers()] == ["node1", "node2"]


def test_a_few_jobs_spread_over_idle_cores_and_ends_become_events(
    channels: LocalChannels, events: Events, closing: list[MpiScheduler], tmp_path: Path
) -> None:
    scheduler, (one, two) = started(channels, events)
    closing.append(scheduler)

    scheduler.submit([request(10, tmp_path), request(11, tmp_path)])

    (first,) = one.orders()
    (second,) = two.orders()
    assert [spec[0] for spec in first["jobs"]] == [10]  # one each: neither queues behind
    assert [spec[0] for spec in second["jobs"]] == [11]
    spec = first["jobs"][0]
    assert spec[wire.SPEC_ARGV] == ["true"] and spec[wire.SPEC_ENV] == {"A": "1"}
    one.run(10)
    two.run(11, value=2)
    ended = events.ended(count=2)
    assert ended[10].status is JobStatus.DONE and ended[10].scheduler_job_id == "rank1:7"
    assert ended[11].status is JobStatus.FAILED
    assert ended[11].exit is not None and ended[11].exit.exit_value == 2
    running = [e for e in events.all() if e.status is JobStatus.RUNNING]
    assert {e.job_id for e in running} == {10, 11}


def test_short_jobs_travel_many_per_message_once_their_duration_is_known(
    channels: LocalChannels, events: Events, closing: list[MpiScheduler], tmp_path: Path
) -> None:
    scheduler, (one,) = started(channels, events, workers=1)
    closing.append(scheduler)
    scheduler.submit([request(job_id, tmp_path) for job_id in range(1, 201)])
    (first,) = one.orders()
    assert len(first["jobs"]) == 1  # duration unknown: no queue yet

    one.run(1)  # 1 ms: the rank now holds about TARGET_BACKLOG seconds of work

    (second,) = one.orders()
    assert len(second["jobs"]) > 50
    assert scheduler.traffic.orders_sent <= 3


def test_a_failed_attempt_is_reported_and_the_engine_s_next_attempt_runs(
    channels: LocalChannels, events: Events, closing: list[MpiScheduler], tmp_path: Path
) -> None:
    """Retries are the engine's: the adapter reports each failed attempt, then runs the
    new launch request of the same job like any other."""
    scheduler, (one,) = started(channels, events, workers=1)
    closing.append(scheduler)
    scheduler.submit([request(5, tmp_path)])
    one.orders()

    one.run(5, value=1)

    assert events.ended()[5].status is JobStatus.FAILED
    scheduler.acknowledge([5])
    scheduler.submit([request(5, tmp_path)])  # the engine's attempt 2
    (again,) = one.orders()
    assert [spec[0] for spec in again["jobs"]] == [5] and again["ack"] == [5]


def test_kills_reach_queued_and_placed_jobs(
    channels: LocalChannels, events: Events, closing: list[MpiScheduler], tmp_path: Path
) -> None:
    scheduler, (one,) = started(channels, events, workers=1)
    closing.append(scheduler)
    scheduler.submit([request(1, tmp_path), request(2, tmp_path)])
    one.orders()  # job 1 placed; job 2 waits at rank 0 (no room yet)

    scheduler.kill([1, 2])

    ended = events.ended()
    assert ended[2].exit is not None and ended[2].exit.exit_status is ExitStatus.USER_KILLED
    (order,) = one.orders()
    assert order["kill"] == [1] and order["jobs"] == []


def test_a_job_wider_than_every_rank_fails_alone_with_the_reason(
    channels: LocalChannels, events: Events, closing: list[MpiScheduler], tmp_path: Path
) -> None:
    scheduler, (one,) = started(channels, events, workers=1, cores=2)
    closing.append(scheduler)

    scheduler.submit([request(1, tmp_path, slots=3), request(2, tmp_path, slots=2)])

    ended = events.ended()
    assert ended[1].status is JobStatus.FAILED
    assert "needs 3 cores; the widest worker rank has 2" in (tmp_path / "1.err").read_text()
    (order,) = one.orders()
    assert [spec[0] for spec in order["jobs"]] == [2]


def test_a_silent_worker_fails_its_jobs_and_the_others_go_on(
    channels: LocalChannels, events: Events, closing: list[MpiScheduler], tmp_path: Path
) -> None:
    scheduler, (one, two) = started(channels, events, worker_timeout=0.6)
    closing.append(scheduler)
    scheduler.submit([request(1, tmp_path), request(2, tmp_path)])
    one.orders()
    two.orders()
    channels.dead.add(2)  # rank 2 says nothing more

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and 2 not in events.ended(timeout=0.1):
        one.report()  # rank 1's heartbeats
    ended = events.ended()

    assert ended[2].status is JobStatus.FAILED
    assert ended[2].exit is not None
    assert ended[2].exit.exit_status is ExitStatus.EXIT_UNDETERMINED
    reason = (tmp_path / "2.err").read_text()
    assert "MPI worker rank 2 on host node2 stopped answering" in reason
    assert scheduler.cores() == 1
    assert Capacity(CapacityUnit.CPUS, MAX_DEPTH) in events.capacities  # reported
    one.run(1)
    assert events.ended(count=2)[1].status is JobStatus.DONE


def test_a_silent_worker_s_job_runs_elsewhere_on_its_next_attempt(
    channels: LocalChannels, events: Events, closing: list[MpiScheduler], tmp_path: Path
) -> None:
    scheduler, (one, two) = started(channels, events, worker_timeout=0.6)
    closing.append(scheduler)
    scheduler.submit([request(1, tmp_path), request(2, tmp_path)])
    one.orders()
    two.orders()
    channels.dead.add(2)
    one.run(1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and 2 not in events.ended(timeout=0.1, count=2):
        one.report()

    scheduler.submit([request(2, tmp_path)])  # the engine retries it

    moved = [spec[0] for order in one.orders() for spec in order["jobs"]]
    assert moved == [2]


def test_workers_are_sent_home_at_the_end(
    channels: LocalChannels, events: Events, tmp_path: Path
) -> None:
    scheduler, (one,) = started(channels, events, workers=1)
    scheduler.close()

    def answer() -> None:
        for order in one.orders(want_jobs=True):
            if order["stop"]:
                one.report([wire.BYE])

    helper = threading.Thread(target=answer)
    helper.start()
    began = time.monotonic()
    scheduler.dismiss_workers(timeout=5)
    helper.join()
    assert time.monotonic() - began < 4  # the goodbye came, no timeout


def test_jobs_do_not_inherit_what_the_launcher_says_about_the_rank() -> None:
    environ = {
        "PATH": "/bin",
        "PMI_RANK": "1",
        "PMI_FD": "9",
        "HYDI_CONTROL_FD": "7",
        "MPI_LOCALRANKID": "0",
        "OMPI_COMM_WORLD_RANK": "1",
        "OMP_NUM_THREADS": "2",
    }
    assert job_environment(environ) == {"PATH": "/bin", "OMP_NUM_THREADS": "2"}


def test_a_new_adapter_adopts_what_the_workers_hold_and_acks_reach_them(
    channels: LocalChannels, events: Events, tmp_path: Path
) -> None:
    first, (one,) = started(channels, events, workers=1)
    first.submit([request(1, tmp_path), request(2, tmp_path)])
    one.orders()
    one.run(1)
    events.ended()
    (then,) = one.orders()
    assert [spec[0] for spec in then["jobs"]] == [2]  # it starts job 2 (pid 8)
    first.close()  # the engine went away before acknowledging job 1's end

    ended = ends.ended_record(1, 7, 1.0, (REGULAR, 0, None, "cput=0", 1.001))
    one.hello(held=[[2, 8, 1.0, 1]], ended=[ended])
    again = Events()
    second = MpiScheduler(channels.channel(0), [1], hello_timeout=5, heartbeat=0.2)
    try:
        assert second.start(again) == frozenset({1, 2})
        assert again.ended()[1].status is JobStatus.DONE  # reported again: not acknowledged
        second.acknowledge([1])
        second.kill([2])
        orders = one.orders()
        assert [2] in [o["kill"] for o in orders]
        one.report(
            ends.ended_record(2, 8, 1.0, (ExitStatus.USER_KILLED.value, None, 15, None, 2.0))
        )
        assert again.ended(count=2)[2].exit.exit_status is ExitStatus.USER_KILLED  # type: ignore[union-attr]
    finally:
        second.close()
    later = one.orders(want_jobs=False, timeout=1)
    acknowledged = [job for o in [*orders, *later] for job in o["ack"]]
    assert acknowledged == [1]  # riding on the kill's message or the next one


def test_a_worker_told_to_end_starts_no_job_that_arrives_after(tmp_path: Path) -> None:
    """SIGTERM (the walltime's warning) stops the worker; orders already on their way
    must not start a job it would leave running when it says goodbye."""
    from swf_adapters.schedulers.mpi.worker import Worker

    channels = LocalChannels(2)
    worker = Worker(channels.channel(1), 1)
    worker._stop()  # what its SIGTERM handler leads to
    spec = [7, ["touch", str(tmp_path / "ran")], {}, None, None, None, None, 1, None, False]
    channels.channel(0).send(1, wire.ORDERS, wire.orders([spec], []))

    worker._take_orders()
    worker._start_queued()

    assert worker.started == 0
    assert not (tmp_path / "ran").exists()
