"""The PBS stand-in seen from a test: a state directory, ``qsub``/``qstat``/``qdel`` shims
to put first on the PATH, and the fake server process (``fakepbs.py``), started and
stopped by PID. A test can freeze the scheduler, make the server stall or go down, and
read every job's state and the calls made."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swf_adapters.schedulers.pbspro import Pbs

FAKE = Path(__file__).with_name("fakepbs.py")
COMMANDS = ("qsub", "qstat", "qdel")


class PbsStandIn:
    """One stand-in server; ``flavor`` is ``pbspro`` or ``torque``."""

    def __init__(
        self,
        root: Path,
        flavor: str = "pbspro",
        cores: int = 8,
        history: float = 0.0,
        queues: tuple[str, ...] = ("workq", "short", "long"),
    ) -> None:
        self.root, self.flavor = root, flavor
        self.bin = root / "bin"
        self.server: subprocess.Popen[bytes] | None = None
        for sub in ("jobs", "spool", "home", "bin"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        config = {
            "flavor": flavor,
            "server": "standin",
            "cores": cores,
            "mem_kb": 64 * 1024 * 1024,
            "history": history,
            "queues": list(queues),
        }
        (root / "server.json").write_text(json.dumps(config))
        for command in COMMANDS:
            self._shim(command)

    def _shim(self, command: str) -> None:
        shim = self.bin / command
        shim.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" -S -E "{FAKE}" --state "{self.root}" '
            f'{command} "$@"\n'
        )
        shim.chmod(0o755)

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (os.environ) with the shims first on the PATH."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def start(self) -> None:
        self.server = subprocess.Popen(
            [sys.executable, str(FAKE), "--state", str(self.root), "serve"],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self) -> None:
        """End the server we started (it kills the job process groups it runs)."""
        if self.server is None:
            return
        self.resume()
        if self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
        try:
            self.server.wait(30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait(10)
        self.server = None

    # -- driving the state machine --------------------------------------------------

    def freeze(self) -> None:
        """The scheduler starts nothing more: queued tasks stay queued."""
        (self.root / "frozen").touch()

    def thaw(self) -> None:
        (self.root / "frozen").unlink(missing_ok=True)

    def pause(self) -> None:
        """Every command waits until ``resume`` (a server that does not answer)."""
        (self.root / "paused").touch()

    def resume(self) -> None:
        (self.root / "paused").unlink(missing_ok=True)

    def go_down(self) -> None:
        (self.root / "down").touch()

    def come_up(self) -> None:
        (self.root / "down").unlink(missing_ok=True)

    # -- reading it --------------------------------------------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        found = []
        for path in sorted((self.root / "jobs").glob("*.json")):
            found.append(json.loads(path.read_text()))
        return found

    def task_states(self) -> dict[str, str]:
        """``1000[3]`` -> state letter, for every task the server still holds."""
        states = {}
        for job in self.jobs():
            for index, task in job["tasks"].items():
                name = (
                    f"{job['number']}[{index}]" if job["array"] is not None else str(job["number"])
                )
                states[name] = task["state"]
        return states

    def calls(self) -> Counter[str]:
        log = self.root / "calls.log"
        return Counter(log.read_text().split()) if log.exists() else Counter()

    def wait_for(self, condition: Any, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return bool(condition())


def pbs_system(standin: PbsStandIn) -> Pbs:
    """The adapter's system on the stand-in's shims (absolute paths: no PATH change)."""
    from swf_adapters.schedulers.pbspro import Flavor, Pbs

    flavor = Flavor.PBSPRO if standin.flavor == "pbspro" else Flavor.TORQUE
    shims = {name: str(standin.bin / name) for name in COMMANDS}
    return Pbs(flavor, **shims)
