"""The copier between two disjoint directory trees: files, directories, resume, verify,
and every way a name could escape its transfer directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swf_adapters.transfer.local_tree import LocalTree
from swf_app import transfer_copy
from swf_app.transfer_copy import PART_SUFFIX, copy_tree
from swf_domain.errors import TransferError, TransferEscapeError

TREE = LocalTree()


@pytest.fixture
def sides(tmp_path: Path) -> tuple[Path, Path]:
    client, resource = tmp_path / "client", tmp_path / "resource"
    client.mkdir()
    resource.mkdir()
    return client, resource


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_a_file_is_copied_with_progress(sides: tuple[Path, Path]) -> None:
    client, resource = sides
    data = os.urandom(3 * transfer_copy.CHUNK + 17)
    (client / "in.bin").write_bytes(data)
    seen: list[tuple[int, int]] = []
    copied = copy_tree(
        TREE, str(client / "in.bin"), TREE, str(resource / "in.bin"), lambda *a: seen.append(a)
    )
    assert copied == len(data)
    assert (resource / "in.bin").read_bytes() == data
    assert seen[-1] == (len(data), len(data))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert not list(resource.glob("*" + PART_SUFFIX))


def test_a_directory_is_copied_both_ways(sides: tuple[Path, Path]) -> None:
    client, resource = sides
    (client / "d" / "sub" / "deeper").mkdir(parents=True)
    (client / "d" / "a.txt").write_text("a")
    (client / "d" / "sub" / "b.txt").write_text("b" * 5000)
    (client / "d" / "sub" / "deeper" / "empty").write_bytes(b"")
    copy_tree(TREE, str(client / "d"), TREE, str(resource / "d"))
    assert _tree(resource / "d") == _tree(client / "d")
    (resource / "d" / "sub" / "new.txt").write_text("made on the resource")
    copy_tree(TREE, str(resource / "d"), TREE, str(client / "back"))
    assert _tree(client / "back") == _tree(resource / "d")


def test_an_interrupted_copy_resumes_from_its_part(sides: tuple[Path, Path]) -> None:
    client, resource = sides
    data = os.urandom(2 * transfer_copy.CHUNK + 5)
    (client / "big").write_bytes(data)
    (resource / ("big" + PART_SUFFIX)).write_bytes(data[: transfer_copy.CHUNK])
    seen: list[int] = []
    copy_tree(TREE, str(client / "big"), TREE, str(resource / "big"), lambda d, t: seen.append(d))
    assert (resource / "big").read_bytes() == data
    assert seen[0] == transfer_copy.CHUNK  # the kept part counts as done at once


def test_a_corrupt_part_is_copied_again_from_zero(sides: tuple[Path, Path]) -> None:
    client, resource = sides
    data = os.urandom(transfer_copy.CHUNK + 5)
    (client / "big").write_bytes(data)
    (resource / ("big" + PART_SUFFIX)).write_bytes(b"x" * 100)  # not the source's bytes
    copy_tree(TREE, str(client / "big"), TREE, str(resource / "big"))
    assert (resource / "big").read_bytes() == data


def test_a_longer_part_is_discarded(sides: tuple[Path, Path]) -> None:
    client, resource = sides
    (client / "f").write_bytes(b"short")
    (resource / ("f" + PART_SUFFIX)).write_bytes(b"much longer than the source")
    copy_tree(TREE, str(client / "f"), TREE, str(resource / "f"))
    assert (resource / "f").read_bytes() == b"short"


def test_files_already_there_are_not_copied_again(sides: tuple[Path, Path]) -> None:
    client, resource = sides
    (client / "d").mkdir()
    for index in range(5):
        (client / "d" / f"f{index}").write_bytes(os.urandom(1000))
    copy_tree(TREE, str(client / "d"), TREE, str(resource / "d"))
    os.utime(resource / "d" / "f0", (0, 0))
    (resource / "d" / "f1").write_bytes(b"changed!" * 125)  # same size, other bytes
    copy_tree(TREE, str(client / "d"), TREE, str(resource / "d"))
    assert os.stat(resource / "d" / "f0").st_mtime == 0  # kept: same bytes
    assert _tree(resource / "d") == _tree(client / "d")  # f1 copied again


class _Flipping(LocalTree):
    """A target whose writes corrupt the first byte (a broken link, a full disk)."""

    def __init__(self, times: int) -> None:
        self.times = times

    def open_write(self, path: str, append: bool, size: int = 0) -> object:  # type: ignore[override]
        stream = super().open_write(path, append, size)
        tree = self

        class Writer:
            def write(self, data: bytes) -> int:
                if tree.times > 0 and data:
                    tree.times -= 1
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                return stream.write(data)

            def close(self) -> None:
                stream.close()

        return Writer()


def test_a_bad_copy_is_retried_once_then_refused(sides: tuple[Path, Path]) -> None:
    client, resource = sides
    (client / "f").write_bytes(b"payload")
    copy_tree(TREE, str(client / "f"), _Flipping(1), str(resource / "f"))
    assert (resource / "f").read_bytes() == b"payload"
    with pytest.raises(TransferError, match="differs from its source"):
        copy_tree(TREE, str(client / "f"), _Flipping(2), str(resource / "g"))
    assert not (resource / "g").exists()


def test_a_symlink_inside_an_uploaded_directory_is_refused(sides: tuple[Path, Path]) -> None:
    client, resource = sides
    (client / "d").mkdir()
    (client / "d" / "ok").write_text("ok")
    (client / "d" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(TransferEscapeError) as raised:
        copy_tree(TREE, str(client / "d"), TREE, str(resource / "d"))
    assert raised.value.path == str(client / "d" / "passwd")
    assert "link" in str(raised.value)
    assert not (resource / "d" / "ok").exists()  # refused before anything is written


def test_a_symlinked_directory_is_refused(sides: tuple[Path, Path]) -> None:
    client, resource = sides
    (client / "d").mkdir()
    (client / "d" / "etc").symlink_to("/etc", target_is_directory=True)
    with pytest.raises(TransferEscapeError, match="etc"):
        copy_tree(TREE, str(client / "d"), TREE, str(resource / "d"))


def test_a_link_planted_at_the_target_is_refused(sides: tuple[Path, Path]) -> None:
    """A job on the resource made a link where a downloaded file goes: not followed."""
    client, resource = sides
    (resource / "d").mkdir()
    (resource / "d" / "out").write_text("result")
    outside = client / "victim"
    outside.write_text("keep me")
    (client / "back").mkdir()
    (client / "back" / "out").symlink_to(outside)
    with pytest.raises(TransferEscapeError, match="out"):
        copy_tree(TREE, str(resource / "d"), TREE, str(client / "back"))
    assert outside.read_text() == "keep me"


def test_a_missing_source_is_named(sides: tuple[Path, Path]) -> None:
    client, resource = sides
    with pytest.raises(TransferError, match="nothing"):
        copy_tree(TREE, str(client / "nothing"), TREE, str(resource / "x"))
