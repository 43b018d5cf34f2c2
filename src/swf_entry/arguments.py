"""Checks of ``WorkflowController`` arguments, before anything reaches the store or engine.

Each returns the value in the form the link takes, or raises a typed error naming the
argument: ``UnknownObjectError`` for what cannot be an id (as soma-workflow for an
unknown id), ``InvalidArgumentError`` for other wrong types or ranges.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from swf_domain.errors import InvalidArgumentError, UnknownObjectError

#: Ids are 64-bit signed integers in every store.
_MAX_ID = 2**63 - 1
#: A timeout longer than this (or infinite) means "no timeout": threading waits overflow
#: on huge values, and nobody waits a century.
_LONGEST_TIMEOUT = 100 * 365 * 86400.0


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def object_id(value: Any, argument: str) -> int:
    """A workflow or job id: an int of the store's range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnknownObjectError(
            f"{argument} must be an int id, not {type(value).__name__} {_shown(value)}"
        )
    if not 0 <= value <= _MAX_ID:
        raise UnknownObjectError(f"{argument} {_shown(value)}: no such id (ids are 0..2**63-1)")
    return int(value)


def object_ids(values: Any, argument: str) -> list[int]:
    """A sequence of ids (a list, tuple, set, range...; not a string or a mapping)."""
    if isinstance(values, str | bytes | dict) or not isinstance(values, Iterable):
        raise InvalidArgumentError(
            f"{argument} must be a sequence of int ids, not {type(values).__name__}"
        )
    return [object_id(value, f"{argument}[{index}]") for index, value in enumerate(values)]


def optional_ids(values: Any, argument: str) -> list[int] | None:
    return None if values is None else object_ids(values, argument)


def timeout(value: Any, argument: str = "timeout") -> float:
    """Seconds to wait; a negative or infinite value (or None) waits forever (-1)."""
    if value is None:
        return -1.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(
            f"{argument} must be a number of seconds, not {type(value).__name__} {_shown(value)}"
        )
    if isinstance(value, int):
        return -1.0 if value < 0 or value > _LONGEST_TIMEOUT else float(value)
    seconds = value
    if math.isnan(seconds):
        raise InvalidArgumentError(f"{argument} must be a number of seconds, not NaN")
    if seconds < 0 or seconds > _LONGEST_TIMEOUT:
        return -1.0
    return seconds


def date(value: Any, argument: str) -> float | None:
    """A datetime (or None, or an epoch) as an epoch that reads back as a datetime: a
    date the store would keep but no client could show (``datetime.max`` in a timezone
    east of UTC...) is refused here rather than breaking every later ``workflows()``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, datetime | int | float):
        raise InvalidArgumentError(
            f"{argument} must be a datetime or None, not {type(value).__name__} {_shown(value)}"
        )
    try:
        epoch = value.timestamp() if isinstance(value, datetime) else float(value)
        datetime.fromtimestamp(epoch)
    except (OverflowError, OSError, ValueError) as error:
        raise InvalidArgumentError(f"{argument} {_shown(value)} is out of range: {error}") from None
    return epoch


def secret_text(value: Any, argument: str) -> str | None:
    """None or a string, checked without ever showing the value (a password)."""
    if value is None or isinstance(value, str):
        return value
    raise InvalidArgumentError(f"{argument} must be a string or None, not {type(value).__name__}")


def optional_text(value: Any, argument: str) -> str | None:
    """None or a string that can be stored (valid Unicode, no NUL)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"{argument} must be a string or None, not {type(value).__name__} {_shown(value)}"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(f"{argument} {_shown(value)} is not valid Unicode") from None
    if "\x00" in value:
        raise InvalidArgumentError(f"{argument} {_shown(value)} contains a NUL character")
    return value


def flag(value: Any, argument: str) -> bool:
    """A bool (0 and 1 accepted, as soma-workflow's callers pass them)."""
    if isinstance(value, bool) or (type(value) is int and value in (0, 1)):
        return bool(value)
    raise InvalidArgumentError(f"{argument} must be True or False, not {_shown(value)}")


def path(value: Any, argument: str) -> str:
    if isinstance(value, str | os.PathLike):
        text = os.fspath(value)
        if isinstance(text, str) and text and "\x00" not in text:
            return text
    raise InvalidArgumentError(f"{argument} must be a file path, not {_shown(value)}")


def isolation(value: Any, argument: str = "isolated_light_mode") -> bool | str | None:
    """None, True/False, or a directory (a path)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str | os.PathLike):
        return path(value, argument)
    raise InvalidArgumentError(
        f"{argument} must be None, True or a directory, not {type(value).__name__}"
    )


def positive_int(value: Any, argument: str) -> int:
    if type(value) is int and value > 0:
        return value
    raise InvalidArgumentError(f"{argument} must be a positive int, not {_shown(value)}")
