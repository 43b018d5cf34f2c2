"""LocalOutputReader: bounded reads of a job's output file, from any offset."""

from __future__ import annotations

from pathlib import Path

import pytest

from swf_adapters.workspace.output_reader import LocalOutputReader
from swf_app.ports import WorkspaceError


def test_reads_a_bounded_chunk_from_an_offset_or_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "job.out"
    path.write_bytes(b"0123456789")
    reader = LocalOutputReader()
    assert reader.read(str(path), 2, 3) == (b"234", 2, 10)
    assert reader.read(str(path), -4, 100) == (b"6789", 6, 10)
    assert reader.read(str(path), -40, 2) == (b"01", 0, 10)
    assert reader.read(str(path), 10, 5) == (b"", 10, 10)
    assert reader.read(str(path), 99, 5) == (b"", 99, 10)
    assert reader.read(str(path), 0, 0) == (b"", 0, 10)


def test_a_missing_file_has_no_size(tmp_path: Path) -> None:
    assert LocalOutputReader().read(str(tmp_path / "none"), 5, 10) == (b"", 5, None)


def test_what_cannot_be_read_is_a_typed_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=str(tmp_path)):
        LocalOutputReader().read(str(tmp_path), 0, 10)
