"""soma-workflow 6.0.13, the test oracle, kept apart from swf's own ``soma_workflow``.

swf installs a ``soma_workflow`` package of its own (thin aliases of its modules, so a
soma script runs unchanged), so the real soma-workflow cannot live in the same
environment under the same name. It is installed once, with ``pip install --target``,
into ``.soma-oracle/`` at the repository root (``$SWF_SOMA_ORACLE`` overrides the
place), and made importable only where a test asks for the oracle:

- in the pytest process, ``tests/conftest.py`` puts that directory first on ``sys.path``,
  so the in-process comparisons (``import soma_workflow`` in test modules) get the real
  soma-workflow; tests of swf's alias therefore run their scripts in subprocesses;
- a subprocess gets it with ``oracle_env()`` (``PYTHONPATH`` first), or swf's alias
  without it.

``ensure()`` is idempotent (a marker file says the install completed) and safe when two
processes race (a lock file); ``scripts/test.sh`` calls it before the suite.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = "6.0.13"
REQUIREMENT = f"soma-workflow=={VERSION}"
_MARKER = ".installed"


def oracle_dir() -> Path:
    configured = os.environ.get("SWF_SOMA_ORACLE")
    return Path(configured) if configured else ROOT / ".soma-oracle"


def ensure() -> Path:
    """The oracle's directory, installing soma-workflow there on first use."""
    target = oracle_dir()
    if _installed(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{target}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(target):
            return target
        done = subprocess.run(
            [*_PIP, "--upgrade", "--target", str(target), REQUIREMENT],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"cannot install the soma-workflow oracle:\n{done.stderr}")
        (target / _MARKER).write_text(VERSION)
    return target


_PIP = (sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check")


def _installed(target: Path) -> bool:
    marker = target / _MARKER
    return marker.is_file() and marker.read_text().strip() == VERSION


def oracle_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the oracle importable first."""
    env = dict(os.environ if base is None else base)
    parts = [str(ensure()), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def swf_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` without the oracle on ``PYTHONPATH``: ``soma_workflow`` is swf's alias."""
    env = dict(os.environ if base is None else base)
    oracle = str(oracle_dir())
    kept = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != oracle]
    if kept:
        env["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        env.pop("PYTHONPATH", None)
    return env


def use_in_process() -> None:
    """Make ``import soma_workflow`` in this process the real soma-workflow."""
    path = str(ensure())
    if path not in sys.path:
        sys.path.insert(0, path)
    loaded = sys.modules.get("soma_workflow")
    if loaded is not None and not str(getattr(loaded, "__file__", "")).startswith(path):
        for name in [n for n in sys.modules if n.split(".")[0] == "soma_workflow"]:
            del sys.modules[name]


if __name__ == "__main__":
    print(ensure())
