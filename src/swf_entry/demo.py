"""The built-in example workflow (``swf demo``): a small, realistic, failure-free pipeline.

prepare -> 4 parallel "measure" jobs (in the group "analysis") -> merge -> report. Each job
is a real process that reads and writes files in a scratch directory, so a new user sees
dependencies, a fan-out, a group and outputs without writing anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

from swf_domain.model import Element, Group, Job, Workflow

CHUNKS = 4

_PREPARE = """
import pathlib, random, sys
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
rng = random.Random(42)
for i in range(int(sys.argv[2])):
    (out / f"chunk{i}.txt").write_text("\\n".join(str(rng.random()) for _ in range(20000)))
print("prepared", sys.argv[2], "chunks in", out)
"""

_MEASURE = """
import pathlib, statistics, sys
values = [float(v) for v in pathlib.Path(sys.argv[1]).read_text().split()]
pathlib.Path(sys.argv[2]).write_text(f"{len(values)} {statistics.fmean(values)} {max(values)}")
print("measured", sys.argv[1])
"""

_MERGE = """
import pathlib, sys
rows = [pathlib.Path(p).read_text().split() for p in sys.argv[2:]]
n = sum(int(r[0]) for r in rows)
mean = sum(int(r[0]) * float(r[1]) for r in rows) / n
top = max(float(r[2]) for r in rows)
pathlib.Path(sys.argv[1]).write_text(f"values={n} mean={mean:.4f} max={top:.4f}\\n")
print("merged", len(rows), "summaries")
"""

_REPORT = """
import pathlib, sys
print("report:", pathlib.Path(sys.argv[1]).read_text().strip())
"""


def build_demo_workflow(scratch: Path) -> Workflow:
    """The demo pipeline writing under ``scratch``."""
    python = sys.executable
    data = scratch / "data"
    prepare = Job([python, "-c", _PREPARE, str(data), str(CHUNKS)], name="prepare")
    measures = [
        Job(
            [python, "-c", _MEASURE, str(data / f"chunk{i}.txt"), str(data / f"summary{i}.txt")],
            name=f"measure_{i}",
        )
        for i in range(CHUNKS)
    ]
    summary = scratch / "summary.txt"
    merge = Job(
        [
            python,
            "-c",
            _MERGE,
            str(summary),
            *(str(data / f"summary{i}.txt") for i in range(CHUNKS)),
        ],
        name="merge",
    )
    report = Job([python, "-c", _REPORT, str(summary)], name="report")
    analysis = Group(list(measures), name="analysis")
    dependencies: list[tuple[Element, Element]] = [(prepare, m) for m in measures]
    dependencies += [(m, merge) for m in measures]
    dependencies.append((merge, report))
    return Workflow(
        jobs=[prepare, *measures, merge, report],
        dependencies=dependencies,
        root_group=[prepare, analysis, merge, report],
        name="swf-demo",
    )
