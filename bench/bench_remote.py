"""Remote resource benchmark: the SSH connector against raw SSH, same run, same sshd.

Needs the test sshd (``scripts/services/sshd.sh start DIR``). Phases:

- ``round trip``: the baseline is a raw paramiko channel round trip on an open connection
  (``exec_command("true")`` until its exit status: ``ssh host true`` without the login);
  the measured one is ``workflow_status`` through ``WorkflowController`` on the remote
  resource (Pyro over a direct-streamlocal channel of the same kind of connection).
  Medians; target <= 2x the raw round trip and well under 50 ms.
- ``submit``: one N-job workflow (default 100,000 independent jobs) submitted to the remote
  engine over SSH vs to a local engine daemon (baseline). Target <= 2x.

    .venv/bin/python bench/bench_remote.py [--jobs 100000] [--calls 200]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.integration.ssh_fixtures import SshService, require_sshd, write_remote_config  # noqa: E402

from swf_adapters.transport.ssh import open_ssh  # noqa: E402
from swf_entry.client import Job, Workflow, WorkflowController  # noqa: E402
from swf_entry.composition import ClientOptions, open_controller  # noqa: E402
from swf_entry.daemon import stop_engine  # noqa: E402

#: Both engines run jobs one at a time: the submit is measured, not the jobs' CPU.
ONE_CORE = "1"


def median_ms(calls: int, action: Callable[[], Any]) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def raw_round_trip(sshd: SshService, known_hosts: Path, calls: int) -> float:
    client = open_ssh(sshd.target(known_hosts))

    def true() -> None:
        _, out, _ = client.exec_command("true")
        out.channel.recv_exit_status()

    try:
        median_ms(5, true)
        return median_ms(calls, true)
    finally:
        client.close()


def echo_round_trip(sshd: SshService, known_hosts: Path, calls: int) -> float:
    """The floor: 64 bytes to a remote ``cat`` on an open channel and back."""
    client = open_ssh(sshd.target(known_hosts))
    stdin, stdout, _ = client.exec_command("cat")  # kept: collecting it closes the channel
    channel = stdout.channel

    def echo() -> None:
        channel.sendall(b"x" * 64)
        received = 0
        while received < 64:
            received += len(channel.recv(64 - received))

    try:
        median_ms(5, echo)
        return median_ms(calls, echo)
    finally:
        stdin.close()
        client.close()


def workflow(jobs: int) -> Workflow:
    return Workflow([Job(["true"], name=f"j{i}") for i in range(jobs)], name=f"bench {jobs}")


def timed_submit(controller: WorkflowController, jobs: int) -> float:
    built = workflow(jobs)
    start = time.perf_counter()
    wf_id = controller.submit_workflow(built)
    elapsed = time.perf_counter() - start
    controller.delete_workflow(wf_id, force=True)
    return elapsed


@contextlib.contextmanager
def remote_controller(sshd: SshService, directory: Path) -> Iterator[WorkflowController]:
    config = write_remote_config(sshd, directory, CPU_NB=ONE_CORE)
    controller = WorkflowController("remote", config=str(config))
    link: Any = controller.link
    try:
        yield controller
    finally:
        state_dir = link.connector.endpoint.state_dir
        link.stop_engine()
        link.connector.session.run(["rm", "-rf", state_dir])
        controller.disconnect()


@contextlib.contextmanager
def local_controller(directory: Path) -> Iterator[WorkflowController]:
    config = directory / "local.cfg"
    config.write_text(f"[local]\nCPU_NB = {ONE_CORE}\n")
    home = directory / "local-home"
    controller = open_controller(ClientOptions(home=home, config_file=config))
    try:
        yield controller
    finally:
        controller.disconnect()
        stop_engine(home)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    sshd = require_sshd()
    directory = Path(tempfile.mkdtemp(prefix="swf-bench-remote-"))
    try:
        run(sshd, directory, args.jobs, args.calls)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run(sshd: SshService, directory: Path, jobs: int, calls: int) -> None:
    known_hosts = directory / "known_hosts"
    shutil.copyfile(sshd.known_hosts, known_hosts)
    with remote_controller(sshd, directory) as remote:
        wf_id = remote.submit_workflow(workflow(1))
        remote.workflow_status(wf_id)
        raw = raw_round_trip(sshd, known_hosts, calls)
        echo = echo_round_trip(sshd, known_hosts, calls)
        status = median_ms(calls, lambda: remote.workflow_status(wf_id))
        remote_submit = timed_submit(remote, jobs)
    with local_controller(directory) as local:
        local_submit = timed_submit(local, jobs)
    print(
        f"round trip: raw channel `true` {raw:.2f} ms, status over SSH {status:.2f} ms,"
        f" ratio {status / raw:.2f} (target <= 2, and << 50 ms)"
    )
    print(
        f"round trip floor: 64 bytes echoed by a remote `cat` on an open channel {echo:.2f} ms,"
        f" status over SSH / that = {status / echo:.2f}"
    )
    print(
        f"submit {jobs} jobs: local daemon {local_submit:.2f} s, over SSH {remote_submit:.2f} s,"
        f" ratio {remote_submit / local_submit:.2f} (target <= 2)"
    )


if __name__ == "__main__":
    os.umask(0o077)
    main()
