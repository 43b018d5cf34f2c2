"""Transfer benchmark: swf's SFTP copier vs OpenSSH's own ``sftp`` and ``scp``.

Same files, same sshd (the test one: scripts/services/sshd.sh, 127.0.0.1), same run:

- ``big``: one file of ``--big-mb`` MB (random bytes);
- ``small``: ``--small-count`` files of ``--small-kb`` KB in one directory tree.

Each is uploaded (client -> resource) and downloaded (resource -> client) by:

- ``swf``: ``copy_tree`` between ``LocalTree`` and ``SftpTree`` as a transfer does: a
  download of 16 MB or more (upload: 64 MB) through the OpenSSH client
  (``openssh_stream``), smaller ones over paramiko's SFTP; verified (size + SHA-256 on
  both sides, the resource's by its python);
- ``swf-sftp``: the same with paramiko's SFTP only (what a password login gets);
- ``sftp``: OpenSSH ``sftp -b`` with ``put -r`` / ``get -r``;
- ``scp``: OpenSSH ``scp -r`` (SFTP protocol underneath in OpenSSH 9);
- ``scp-gcm``: the same with the AES-GCM cipher swf's ssh streams prefer (OpenSSH's
  default is chacha20-poly1305), for information: ``ratio`` compares with the defaults.

Throughput is MB/s, each of ``--repeat`` rounds reported with its load average and CPU
seconds (this process and its children: ssh, sftp, scp; not sshd's); ``ratio`` = swf /
the faster of sftp and scp in the same round (target >= 0.5).

    .venv/bin/python bench/bench_transfer.py                       # 1 GB, 10,000 files
    .venv/bin/python bench/bench_transfer.py --big-mb 64 --small-count 500   # a quick look
    SSHD_HOME=... SSHD_PORT=... (scripts/services/sshd.sh's variables): another sshd
"""

from __future__ import annotations

import argparse
import os
import posixpath
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import paramiko  # noqa: E402

from swf_adapters.transfer.local_tree import LocalTree  # noqa: E402
from swf_adapters.transfer.openssh_stream import OpenSshStreams  # noqa: E402
from swf_adapters.transfer.sftp_tree import SftpTree  # noqa: E402
from swf_adapters.transport.ssh import SshTarget, open_ssh  # noqa: E402
from swf_app.transfer_copy import copy_tree  # noqa: E402

SERVICE = ROOT / "scripts" / "services" / "sshd.sh"
LOCAL = LocalTree()
#: The cipher swf's ssh streams prefer (OpenSSH's default is chacha20-poly1305).
GCM = ("-c", "aes128-gcm@openssh.com")


def sshd_env() -> dict[str, str]:
    answer = subprocess.run([str(SERVICE), "env"], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in answer.stdout.splitlines() if "=" in line)


class Site:
    """The sshd, a client for swf and the argv prefix for OpenSSH's tools."""

    def __init__(self, env: dict[str, str], known_hosts: Path) -> None:
        self.user, self.host = env["SWF_TEST_SSH_USER"], env["SWF_TEST_SSH_HOST"]
        self.port, self.key = env["SWF_TEST_SSH_PORT"], env["SWF_TEST_SSH_KEY"]
        target = SshTarget(
            self.host, int(self.port), self.user, key_file=Path(self.key), known_hosts=known_hosts
        )
        self.target = target
        self.client: paramiko.SSHClient = open_ssh(target)
        self.options = [
            "-i", self.key, "-o", f"UserKnownHostsFile={known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
        ]  # fmt: skip
        self.home = self.client.open_sftp().normalize(".")

    def tree(self, openssh: bool) -> SftpTree:
        """swf's resource side: big files through ``ssh`` (the default) or SFTP only."""
        streams = OpenSshStreams(self.target) if openssh else None
        return SftpTree(lambda: self.client, openssh=streams)

    def run(self, command: list[str]) -> None:
        _, out, err = self.client.exec_command(shlex.join(command))
        if out.channel.recv_exit_status() != 0:
            raise RuntimeError(err.read().decode())

    def sftp(self, batch: str) -> None:
        argv = ["sftp", "-q", *self.options, "-P", self.port, "-b", "-", self.remote()]
        subprocess.run(argv, input=batch, text=True, check=True, capture_output=True)

    def scp(self, source: str, target: str, *extra: str) -> None:
        argv = ["scp", "-q", "-r", *self.options, *extra, "-P", self.port, source, target]
        subprocess.run(argv, check=True, capture_output=True)

    def remote(self, path: str = "") -> str:
        return f"{self.user}@{self.host}" + (f":{path}" if path else "")


