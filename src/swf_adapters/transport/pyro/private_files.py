"""Files only the engine's user may read: the state directory, the key file, engine.json.

The key is the only thing standing between another local user and the engine, so it is
created with mode 0600 from the first byte (``os.open`` with ``O_EXCL``, never a chmod after
the fact) and made visible under its final name by an atomic rename: a reader sees either no
key or a whole key.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from swf_domain.errors import EngineError

KEY_LENGTH = 64  # secrets.token_hex(32)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) or check that an existing one is ours and private."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise EngineError(f"engine state directory {path} is not a directory")
    if info.st_uid != os.getuid():
        raise EngineError(f"engine state directory {path} belongs to uid {info.st_uid}, not to you")
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(0o700)
    return path


def write_private_file(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` atomically, mode 0600 from creation."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    write_private_file(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None if it is missing or not a whole JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check_key_file(path: Path) -> None:
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise EngineError(f"engine key file {path} is not a regular file")
    if info.st_uid != os.getuid():
        raise EngineError(f"engine key file {path} belongs to uid {info.st_uid}, not to you")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise EngineError(
            f"engine key file {path} is readable by other users (mode {mode:o}); "
            "delete it and restart the engine"
        )


def read_key(path: Path) -> str:
    """The engine key stored in ``path``; EngineError naming the file if it cannot be used."""
    try:
        _check_key_file(path)
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise EngineError(
            f"engine key file {path} does not exist (is the engine running?)"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise EngineError(f"cannot read engine key file {path}: {error}") from None
    if len(key) != KEY_LENGTH or any(char not in "0123456789abcdef" for char in key):
        raise EngineError(f"engine key file {path} does not hold a valid key")
    return key


def load_or_create_key(path: Path) -> str:
    """Reuse a valid key (clients of a restarted engine keep working), else make a new one."""
    try:
        return read_key(path)
    except EngineError:
        key = secrets.token_hex(KEY_LENGTH // 2)
        write_private_file(path, key.encode("ascii") + b"\n")
        return key


def check_socket_is_ours(path: Path) -> None:
    """Refuse to send the key to a socket another user could have put there.

    The socket must be owned by this user, in a directory that only this user can write
    (else someone could swap in their own socket and collect the key from the handshake).
    A missing socket passes: connecting will simply fail.
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    uid = os.getuid()
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != uid:
        raise EngineError(
            f"refusing to connect to {path}: not a socket of yours (owner uid {info.st_uid})"
        )
    parent = path.parent.stat()
    if parent.st_uid != uid or stat.S_IMODE(parent.st_mode) & 0o022:
        raise EngineError(
            f"refusing to connect to {path}: its directory {path.parent} can be written by "
            "other users; make it private (chmod 700)"
        )
