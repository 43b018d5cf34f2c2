"""No name accepted by ``safe_relative`` can leave its root, whatever the text."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swf_domain.errors import TransferEscapeError
from swf_domain.transfer_paths import engine_main_name, inside, safe_relative, transfer_names

ROOT = "/resource/transfers/wf1/t0"
_PIECES = st.sampled_from(["a", "b.txt", "..", ".", "", "/", "c d", "\\", "é", "..."])


@given(st.lists(_PIECES, max_size=8).map("/".join))
def test_accepted_names_stay_inside(name: str) -> None:
    try:
        path = inside(ROOT, name)
    except TransferEscapeError as error:
        assert error.path == name
        return
    assert posixpath.normpath(path).startswith(ROOT + "/")
    assert ".." not in path.split("/")


@given(st.text(max_size=30))
def test_any_text_is_refused_or_inside(name: str) -> None:
    try:
        path = inside(ROOT, name)
    except TransferEscapeError:
        return
    assert posixpath.normpath(path).startswith(ROOT + "/")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("/etc/passwd", "absolute"),
        ("", "empty"),
        ("a\x00b", "NUL"),
        ("a\\..\\b", "backslash"),
        (".", "itself"),
    ],
)
def test_escapes_are_named(name: str, why: str) -> None:
    with pytest.raises(TransferEscapeError, match=why) as raised:
        safe_relative(name)
    assert raised.value.path == name


def test_transfer_names() -> None:
    assert transfer_names("/home/u/in.nii", None) == ["in.nii"]
    assert transfer_names("/home/u/dir/", None) == ["dir"]
    assert transfer_names("/u/a.img", ["/u/a.img", "/u/a.hdr"]) == ["a.img", "a.hdr"]
    assert engine_main_name("/u/a.img", ["/u/a.img", "/u/a.hdr"]) == "a.img"
    with pytest.raises(TransferEscapeError, match="same name"):
        transfer_names(None, ["/x/a.img", "/y/a.img"])
    with pytest.raises(TransferEscapeError, match="no file name"):
        transfer_names("/", None)
