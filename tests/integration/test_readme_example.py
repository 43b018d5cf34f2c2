"""The README's ``pipeline.py`` example works as written, run as the README says.

The Python block is taken from README.md itself (not copied here), written next to a
user's three scripts, and run with ``swf run pipeline.py`` from that directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli_fixtures import SwfHome, swf_home

README = Path(__file__).resolve().parents[2] / "README.md"

SCRIPTS = {
    "prepare.py": "open('prepared.txt', 'w').write('data\\n')\n",
    "step.py": (
        "import sys\n"
        "data = open('prepared.txt').read().strip()\n"
        "open(f'step{sys.argv[1]}.txt', 'w').write(f'{data}-{sys.argv[1]}\\n')\n"
    ),
    "merge.py": (
        "parts = [open(f'step{i}.txt').read().strip() for i in range(10)]\n"
        "open('merged.txt', 'w').write(','.join(parts) + '\\n')\n"
    ),
}


def readme_pipeline() -> str:
    """The README's Python block that starts with ``# pipeline.py``."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    found = [block for block in blocks if block.startswith("# pipeline.py")]
    assert len(found) == 1, "README.md must have one ```python block starting '# pipeline.py'"
    return found[0]


@pytest.fixture
def home() -> Iterator[SwfHome]:
    with swf_home() as made:
        yield made


def test_the_readme_pipeline_runs_as_written(home: SwfHome) -> None:
    (home.files / "pipeline.py").write_text(readme_pipeline())
    for name, text in SCRIPTS.items():
        (home.files / name).write_text(text)
    result = home.swf("run", "pipeline.py", timeout=180)  # from the project directory
    assert result.code == 0, str(result)
    expected = ",".join(f"data-{i}" for i in range(10))
    assert (home.files / "merged.txt").read_text() == expected + "\n"
    assert not any(home.root.glob("*.txt")), "a job wrote into the state directory"