def make_files(root: Path, big_mb: int, count: int, small_kb: int) -> tuple[Path, Path, int, int]:
    big = root / "big.bin"
    with big.open("wb") as stream:
        for _ in range(big_mb):
            stream.write(os.urandom(1 << 20))
    small = root / "small"
    for index in range(count):
        folder = small / f"d{index // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:05d}.bin").write_bytes(os.urandom(small_kb * 1024))
    return big, small, big_mb << 20, count * small_kb * 1024


Tool = tuple[Callable[[], object], Callable[[], object]]  # (action, clean before)


def measure(site: Site, local: Path, name: str, size: int, scratch: Path, repeat: int) -> None:
    """Every tool in turn, ``repeat`` rounds: alternating spreads the machine's load
    over all of them; each round is reported with its load average."""
    remote_dir = posixpath.join(site.home, "bench-transfer")
    remote, back = posixpath.join(remote_dir, name), scratch / "back"

    def clean_remote() -> None:
        site.run(["rm", "-rf", remote_dir])
        site.run(["mkdir", "-p", remote_dir])

    def clean_back() -> None:
        shutil.rmtree(back, ignore_errors=True)
        back.mkdir()

    trees = {"swf": site.tree(True), "swf-sftp": site.tree(False)}
    up: dict[str, Tool] = {
        tool: (lambda t=tree: copy_tree(LOCAL, str(local), t, remote), clean_remote)
        for tool, tree in trees.items()
    }
    up["sftp"] = (lambda: site.sftp(f"put -r {local} {remote}\n"), clean_remote)
    up["scp"] = (lambda: site.scp(str(local), site.remote(remote)), clean_remote)
    up["scp-gcm"] = (lambda: site.scp(str(local), site.remote(remote), *GCM), clean_remote)
    down: dict[str, Tool] = {
        tool: (lambda t=tree: copy_tree(t, remote, LOCAL, str(back / name)), clean_back)
        for tool, tree in trees.items()
    }
    down["sftp"] = (lambda: site.sftp(f"get -r {remote} {back / name}\n"), clean_back)
    down["scp"] = (lambda: site.scp(site.remote(remote), str(back / name)), clean_back)
    down["scp-gcm"] = (lambda: site.scp(site.remote(remote), str(back / name), *GCM), clean_back)
    for round_number in range(1, repeat + 1):
        for direction, tools in (("upload", up), ("download", down)):
            if direction == "download":  # its source, put there once per round
                clean_remote()
                copy_tree(LOCAL, str(local), trees["swf"], remote)
            report(name, direction, round_number, size, {t: timed(*a) for t, a in tools.items()})
    site.run(["rm", "-rf", remote_dir])


def timed(action: Callable[[], object], before: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process and the children it waited for)."""
    before()
    cpu, start = _cpu(), time.perf_counter()
    action()
    return time.perf_counter() - start, _cpu() - cpu


def _cpu() -> float:
    mine, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def report(
    name: str, direction: str, round_number: int, size: int, times: dict[str, tuple[float, float]]
) -> None:
    rates = {tool: size / (1 << 20) / seconds for tool, (seconds, _) in times.items()}
    baseline = max(rates["sftp"], rates["scp"])
    cells = "  ".join(
        f"{tool} {rate:6.1f} MB/s ({times[tool][1]:.1f} s cpu)" for tool, rate in rates.items()
    )
    print(
        f"{name:5s} {direction:8s} round {round_number}  {cells}"
        f"  ratio swf {rates['swf'] / baseline:.2f}  swf-sftp {rates['swf-sftp'] / baseline:.2f}"
        f"  swf/scp-gcm {rates['swf'] / rates['scp-gcm']:.2f}"
        f"  load {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--small-count", type=int, default=10_000)
    parser.add_argument("--small-kb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", choices=("big", "small"), help="Measure one data set.")
    args = parser.parse_args()
    env = sshd_env()
    with tempfile.TemporaryDirectory(prefix="swf-bench-transfer-") as scratch:
        work = Path(scratch)
        known_hosts = work / "known_hosts"
        shutil.copyfile(env["SWF_TEST_SSH_KNOWN_HOSTS"], known_hosts)
        site = Site(env, known_hosts)
        big, small, big_size, small_size = make_files(
            work,
            args.big_mb if args.only != "small" else 0,
            args.small_count if args.only != "big" else 0,
            args.small_kb,
        )
        print(f"big: {args.big_mb} MB; small: {args.small_count} x {args.small_kb} KB", flush=True)
        if args.only != "small":
            measure(site, big, "big", big_size, work, args.repeat)
        if args.only != "big":
            measure(site, small, "small", small_size, work, args.repeat)
        site.client.close()


if __name__ == "__main__":
    main()
