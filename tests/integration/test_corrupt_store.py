"""A damaged store is reported clearly and left alone, never replaced by an empty one.

Real SQLite files, damaged the ways a disk, a crash or a careless job damages them:
truncated, overwritten with garbage, header zeroed; and some other program's database.
Opening one gives ``CorruptStoreError`` naming the file and what to do, from the store,
from an embedded controller and from the ``swf`` command (one line, exit 4, no
traceback); the file keeps every byte it had.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from swf_adapters.store import SqlAlchemyStore
from swf_domain.errors import ConfigurationError, CorruptStoreError
from swf_entry.client import WorkflowController
from tests.integration.cli_fixtures import SwfHome, swf_home, wait_until
from tests.integration.store_fixtures import new_workflow


def _store_with_history(file: Path) -> None:
    store = SqlAlchemyStore(f"sqlite:///{file}")
    try:
        for _ in range(3):
            store.add_workflow(new_workflow(300))
    finally:
        store.close()
    assert file.stat().st_size > 16 * 1024


def _truncate_to(fraction: float) -> Callable[[Path], None]:
    def damage(file: Path) -> None:
        os.truncate(file, int(file.stat().st_size * fraction) // 4096 * 4096 or 100)

    return damage


def _garbage(file: Path) -> None:
    file.write_bytes(os.urandom(file.stat().st_size))


def _zeroed_header(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[:100] = bytes(100)
    file.write_bytes(bytes(data))


def _oops(file: Path) -> None:
    """What ``Job(['echo', 'oops'], stdout_file='swf.db')`` did before swf refused it."""
    file.write_bytes(b"oops\n")


def _foreign(file: Path) -> None:
    file.unlink()
    with sqlite3.connect(file) as connection:
        connection.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
        connection.execute("INSERT INTO photos (path) VALUES ('holiday.jpg')")


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated to one page": _truncate_to(0.0),
    "truncated by half": _truncate_to(0.5),
    "garbage": _garbage,
    "header zeroed": _zeroed_header,
    "overwritten by a job": _oops,
    "another program's database": _foreign,
}


@pytest.fixture(params=list(DAMAGES))
def damaged(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, bytes]]:
    """A store file with history, then damaged; and its bytes after the damage."""
    file = tmp_path / "state" / "swf.db"
    file.parent.mkdir()
    _store_with_history(file)
    for suffix in ("-wal", "-shm"):
        Path(f"{file}{suffix}").unlink(missing_ok=True)
    DAMAGES[request.param](file)
    yield file, file.read_bytes()


def _assert_clear(message: str, file: Path) -> None:
    assert str(file) in message
    assert "swf left it as it is" in message
    assert "mv " in message or "move the file aside" in message
    assert "sqlite3.DatabaseError" not in message and "Traceback" not in message


def test_the_store_refuses_a_damaged_file_and_leaves_it_alone(
    damaged: tuple[Path, bytes],
) -> None:
    file, before = damaged
    with pytest.raises(CorruptStoreError) as raised:
        SqlAlchemyStore(f"sqlite:///{file}")
    assert isinstance(raised.value, ConfigurationError)
    _assert_clear(str(raised.value), file)
    assert file.read_bytes() == before


def test_an_embedded_controller_says_the_same(
    damaged: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    file, before = damaged
    monkeypatch.chdir(file.parent.parent)
    with pytest.raises(CorruptStoreError) as raised:
        WorkflowController(isolated_light_mode=str(file.parent))
    _assert_clear(str(raised.value), file)
    assert file.read_bytes() == before


@pytest.fixture
def cli_home() -> Iterator[SwfHome]:
    with swf_home() as home:
        yield home


@pytest.mark.parametrize("damage", ["truncated by half", "garbage", "overwritten by a job"])
def test_every_command_says_which_file_and_what_to_do(cli_home: SwfHome, damage: str) -> None:
    file = cli_home.root / "swf.db"
    _store_with_history(file)
    DAMAGES[damage](file)
    before = file.read_bytes()
    for command in (["list"], ["status", "1"], ["submit", str(_tiny_workflow(cli_home))]):
        result = cli_home.swf(*command)
        assert result.code == 4, str(result)
        lines = result.err.strip().splitlines()
        assert len(lines) == 1, str(result)
        _assert_clear(lines[0], file)
        assert file.read_bytes() == before
    # The engine that found the damage exits on its own: no process stays behind.
    assert wait_until(lambda: not cli_home.processes(), 15), cli_home.processes()
    file.unlink()  # so that the home closes without an engine to stop


def _tiny_workflow(home: SwfHome) -> Path:
    return home.write("tiny.json", '{"jobs": [0], "serialized_jobs": {"0": {"command": ["true"]}}}')
