"""``swf schedulers`` on PBS: why pbspro cannot run here (no qsub; Grid Engine's qstat
first on the PATH) and that it can on the stand-in, with the dialect it found."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pbs.standin import PbsStandIn


def pbspro_row(path: str, home: Path) -> dict[str, object]:
    env = dict(os.environ, PATH=path, HOME=str(home))
    shown = subprocess.run(
        [sys.executable, "-m", "swf_entry.cli", "schedulers", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    rows = json.loads(shown.stdout)
    (row,) = [row for row in rows if row["type"] == "pbspro"]
    assert isinstance(row, dict)
    return row


def test_without_qsub_pbspro_says_what_is_missing(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    row = pbspro_row(str(empty), tmp_path)
    assert row["runs_here"] is False
    assert row["reason"] == "qsub, qstat, qdel not found on the PATH"


@pytest.mark.parametrize("flavor", ["pbspro", "torque"])
def test_on_the_stand_in_pbspro_runs_with_the_dialect_qstat_names(
    flavor: str, tmp_path: Path
) -> None:
    standin = PbsStandIn(tmp_path / "pbs", flavor)  # --version needs no server process
    row = pbspro_row(standin.environment()["PATH"], tmp_path)
    word = "PBS Pro" if flavor == "pbspro" else "Torque"
    assert row["runs_here"] is True and str(row["reason"]).startswith(f"{word}: qsub at ")
