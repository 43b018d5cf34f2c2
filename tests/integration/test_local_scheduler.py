"""The local scheduler with real processes: a real job host, real jobs, real crashes.

Every test uses its own state directory and stops the job host it started.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest

from swf_adapters.schedulers.local import LocalScheduler
from swf_adapters.schedulers.local.journal import Journal, read_journal
from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout, is_gone, live_host
from swf_app.ports import Capacity, CapacityUnit, LaunchRequest, SchedulerEvent
from swf_domain.errors import ConfigurationError
from swf_domain.status import ExitInfo, ExitStatus, JobStatus

USAGE = re.compile(r"^cput=\d+\.\d{3} mem=\d+kb walltime=\d+\.\d{3}$")
SRC = str(Path(__file__).resolve().parents[2] / "src")


class Recorder:
    """An event sink that lets a test wait for the events it expects."""

    def __init__(self) -> None:
        self.events: list[SchedulerEvent] = []
        self.batches = 0
        self._changed = threading.Condition()

    def __call__(self, events: Sequence[SchedulerEvent]) -> None:
        with self._changed:
            self.events.extend(events)
            self.batches += 1
            self._changed.notify_all()

    def wait_for(
        self, predicate: Callable[[SchedulerEvent], bool], count: int = 1, timeout: float = 20.0
    ) -> list[SchedulerEvent]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [event for event in self.events if predicate(event)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} event(s), got {self.events}")
                self._changed.wait(remaining)

    def end_of(self, job_id: int, timeout: float = 20.0) -> SchedulerEvent:
        ends = self.wait_for(lambda e: e.job_id == job_id and e.exit is not None, 1, timeout)
        assert len(ends) == 1, f"job {job_id} ended more than once: {ends}"
        return ends[0]

    def running(self, job_id: int, timeout: float = 20.0) -> SchedulerEvent:
        return self.wait_for(
            lambda e: e.job_id == job_id and e.status is JobStatus.RUNNING, 1, timeout
        )[0]


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "state" / "jobhost"
    yield directory
    shutdown_host(StateLayout(directory))


@pytest.fixture
def scheduler(state_dir: Path) -> Iterator[LocalScheduler]:
    adapter = LocalScheduler(state_dir, slots=2, idle_timeout=30, kill_grace=0.5)
    yield adapter
    adapter.close()


@pytest.fixture
def recorder(scheduler: LocalScheduler) -> Recorder:
    sink = Recorder()
    assert scheduler.start(sink) == frozenset()
    return sink


def request(
    tmp_path: Path, job_id: int, *argv: str, join: bool = False, **options: Any
) -> LaunchRequest:
    fields: dict[str, object] = {
        "job_id": job_id,
        "workflow_id": 1,
        "argv": argv,
        "env": {},
        "stdout_file": str(tmp_path / f"job{job_id}.out"),
        "stderr_file": None if join else str(tmp_path / f"job{job_id}.err"),
    }
    fields.update(options)
    return LaunchRequest(**fields)  # type: ignore[arg-type]


def read(tmp_path: Path, name: str) -> str:
    return (tmp_path / name).read_text()


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", textwrap.dedent(code))


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def all_gone(pids: Sequence[int]) -> bool:
    alive = []
    for pid in pids:
        try:
            if not is_gone(psutil.Process(pid)):
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return not alive


# -- how jobs end ----------------------------------------------------------------------


def test_a_job_ends_done_with_its_exit_value_and_resource_usage(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    scheduler.submit([request(tmp_path, 1, "echo", "hello")])

    running = recorder.running(1)
    end = recorder.end_of(1)

    assert running.scheduler_job_id is not None and int(running.scheduler_job_id) > 0
    assert end.status is JobStatus.DONE
    assert end.exit is not None
    assert (end.exit.exit_status, end.exit.exit_value, end.exit.term_signal) == (
        ExitStatus.FINISHED_REGULARLY,
        0,
        None,
    )
    assert end.exit.resource_usage is not None and USAGE.match(end.exit.resource_usage)
    assert end.scheduler_job_id == running.scheduler_job_id
    assert running.time is not None and end.time is not None and end.time >= running.time
    assert read(tmp_path, "job1.out") == "hello\n"


def test_resource_usage_reports_the_jobs_cpu_memory_and_wall_time(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    burn = python(
        """
        import time
        block = bytearray(300 * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        deadline = time.process_time() + 0.3
        while time.process_time() < deadline:
            pass
        time.sleep(0.3)
        """
    )
    scheduler.submit([request(tmp_path, 1, *burn)])

    end = recorder.end_of(1)

    assert end.exit is not None and end.exit.resource_usage is not None
    usage = dict(item.split("=") for item in end.exit.resource_usage.split())
    assert float(usage["cput"]) >= 0.3
    assert int(usage["mem"].removesuffix("kb")) >= 300 * 1024
    assert float(usage["walltime"]) >= 0.6


def test_a_non_zero_exit_fails_the_job_with_that_value(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    scheduler.submit([request(tmp_path, 1, "sh", "-c", "exit 3")])

    end = recorder.end_of(1)

    assert end.status is JobStatus.FAILED
    assert end.exit is not None
    assert end.exit == ExitInfo(ExitStatus.FINISHED_REGULARLY, 3, None, end.exit.resource_usage)


def test_a_job_ended_by_a_signal_fails_with_that_signal(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    scheduler.submit([request(tmp_path, 1, "sh", "-c", "kill -TERM $$")])

    end = recorder.end_of(1)

    assert end.status is JobStatus.FAILED
    assert end.exit is not None
    assert end.exit.exit_status is ExitStatus.FINISHED_TERM_SIG
    assert (end.exit.exit_value, end.exit.term_signal) == (None, signal.SIGTERM)


@pytest.mark.parametrize(
    ("build", "exit_value", "reason"),
    [
        (
            lambda p: {"argv": ("no-such-command-swf",)},
            127,
            "no-such-command-swf: command not found",
        ),
        (lambda p: {"argv": (str(p / "missing" / "tool"),)}, 127, "command not found"),
        (lambda p: {"argv": (str(p / "not-executable"),)}, 126, "cannot execute"),
        (lambda p: {"argv": ("true",), "working_directory": str(p / "nowhere")}, 127, "nowhere"),
        (lambda p: {"argv": ("cat",), "stdin_file": str(p / "no-input")}, 127, "no-input"),
        (
            lambda p: {
                "argv": ("cat",),
                "stdin_file": str(p / "no-input"),
                "working_directory": "/",
            },
            127,
            "no-input",
        ),
        (lambda p: {"argv": ("no-such-command-swf",), "working_directory": "/"}, 127, "not found"),
        (lambda p: {"argv": ()}, 127, "empty command"),
        (lambda p: {"argv": ("echo", 5)}, 127, "malformed job request"),
    ],
    ids=[
        "unknown",
        "missing-path",
        "not-executable",
        "bad-cwd",
        "stdin",
        "stdin-cwd",
        "cwd",
        "empty",
        "malformed",
    ],
)
def test_a_job_that_cannot_start_fails_alone_with_the_reason_in_its_stderr(
    scheduler: LocalScheduler,
    recorder: Recorder,
    tmp_path: Path,
    build: Callable[[Path], dict[str, Any]],
    exit_value: int,
    reason: str,
) -> None:
    (tmp_path / "not-executable").write_text("echo never\n")
    scheduler.submit([request(tmp_path, 1, **build(tmp_path)), request(tmp_path, 2, "true")])

    end = recorder.end_of(1)

    assert end.status is JobStatus.FAILED
    assert end.exit is not None and end.exit.exit_value == exit_value
    assert reason in read(tmp_path, "job1.err")
    assert recorder.end_of(2).status is JobStatus.DONE


def test_a_failure_reason_goes_to_stdout_when_stderr_is_joined(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    scheduler.submit([request(tmp_path, 1, "no-such-command-swf", join=True)])

    assert recorder.end_of(1).status is JobStatus.FAILED
    assert "no-such-command-swf: command not found" in read(tmp_path, "job1.out")


def test_an_unwritable_output_file_fails_the_job_not_the_host(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    lost = str(tmp_path / "no-such-directory" / "out")
    scheduler.submit([request(tmp_path, 1, "echo", "x", stdout_file=lost)])

    end = recorder.end_of(1)

    assert end.status is JobStatus.FAILED and end.exit is not None
    assert end.exit.exit_value == 127
    scheduler.submit([request(tmp_path, 2, "true")])
    assert recorder.end_of(2).status is JobStatus.DONE


# -- files, directory, environment -----------------------------------------------------


def test_stdin_stdout_and_stderr_files(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    (tmp_path / "input").write_text("from stdin\n")
    script = "cat; echo to-stderr >&2"
    scheduler.submit([request(tmp_path, 1, "sh", "-c", script, stdin_file=str(tmp_path / "input"))])

    assert recorder.end_of(1).status is JobStatus.DONE
    assert read(tmp_path, "job1.out") == "from stdin\n"
    assert read(tmp_path, "job1.err") == "to-stderr\n"


def test_join_stderrout_writes_both_streams_in_order_to_stdout(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    script = "echo one; echo two >&2; echo three"
    scheduler.submit([request(tmp_path, 1, "sh", "-c", script, join=True)])

    assert recorder.end_of(1).status is JobStatus.DONE
    assert read(tmp_path, "job1.out") == "one\ntwo\nthree\n"
    assert not (tmp_path / "job1.err").exists()


def test_outputs_are_truncated_when_a_job_runs_again(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    (tmp_path / "job1.out").write_text("an older, longer run\n")
    scheduler.submit([request(tmp_path, 1, "echo", "new")])

    assert recorder.end_of(1).status is JobStatus.DONE
    assert read(tmp_path, "job1.out") == "new\n"


def test_working_directory_and_environment(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWF_FROM_ENGINE", "engine-value")
    monkeypatch.setenv("SWF_OVERRIDDEN", "engine")
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    engine_dir = tmp_path / "engine"
    engine_dir.mkdir()
    monkeypatch.chdir(engine_dir)
    adapter = LocalScheduler(state_dir, idle_timeout=30)
    sink = Recorder()
    adapter.start(sink)
    try:
        show = 'pwd; echo "$SWF_FROM_ENGINE $SWF_OVERRIDDEN $SWF_JOB_ONLY"'
        env = {"SWF_OVERRIDDEN": "job", "SWF_JOB_ONLY": "job-only"}
        adapter.submit(
            [
                request(tmp_path, 1, "sh", "-c", show, env=env, working_directory=str(workdir)),
                request(tmp_path, 2, "sh", "-c", show),
            ]
        )
        assert sink.end_of(1).status is JobStatus.DONE
        assert sink.end_of(2).status is JobStatus.DONE
    finally:
        adapter.close()
    assert read(tmp_path, "job1.out") == f"{workdir}\nengine-value job job-only\n"
    assert read(tmp_path, "job2.out") == f"{engine_dir}\nengine-value engine \n"


def test_a_job_finds_its_command_on_the_path_it_was_given(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    tool = tools / "swf-private-tool"
    tool.write_text("#!/bin/sh\necho private tool\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    path = f"{tools}{os.pathsep}{os.environ['PATH']}"
    scheduler.submit([request(tmp_path, 1, "swf-private-tool", env={"PATH": path})])
    assert recorder.end_of(1).status is JobStatus.DONE
    assert read(tmp_path, "job1.out") == "private tool\n"

    scheduler.submit([request(tmp_path, 2, "swf-private-tool")])  # not on the engine's PATH
    end = recorder.end_of(2)
    assert end.exit is not None and end.exit.exit_value == 127


def test_a_job_writing_100_mb_to_stdout(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    scheduler.submit([request(tmp_path, 1, "head", "-c", "100000000", "/dev/zero")])

    assert recorder.end_of(1, timeout=60).status is JobStatus.DONE
    assert (tmp_path / "job1.out").stat().st_size == 100_000_000


def test_many_jobs_in_one_batch_all_end_once(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    count = 1100  # more than one submit line (1000 jobs each)
    scheduler.submit([request(tmp_path, job_id, "true") for job_id in range(1, count + 1)])

    ends = recorder.wait_for(lambda e: e.exit is not None, count, timeout=60)

    assert sorted(event.job_id for event in ends) == list(range(1, count + 1))
    assert all(event.status is JobStatus.DONE for event in ends)
    assert recorder.batches < 2 * count  # events arrive batched, not one message per record


def test_a_job_submitted_again_while_held_does_not_run_twice(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    job = request(tmp_path, 1, "sh", "-c", f"echo run >> {marker}; sleep 0.3")
    scheduler.submit([job])
    recorder.running(1)
    scheduler.submit([job])
    recorder.end_of(1)
    scheduler.submit([job])  # ended but not acknowledged: still held

    time.sleep(0.5)
    assert marker.read_text() == "run\n"
    scheduler.acknowledge([1])
    scheduler.submit([job])  # acknowledged: a new run (a restart)
    recorder.wait_for(lambda e: e.job_id == 1 and e.exit is not None, 2)
    assert marker.read_text() == "run\nrun\n"


def test_capacity_defaults_to_the_cpu_count_and_is_validated(state_dir: Path) -> None:
    assert LocalScheduler(state_dir, slots=2).capacity() == Capacity(CapacityUnit.CPUS, 2)
    assert LocalScheduler(state_dir).capacity().total == (os.cpu_count() or 1)
    with pytest.raises(ConfigurationError, match="slots"):
        LocalScheduler(state_dir, slots=0)


# -- kill -------------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]


def test_kill_ends_the_whole_process_tree_of_a_shell(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    scheduler.submit([request(tmp_path, 1, "sh", "-c", "sleep 100 & sleep 100 & wait")])
    pid = int(recorder.running(1).scheduler_job_id or 0)
    wait_until(lambda: len(_tree(pid)) == 3)
    pids = _tree(pid)

    scheduler.kill([1])
    end = recorder.end_of(1)

    assert end.status is JobStatus.FAILED
    assert end.exit is not None and end.exit.exit_status is ExitStatus.USER_KILLED
    assert all_gone(pids), "a process of the killed job survived"


FORKER = """
import os, sys, time
pids = [os.getpid()]
child = os.fork()
if child == 0:
    os.setsid()  # leaves the job's process group and session
    grandchild = os.fork()
    if grandchild == 0:
        time.sleep(100)
        os._exit(0)
    with open(sys.argv[1] + ".grandchild", "w") as out:
        out.write(str(grandchild))
    time.sleep(100)
    os._exit(0)
with open(sys.argv[1] + ".child", "w") as out:
    out.write(str(child))
time.sleep(100)
"""


def test_kill_reaches_descendants_that_left_the_process_group(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    base = tmp_path / "forker"
    scheduler.submit([request(tmp_path, 1, sys.executable, "-c", FORKER, str(base))])
    pid = int(recorder.running(1).scheduler_job_id or 0)
    wait_until(lambda: Path(f"{base}.grandchild").exists() and Path(f"{base}.child").exists())
    time.sleep(0.05)
    pids = [
        pid,
        int(Path(f"{base}.child").read_text()),
        int(Path(f"{base}.grandchild").read_text()),
    ]
    assert os.getsid(pids[2]) != pid

    scheduler.kill([1])
    end = recorder.end_of(1)

    assert end.exit is not None and end.exit.exit_status is ExitStatus.USER_KILLED
    assert all_gone(pids), "a descendant of the killed job survived"


def test_kill_escalates_to_sigkill_when_sigterm_is_ignored(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    stubborn = python(
        """
        import signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(100)
        """
    )
    scheduler.submit([request(tmp_path, 1, *stubborn)])
    recorder.running(1)
    wait_until(lambda: read(tmp_path, "job1.out") == "ready\n")

    scheduler.kill([1])
    end = recorder.end_of(1)

    assert end.exit is not None
    assert (end.exit.exit_status, end.exit.term_signal) == (ExitStatus.USER_KILLED, signal.SIGKILL)


def test_killing_an_ended_or_unknown_job_changes_nothing(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    scheduler.submit([request(tmp_path, 1, "true")])
    recorder.end_of(1)
    scheduler.kill([1, 999])
    scheduler.submit([request(tmp_path, 2, "true")])

    assert recorder.end_of(2).status is JobStatus.DONE
    assert recorder.end_of(1).status is JobStatus.DONE
    assert not any(e.job_id == 999 for e in recorder.events)


# -- the host: lifetime, crash safety ---------------------------------------------------

ENGINE = """
import sys, threading, time
from pathlib import Path
from swf_adapters.schedulers.local import LocalScheduler
from swf_app.ports import LaunchRequest

state_dir, out, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
running = set()
all_running = threading.Event()

def sink(events):
    running.update(e.job_id for e in events if e.status.value == "running")
    if len(running) == count:
        all_running.set()

scheduler = LocalScheduler(state_dir, idle_timeout=30)
scheduler.start(sink)
jobs = []
for job_id in range(1, count + 1):
    pause = "3" if job_id == count else "0.5"
    script = f"sleep {pause}; echo x >> {out}/marker{job_id}; exit {job_id - 1}"
    jobs.append(LaunchRequest(job_id, 1, ("sh", "-c", script), {}, f"{out}/job{job_id}.out", None))
scheduler.submit(jobs)
all_running.wait(20)
print("submitted", flush=True)
time.sleep(100)
"""


def _engine_that_dies(state_dir: Path, tmp_path: Path, count: int) -> None:
    """Run an engine in a process, let it submit ``count`` jobs, then kill -9 it."""
    env = {**os.environ, "PYTHONPATH": SRC}
    engine = subprocess.Popen(
        [sys.executable, "-c", ENGINE, str(state_dir), str(tmp_path), str(count)],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert engine.stdout is not None
    try:
        assert engine.stdout.readline() == b"submitted\n"
    finally:
        engine.kill()
        engine.wait()


def test_jobs_survive_an_engine_killed_and_report_to_the_next_engine(
    state_dir: Path, tmp_path: Path
) -> None:
    _engine_that_dies(state_dir, tmp_path, count=4)
    wait_until(lambda: all((tmp_path / f"marker{n}").exists() for n in (1, 2, 3)))

    adapter = LocalScheduler(state_dir, idle_timeout=30)
    sink = Recorder()
    held = adapter.start(sink)
    try:
        assert held == frozenset({1, 2, 3, 4})
        for job_id in (1, 2, 3):  # job n exits with n - 1
            end = sink.end_of(job_id)
            assert end.status is (JobStatus.DONE if job_id == 1 else JobStatus.FAILED)
            assert end.exit is not None and end.exit.exit_value == job_id - 1
            assert end.exit.resource_usage is not None
            assert USAGE.match(end.exit.resource_usage)
            assert float(end.exit.resource_usage.split("walltime=")[1]) >= 0.5
        sink.running(4)  # still running: followed to its end
        end = sink.end_of(4, timeout=20)
        assert end.exit is not None and end.exit.exit_value == 3
        adapter.acknowledge([1, 2, 3, 4])
    finally:
        adapter.close()
    for job_id in (1, 2, 3, 4):
        assert (tmp_path / f"marker{job_id}").read_text() == "x\n", "a job ran twice"

    again = LocalScheduler(state_dir, idle_timeout=30)
    assert again.start(Recorder()) == frozenset()  # the acknowledgements were kept
    again.close()


def test_unacknowledged_ends_are_replayed_to_every_new_connection(
    state_dir: Path, tmp_path: Path
) -> None:
    first = LocalScheduler(state_dir, idle_timeout=30)
    sink = Recorder()
    first.start(sink)
    first.submit([request(tmp_path, 1, "sh", "-c", "exit 5")])
    sink.end_of(1)
    first.close()

    for _ in range(2):
        again = LocalScheduler(state_dir, idle_timeout=30)
        replay = Recorder()
        assert again.start(replay) == frozenset({1})
        end = replay.end_of(1)
        assert end.exit is not None and end.exit.exit_value == 5
        again.close()


def test_a_dead_host_is_replaced_and_its_running_jobs_fail_undetermined(
    state_dir: Path, tmp_path: Path
) -> None:
    first = LocalScheduler(state_dir, idle_timeout=30)
    sink = Recorder()
    first.start(sink)
    first.submit([request(tmp_path, 1, "sleep", "100"), request(tmp_path, 2, "true")])
    pid = int(sink.running(1).scheduler_job_id or 0)
    sink.end_of(2)
    first.close()
    host = live_host(StateLayout(state_dir))
    assert host is not None
    host.kill()  # the host itself dies: job 1's exit status is lost
    wait_until(lambda: is_gone(host))

    second = LocalScheduler(state_dir, idle_timeout=30)
    replay = Recorder()
    try:
        assert second.start(replay) == frozenset({1, 2})
        end = replay.end_of(1)
        assert end.status is JobStatus.FAILED
        assert end.exit is not None and end.exit.exit_status is ExitStatus.EXIT_UNDETERMINED
        assert replay.end_of(2).status is JobStatus.DONE
        assert all_gone([pid]), "the job left behind by the dead host still runs"
    finally:
        second.close()


def test_a_connected_engine_survives_the_death_of_its_host(
    scheduler: LocalScheduler, recorder: Recorder, state_dir: Path, tmp_path: Path
) -> None:
    scheduler.submit([request(tmp_path, 1, "sleep", "100")])
    pid = int(recorder.running(1).scheduler_job_id or 0)
    host = live_host(StateLayout(state_dir))
    assert host is not None

    host.kill()

    end = recorder.end_of(1)
    assert end.exit is not None and end.exit.exit_status is ExitStatus.EXIT_UNDETERMINED
    wait_until(lambda: all_gone([pid]))
    scheduler.submit([request(tmp_path, 2, "echo", "after")])  # a new host runs it
    assert recorder.end_of(2).status is JobStatus.DONE
    new_host = live_host(StateLayout(state_dir))
    assert new_host is not None and new_host.pid != host.pid


def _hosts_of(state_dir: Path) -> list[psutil.Process]:
    hosts = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        ours = "swf_adapters.schedulers.local.host" in cmdline and str(state_dir) in cmdline
        if ours and not is_gone(process):
            hosts.append(process)
    return hosts


def test_two_engines_starting_at_once_share_one_host(state_dir: Path, tmp_path: Path) -> None:
    adapters = [LocalScheduler(state_dir, idle_timeout=30) for _ in range(4)]
    sinks = [Recorder() for _ in adapters]
    barrier = threading.Barrier(len(adapters))
    errors: list[BaseException] = []

    def start(adapter: LocalScheduler, sink: Recorder) -> None:
        barrier.wait()
        try:
            adapter.start(sink)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [
        threading.Thread(target=start, args=pair) for pair in zip(adapters, sinks, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors
        # The hosts that lost the race for the lock leave at once.
        wait_until(lambda: len(_hosts_of(state_dir)) == 1, timeout=10)
        adapters[0].submit([request(tmp_path, 1, "true")])
        for sink in sinks:  # every engine connected to the one host hears of the job
            assert sink.end_of(1).status is JobStatus.DONE
    finally:
        for adapter in adapters:
            adapter.close()


def test_the_host_leaves_when_idle_and_cleans_up(state_dir: Path, tmp_path: Path) -> None:
    adapter = LocalScheduler(state_dir, idle_timeout=0.3)
    sink = Recorder()
    adapter.start(sink)
    adapter.submit([request(tmp_path, 1, "true")])
    sink.end_of(1)
    host = live_host(StateLayout(state_dir))
    assert host is not None
    adapter.acknowledge([1])
    time.sleep(0.6)
    assert not is_gone(host), "the host left while an engine was connected"

    adapter.close()

    wait_until(lambda: is_gone(host), timeout=10)
    layout = StateLayout(state_dir)
    assert not layout.socket.exists()
    assert not layout.pid_file.exists()
    assert not layout.journal.exists()
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700


def test_a_host_without_engine_or_jobs_leaves_and_journals_unacknowledged_ends(
    state_dir: Path, tmp_path: Path
) -> None:
    """Issue 8: an engine gone without acknowledging must not keep its host forever."""
    adapter = LocalScheduler(state_dir, idle_timeout=0.2)
    sink = Recorder()
    adapter.start(sink)
    adapter.submit([request(tmp_path, 1, "true")])
    sink.end_of(1)
    host = live_host(StateLayout(state_dir))
    assert host is not None
    adapter.close()  # never acknowledged
    wait_until(lambda: is_gone(host), timeout=10)
    assert StateLayout(state_dir).journal.exists()
    again = LocalScheduler(state_dir, idle_timeout=30)
    replayed = Recorder()
    try:
        assert again.start(replayed) == frozenset({1})
        assert replayed.end_of(1).status is JobStatus.DONE
    finally:
        again.close()


def test_a_host_stays_while_a_job_runs_without_engine(state_dir: Path, tmp_path: Path) -> None:
    adapter = LocalScheduler(state_dir, idle_timeout=0.2)
    sink = Recorder()
    adapter.start(sink)
    adapter.submit([request(tmp_path, 1, "sleep", "1.5")])
    sink.running(1)
    adapter.close()
    time.sleep(0.8)
    host = live_host(StateLayout(state_dir))
    assert host is not None, "the host left while its job ran"
    wait_until(lambda: is_gone(host), timeout=10)  # the job ended: now it leaves


def test_the_socket_and_journal_are_private(
    scheduler: LocalScheduler, recorder: Recorder, state_dir: Path, tmp_path: Path
) -> None:
    scheduler.submit([request(tmp_path, 1, "true")])
    recorder.end_of(1)
    layout = StateLayout(state_dir)
    assert stat.S_IMODE(layout.socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.journal.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700


def test_a_long_state_directory_path_still_works(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "jobhost"
    adapter = LocalScheduler(deep, idle_timeout=30)
    sink = Recorder()
    try:
        adapter.start(sink)
        adapter.submit([request(tmp_path, 1, "true")])
        assert sink.end_of(1).status is JobStatus.DONE
    finally:
        adapter.shutdown_host()


# -- the journal ------------------------------------------------------------------------


def test_the_journal_is_compacted_to_what_is_live(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    journal = Journal(path)
    for job_id in range(1, 6001):
        pid = job_id + 100
        spawned = f'["S",{job_id},{pid},1.5]\n'
        ended = f'["E",{job_id},{pid},"finished_regularly",0,null,null,1.5,2.5]\n'
        journal.append((spawned + ended).encode(), 2)
        journal.append(f'["A",{job_id}]\n'.encode(), 1)
    journal.append(b'["S",7000,7100,3.0]\n', 1)
    assert journal.needs_compaction(live_records=1)

    journal.rewrite(['["S",7000,7100,3.0]\n'])

    state = read_journal(path)
    assert list(state.running) == [7000] and state.ended == {}
    assert path.stat().st_size < 100


def test_a_journal_cut_by_a_crash_is_read_up_to_the_cut(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    path.write_text(
        '["S",1,101,1.0]\n["S",2,102,1.0]\n'
        '["E",1,101,"finished_regularly",0,null,"cput=0.000 mem=1kb walltime=0.100",1.0,1.1]\n'
        '["E",2,102,"finished_reg'
    )

    state = read_journal(path)

    assert list(state.running) == [2]
    assert json.loads(state.ended[1])[3] == "finished_regularly"


def test_an_acknowledgement_alone_reaches_the_host_soon(
    scheduler: LocalScheduler, recorder: Recorder, state_dir: Path, tmp_path: Path
) -> None:
    scheduler.submit([request(tmp_path, 1, "true")])
    recorder.end_of(1)

    scheduler.acknowledge([1])  # no request follows to carry it

    def forgotten() -> bool:
        observer = LocalScheduler(state_dir, idle_timeout=30)
        held = observer.start(Recorder())
        observer.close()
        return held == frozenset()

    wait_until(forgotten, timeout=5)


def test_an_adapter_can_close_and_start_again(
    scheduler: LocalScheduler, recorder: Recorder, tmp_path: Path
) -> None:
    scheduler.submit([request(tmp_path, 1, "sleep", "0.3")])
    recorder.running(1)
    scheduler.close()

    again = Recorder()
    assert scheduler.start(again) == frozenset({1})
    assert again.end_of(1).status is JobStatus.DONE


def test_shutdown_host_says_when_there_was_no_host(state_dir: Path) -> None:
    adapter = LocalScheduler(state_dir)
    assert adapter.shutdown_host() is False
    adapter.start(Recorder())
    assert adapter.shutdown_host() is True
    assert live_host(StateLayout(state_dir)) is None


def test_a_pid_file_naming_a_reused_pid_is_not_a_live_host(state_dir: Path) -> None:
    layout = StateLayout(state_dir)
    layout.ensure()
    me = psutil.Process()
    layout.pid_file.write_text(json.dumps({"pid": me.pid, "create_time": me.create_time() - 50}))

    assert live_host(layout) is None
    assert shutdown_host(layout) is False  # and nobody was signalled: we are still here
