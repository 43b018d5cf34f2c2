"""Where a transfer's files go, and the rule that no name leaves its transfer directory.

Both sides of a transfer (the client's tree and the resource's transfer directory) are
addressed by a root plus relative names. Every relative name crossing a transfer goes
through ``safe_relative`` first, so a name from a listing, a document or a job's output
directory can never point outside its root, whatever the side.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from .errors import TransferEscapeError


def safe_relative(name: str) -> str:
    """``name`` as a normalised relative POSIX path that stays inside its root.

    Refused (``TransferEscapeError`` naming it): empty, absolute, any ``..`` component,
    NUL, or a backslash (a Windows separator that would mean something else there).
    """
    if not name or "\x00" in name:
        raise TransferEscapeError(name, "is empty or holds a NUL character")
    if "\\" in name:
        raise TransferEscapeError(name, "holds a backslash")
    if name.startswith("/"):
        raise TransferEscapeError(name, "is absolute")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise TransferEscapeError(name, "climbs out of its directory with '..'")
    if not parts:
        raise TransferEscapeError(name, "names its directory itself, not an entry in it")
    return "/".join(parts)


def inside(root: str, name: str) -> str:
    """The path of ``name`` (checked by ``safe_relative``) under ``root``."""
    return posixpath.join(root, safe_relative(name))


def transfer_names(client_path: str | None, client_paths: Sequence[str] | None) -> list[str]:
    """The entry names a transfer puts in its resource directory: the base name of its
    client path, or of each of its ``client_paths`` (a multi-file format)."""
    sources = list(client_paths) if client_paths else [client_path] if client_path else []
    names = [safe_relative(_base_name(source)) for source in sources]
    if len(set(names)) != len(names):
        raise TransferEscapeError(", ".join(sources), "holds two entries of the same name")
    return names


def engine_main_name(client_path: str | None, client_paths: Sequence[str] | None) -> str:
    """The name, inside the transfer directory, a job sees for the transfer: its client
    path's base name (for a multi-file transfer too, as soma-workflow)."""
    if client_path:
        return safe_relative(_base_name(client_path))
    return transfer_names(None, client_paths)[0]


def engine_path(directory: str, client_path: str | None, client_paths: Sequence[str] | None) -> str:
    """A transfer's engine path (soma-workflow's): its data directory for a multi-file
    transfer (jobs see ``<directory>/<base name of client_path>``), else the entry in it."""
    if client_paths:
        transfer_names(client_path, client_paths)  # refuses names that would escape
        return directory
    return posixpath.join(directory, engine_main_name(client_path, client_paths))


def data_directory(engine: str, client_paths: Sequence[str] | None) -> str:
    """The data directory of a transfer whose engine path is ``engine``."""
    return engine if client_paths else posixpath.dirname(engine)


def _base_name(path: str) -> str:
    base = posixpath.basename(path.rstrip("/"))
    if not base:
        raise TransferEscapeError(path, "has no file name to transfer")
    return base
