"""Bulky plain data across the wire as tagged JSON text, not as serpent literals.

Serpent is the only Pyro serializer the engine accepts (data literals, no code), but its
decoder (``ast.literal_eval``) needs ~13 s for a 100 000-job workflow document. The few
methods that move bulk data (a submitted document, a fetched document, a workflow's element
statuses, the workflow list) therefore carry it as one JSON string inside the serpent
message: JSON is parsed in C, still only data, and a single string literal is cheap for
serpent. Tags keep what JSON would lose, so both sides see exactly the Python values of an
in-process call: ``{"~t": [...]}`` is a tuple, ``{"~d": [[key, value], ...]}`` a dict whose
keys are not all strings (or that would look like a tag).
"""

from __future__ import annotations

import json
from typing import Any

from swf_domain.errors import SerializationError

_SCALARS = frozenset({str, int, float, bool, type(None)})
_TUPLE = "~t"
_DICT = "~d"


def _tag(value: Any) -> Any:
    kind = type(value)
    if kind is list:
        return [item if type(item) in _SCALARS else _tag(item) for item in value]
    if kind is tuple:
        return {_TUPLE: [item if type(item) in _SCALARS else _tag(item) for item in value]}
    if kind is dict:
        return _tag_dict(value)
    if kind in _SCALARS or isinstance(value, str | int | float):
        return value  # str/int enums: JSON writes their value, as serpent would
    raise TypeError(kind.__name__)


def _tag_dict(value: dict[Any, Any]) -> Any:
    plain_keys = all(type(key) is str for key in value)
    if plain_keys and not (len(value) == 1 and (_TUPLE in value or _DICT in value)):
        return {key: item if type(item) in _SCALARS else _tag(item) for key, item in value.items()}
    return {_DICT: [[_tag(key), _tag(item)] for key, item in value.items()]}


def _culprit(value: Any, where: str) -> str:
    """Where the first value that is not plain data sits (only computed on failure)."""
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _culprit(item, f"{where}[{index}]")
            if found:
                return found
        return ""
    if isinstance(value, dict):
        for key, item in value.items():
            found = _culprit(key, f"{where} key {key!r}") or _culprit(item, f"{where}[{key!r}]")
            if found:
                return found
        return ""
    if isinstance(value, str | int | float) or value is None:
        return ""
    return f"{where} ({type(value).__name__})"


def pack(value: Any, what: str = "value") -> str:
    """``value`` (plain data) as tagged JSON text; SerializationError naming what is not."""
    try:
        return json.dumps(_tag(value), separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        where = _culprit(value, what) or what
        raise SerializationError(f"{where} is not plain data and cannot be sent") from None


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if _TUPLE in obj:
            return tuple(obj[_TUPLE])
        if _DICT in obj:
            return {key: item for key, item in obj[_DICT]}
    return obj


def unpack(text: str, what: str = "value") -> Any:
    """The value ``pack`` encoded; SerializationError if ``text`` is not such an encoding."""
    try:
        return json.loads(text, object_hook=_untag)
    except (ValueError, TypeError, RecursionError) as error:
        raise SerializationError(f"{what} received from the wire is corrupt: {error}") from None
