"""The four special path tables (``serialized_file_transfers``...): fields and kinds.

An entry holds its path's own fields and ``pattern``; a pattern copy of another entry
(``'pre' + tmp``) also names its referent's entry under ``REFERENT_KEY`` (swf only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..model import FileTransfer, OptionPath, SharedResourcePath, SpecialPath, TemporaryPath
from ._fields import (
    DEFAULT_DISPOSAL,
    check_bool,
    check_int,
    check_opt_int,
    check_opt_str,
    check_opt_str_list,
    check_str,
    constant,
    got,
)
from ._values import Bad

#: Key of a special path entry that is a pattern copy of another entry (swf only).
REFERENT_KEY: Final = "swf_referent"


def check_pattern(raw: Any, paths: object = None) -> str:
    if isinstance(raw, str):
        try:
            raw % ("",)
            return str(raw)
        except (TypeError, ValueError):
            pass
    raise got("a string with one %s (and %% for a percent sign)", raw)


@dataclass(frozen=True, slots=True)
class PathKind:
    """One table of special paths: its key, class, fields (in soma's order) and label."""

    table: str
    path_class: type[SpecialPath]
    label: str
    fields: tuple[tuple[str, Callable[[Any], Any], Callable[[], Any]], ...]
    #: Builds a new referent from decoded fields (the copies are made from it).
    make: Callable[[dict[str, Any]], SpecialPath]


def make_transfer(values: dict[str, Any]) -> SpecialPath:
    return FileTransfer(values["initial_status"] == "on client side")


def make_shared(values: dict[str, Any]) -> SpecialPath:
    return SharedResourcePath(values["relative_path"])


def make_temporary(values: dict[str, Any]) -> SpecialPath:
    return TemporaryPath()


def make_option(values: dict[str, Any]) -> SpecialPath:
    return OptionPath()


def required(key: str) -> Callable[[], Any]:
    def missing() -> Any:
        raise Bad("is missing")

    return missing


OPT_STR_LIST = check_opt_str_list
PATH_KINDS: Final = (
    PathKind(
        "serialized_file_transfers",
        FileTransfer,
        "file transfer",
        (
            ("client_path", check_opt_str, constant(None)),
            ("client_paths", OPT_STR_LIST, constant(None)),
            ("initial_status", check_str, constant("on client side")),
            ("disposal_timeout", check_int, constant(DEFAULT_DISPOSAL)),
            ("name", check_opt_str, constant(None)),
        ),
        make_transfer,
    ),
    PathKind(
        "serialized_shared_res_paths",
        SharedResourcePath,
        "shared resource path",
        (
            ("relative_path", check_str, required("relative_path")),
            ("namespace", check_opt_str, constant(None)),
            ("uuid", check_opt_str, constant(None)),
            ("disposal_timeout", check_opt_int, constant(DEFAULT_DISPOSAL)),
        ),
        make_shared,
    ),
    PathKind(
        "serialized_temporary_paths",
        TemporaryPath,
        "temporary path",
        (
            ("is_directory", check_bool, constant(False)),
            ("disposal_timeout", check_int, constant(DEFAULT_DISPOSAL)),
            ("name", check_opt_str, constant(None)),
            ("suffix", check_str, constant("")),
        ),
        make_temporary,
    ),
    PathKind(
        "serialized_option_paths",
        OptionPath,
        "option path",
        (
            # parent_type and parent_path are read apart: the parent may be a path
            ("uri", check_str, constant("")),
            ("name", check_opt_str, constant(None)),
        ),
        make_option,
    ),
)
OPTION_KIND: Final = PATH_KINDS[3]
PARENT_KEYS: Final = ("parent_type", "parent_path")


def path_kind_of(path: SpecialPath) -> PathKind:
    for kind in PATH_KINDS:
        if isinstance(path, kind.path_class):
            return kind
    raise Bad(f"holds a special path of unknown kind {type(path).__name__}")
