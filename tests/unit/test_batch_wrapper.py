"""The job wrapper of the batch schedulers, run as compute nodes run it (a subprocess)."""

from __future__ import annotations

import json
import marshal
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from swf_adapters.schedulers.batch import wrapper
from swf_adapters.schedulers.batch.adapter import end_exit_info
from swf_domain.status import ExitStatus

WRAPPER = wrapper.__file__


def table(tmp_path: Path, *argvs: list[str], **extra: Any) -> Path:
    tasks = [
        {
            "job": 10 + i,
            "argv": argv,
            "env": {"SWF_TEST_VALUE": f"v{i}"},
            "cwd": str(tmp_path),
            "stdout": str(tmp_path / f"{i}.out"),
            "stderr": str(tmp_path / f"{i}.err"),
            "stdin": None,
            "end": str(tmp_path / f"{i}.end"),
            **extra,
        }
        for i, argv in enumerate(argvs)
    ]
    path = tmp_path / "table.marshal"
    path.write_bytes(marshal.dumps({"tasks": tasks}, 4))
    return path


def run_task(path: Path, index: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, TASK_INDEX=str(index))
    return subprocess.Popen([sys.executable, WRAPPER, str(path), "TASK_INDEX"], env=env)


def end_of(tmp_path: Path, index: int) -> dict[str, Any]:
    record = json.loads((tmp_path / f"{index}.end").read_text())
    assert isinstance(record, dict)
    return record


def test_task_found_by_index_runs_without_shell_and_records_its_end(tmp_path: Path) -> None:
    path = table(
        tmp_path,
        ["true"],
        [
            sys.executable,
            "-c",
            "import os,sys; print(os.environ['SWF_TEST_VALUE'], '$HOME'); sys.exit(3)",
        ],
    )
    assert run_task(path, 1).wait(30) == 0
    assert not (tmp_path / "0.end").exists()
    record = end_of(tmp_path, 1)
    assert record["exit_value"] == 3 and record["signal"] is None and record["job"] == 11
    assert record["end"] >= record["start"] and record["wall"] >= 0 and record["maxrss_kb"] > 0
    assert (tmp_path / "1.out").read_text() == "v1 $HOME\n"  # no shell expanded it
    info = end_exit_info(record, killed=False)
    assert info.exit_status is ExitStatus.FINISHED_REGULARLY and info.exit_value == 3
    assert info.resource_usage is not None and info.resource_usage.startswith("cput=")


def test_a_one_task_batch_runs_without_an_index_variable_a_larger_one_refuses(
    tmp_path: Path,
) -> None:
    """PBS Pro submits a one-task batch as a plain job (no PBS_ARRAY_INDEX)."""
    env = {k: v for k, v in os.environ.items() if k != "TASK_INDEX"}
    single = table(tmp_path, ["true"])
    argv = [sys.executable, WRAPPER, str(single), "TASK_INDEX"]
    assert subprocess.run(argv, env=env, check=False).returncode == 0
    assert end_of(tmp_path, 0)["exit_value"] == 0
    (tmp_path / "0.end").unlink()
    double = table(tmp_path, ["true"], ["true"])
    argv = [sys.executable, WRAPPER, str(double), "TASK_INDEX"]
    done = subprocess.run(argv, env=env, check=False, capture_output=True, text=True)
    assert done.returncode != 0 and "TASK_INDEX is not set in a 2-task batch" in done.stderr
    assert not (tmp_path / "0.end").exists()


def test_missing_command_ends_127_with_the_reason_in_stderr(tmp_path: Path) -> None:
    path = table(tmp_path, ["swf-no-such-command-xyz"])
    assert run_task(path, 0).wait(30) == 0
    assert end_of(tmp_path, 0)["exit_value"] == 127
    assert "swf-no-such-command-xyz" in (tmp_path / "0.err").read_text()


def test_sigterm_is_passed_to_the_task_and_recorded(tmp_path: Path) -> None:
    path = table(tmp_path, ["sleep", "60"])
    process = run_task(path, 0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _runs_sleep(process.pid):
        time.sleep(0.05)
    # The task itself, exec'd: a signal at any earlier moment is the next test's case.
    assert _runs_sleep(process.pid), "the task did not start within 60 s"
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    record = end_of(tmp_path, 0)
    assert record["signal"] == signal.SIGTERM and record["exit_value"] is None
    assert end_exit_info(record, killed=True).exit_status is ExitStatus.USER_KILLED
    assert end_exit_info(record, killed=False).exit_status is ExitStatus.FINISHED_TERM_SIG


_SIGTERM_JUST_BEFORE_THE_FORK = """
import os, runpy, signal, sys
real = signal.pthread_sigmask
def mask_then_sigterm(how, mask):
    old = real(how, mask)
    if how == signal.SIG_BLOCK:  # between the block and the fork
        os.kill(os.getpid(), signal.SIGTERM)
    return old
signal.pthread_sigmask = mask_then_sigterm
sys.argv = [sys.argv[1], sys.argv[2], "-"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_a_sigterm_handled_just_before_the_fork_is_not_lost(tmp_path: Path) -> None:
    """A signal that comes when no task exists yet must stop the task from starting:
    there is nothing to forward it to (it once slipped through, the task ran)."""
    path = table(tmp_path, ["sleep", "60"])
    argv = [sys.executable, "-c", _SIGTERM_JUST_BEFORE_THE_FORK, WRAPPER, str(path)]
    assert subprocess.run(argv, check=False, timeout=30).returncode == 0
    record = end_of(tmp_path, 0)
    assert record["signal"] == signal.SIGTERM and record["received"] == signal.SIGTERM
    assert record["exit_value"] is None and record["cpu"] == 0.0


def _runs_sleep(pid: int) -> bool:
    """The wrapper's child has exec'd the task (before that it is a copy of Python)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return any(Path(f"/proc/{c}/cmdline").read_bytes().startswith(b"sleep\0") for c in children)
    except OSError:
        return False


def test_a_sigterm_at_any_moment_of_the_start_never_leaves_the_task_running(
    tmp_path: Path,
) -> None:
    """Before the handlers exist the wrapper dies (no task started); after, the task gets
    the signal, even between fork and exec: never a task left running, never a hang."""
    for attempt, delay in enumerate([0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15]):
        root = tmp_path / str(attempt)
        root.mkdir()
        path = table(root, ["sleep", "60"])
        process = run_task(path, 0)
        time.sleep(delay)
        process.send_signal(signal.SIGTERM)
        code = process.wait(15)  # a task left running would keep the wrapper for 60 s
        end = root / "0.end"
        if end.exists():
            record = end_of(root, 0)
            assert code == 0 and (record["signal"] == signal.SIGTERM or record["received"]), record
        else:
            assert code == -signal.SIGTERM
