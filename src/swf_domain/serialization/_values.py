"""Values in the document's encoding: ``"<tuple>"``, ``"<set>"``, ``"<undefined>"``, ``"<id>"``.

Decoders take JSON values and return model values, encoders the reverse; a wrong value
raises ``Bad`` with the reason only, and the caller that knows the element and field
makes it a SerializationError. Depth is bounded (``MAX_DEPTH``): a deeper value is
garbage and would exhaust Python's stack. ``PathNumbering`` gives special paths their ids
while writing: one per (referent, pattern), in soma-workflow's order of first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from ..model import SpecialPath

#: Deeper values are refused: they are garbage, and would exhaust Python's stack.
MAX_DEPTH: Final = 200


class Undefined:
    """soma-workflow's ``Undefined`` (``["<undefined>"]``), kept so it round-trips."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = Undefined()


class Bad(Exception):
    """A value is wrong; the caller that knows the element and field adds them.

    ``where`` is the position inside the field (list indexes, dict keys), outermost first.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where: list[int | str] = []

    def inside(self, position: int | str) -> Bad:
        self.where.insert(0, position)
        return self

    def field_message(self, field_name: str) -> str:
        positions = "".join(f"[{p}]" if isinstance(p, int) else f'["{p}"]' for p in self.where)
        return f"field '{field_name}{positions}' {self.reason}"


def show(value: object) -> str:
    """A short JSON-ish rendering of a bad value for a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        text = repr(value)
    except Exception:  # a user object with a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def describe(kind: str, ident: int | str, name: object) -> str:
    return f"{kind} {ident} ({name!r})" if isinstance(name, str) else f"{kind} {ident}"


#: Special paths by id, for resolving ``["<tuple>", "<id>", n]``.
PathsById = dict[int, SpecialPath]


def resolve_path(ident: object, paths: PathsById) -> SpecialPath:
    found = paths.get(ident) if type(ident) is int else None
    if found is None:
        raise Bad(f"refers to unknown special path id {show(ident)}")
    return found


def decode_items(raw: list[Any], start: int, decode: Callable[[Any], Any]) -> list[Any]:
    out = []
    for index in range(start, len(raw)):
        try:
            out.append(decode(raw[index]))
        except Bad as bad:
            raise bad.inside(index) from None
    return out


def decode_value(raw: Any, paths: PathsById | None, depth: int = 0) -> Any:
    """A JSON value with soma's markers decoded; ``"<id>"`` resolved when ``paths``."""
    kind = type(raw)
    if kind is str or kind is int or kind is float or kind is bool or raw is None:
        return raw
    if depth >= MAX_DEPTH:
        raise Bad(f"is nested more than {MAX_DEPTH} levels deep")

    def decode(item: Any) -> Any:
        return decode_value(item, paths, depth + 1)

    if kind is list:
        head = raw[0] if raw else None
        if head == "<tuple>":
            if paths is not None and len(raw) == 3 and raw[1] == "<id>":
                return resolve_path(raw[2], paths)
            return tuple(decode_items(raw, 1, decode))
        if head == "<set>":
            try:
                return set(decode_items(raw, 1, decode))
            except TypeError:
                raise Bad("holds a set of unhashable values") from None
        if head == "<undefined>":
            return UNDEFINED
        return decode_items(raw, 0, decode)
    if kind is dict:
        out = {}
        for key, item in raw.items():
            if type(key) is not str:
                raise Bad(f"has a non-string key {show(key)}")
            try:
                out[key] = decode(item)
            except Bad as bad:
                raise bad.inside(key) from None
        return out
    raise Bad(f"holds {show(raw)}, which is not a JSON value")


def decode_command_item(raw: Any, paths: PathsById, depth: int = 1) -> Any:
    """One element of a command or of a referenced files list (no dict, set or null)."""
    kind = type(raw)
    if kind is str or kind is int or kind is float:
        return raw
    if kind is list and depth < MAX_DEPTH:
        head = raw[0] if raw else None
        if head == "<tuple>":
            if len(raw) == 3 and raw[1] == "<id>":
                return resolve_path(raw[2], paths)
            return tuple(
                decode_items(raw, 1, lambda item: decode_command_item(item, paths, depth + 1))
            )
        if head not in ("<set>", "<undefined>"):
            return decode_items(raw, 0, lambda item: decode_command_item(item, paths, depth + 1))
    if kind is list and depth >= MAX_DEPTH:
        raise Bad(f"is nested more than {MAX_DEPTH} levels deep")
    raise Bad(f"must be a string, a number, a special path, a tuple or a list, got {show(raw)}")


def copy_json(raw: Any, depth: int = 0) -> Any:
    """A deep copy of a plain JSON value (unknown keys are kept verbatim, not decoded)."""
    kind = type(raw)
    if kind is str or kind is int or kind is float or kind is bool or raw is None:
        return raw
    if depth >= MAX_DEPTH:
        raise Bad(f"is nested more than {MAX_DEPTH} levels deep")
    if kind is list:
        return decode_items(raw, 0, lambda item: copy_json(item, depth + 1))
    if kind is dict:
        out = {}
        for key, item in raw.items():
            if type(key) is not str:
                raise Bad(f"has a non-string key {show(key)}")
            try:
                out[key] = copy_json(item, depth + 1)
            except Bad as bad:
                raise bad.inside(key) from None
        return out
    raise Bad(f"holds {show(raw)}, which is not a JSON value")


MARKERS: Final = ("<tuple>", "<set>", "<undefined>")


class PathNumbering:
    """Gives special paths their ids while a workflow is written (one per referent+pattern)."""

    def __init__(self, next_id: int) -> None:
        self.next_id = next_id
        self.ids: dict[tuple[SpecialPath, str], int] = {}
        #: (id, path, id of the referent's entry or None), in id order.
        self.entries: list[tuple[int, SpecialPath, int | None]] = []

    def reference(self, path: SpecialPath) -> list[Any]:
        key = (path.referent(), path.pattern)
        found = self.ids.get(key)
        if found is None:
            found = self._number(path)
        return ["<tuple>", "<id>", found]

    def _number(self, path: SpecialPath) -> int:
        referent = path.referent()
        referent_id: int | None = None
        if path is not referent and path.pattern != referent.pattern:
            if type(referent) is not type(path):
                raise Bad(f"holds a {type(path).__name__} whose referent is not one")
            referent_id = self.ids.get((referent, referent.pattern))
            if referent_id is None:
                referent_id = self._number(referent)
        ident = self.next_id
        self.next_id += 1
        self.ids[(referent, path.pattern)] = ident
        self.entries.append((ident, path, referent_id))
        return ident


def encode_value(value: Any, paths: PathNumbering | None, depth: int = 0) -> Any:
    """``value`` in the document's encoding; special paths only where ``paths`` is given."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if depth >= MAX_DEPTH:
        raise Bad(f"is nested more than {MAX_DEPTH} levels deep (or holds itself)")

    def encode(item: Any) -> Any:
        return encode_value(item, paths, depth + 1)

    if kind is list:
        if value and type(value[0]) is str and value[0] in MARKERS:
            raise Bad(f"holds a list starting with {value[0]!r}, which reads back as a marker")
        return decode_items(value, 0, encode)
    if kind is tuple:
        if len(value) == 2 and value[0] == "<id>" and paths is not None:
            raise Bad("holds a tuple ('<id>', ...), which reads back as a special path")
        return ["<tuple>", *decode_items(list(value), 0, encode)]
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise Bad(f"has a non-string key {show(key)}")
            try:
                out[key] = encode(item)
            except Bad as bad:
                raise bad.inside(key) from None
        return out
    return encode_other(value, paths, encode)


def encode_other(value: Any, paths: PathNumbering | None, encode: Callable[[Any], Any]) -> Any:
    if isinstance(value, SpecialPath):
        if paths is None:
            raise Bad(f"holds a {type(value).__name__}, which only job files may hold")
        return paths.reference(value)
    if isinstance(value, (set, frozenset)):
        items = decode_items(list(value), 0, encode)
        return ["<set>", *sorted(items, key=lambda item: json.dumps(item, sort_keys=True))]
    if value is UNDEFINED:
        return ["<undefined>"]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, (str, int, float)):  # StrEnum, IntEnum...: written as their value
        return value
    if isinstance(value, list):
        return encode(list(value))
    if isinstance(value, tuple):
        return encode(tuple(value))
    if isinstance(value, dict):
        return encode(dict(value))
    raise Bad(f"holds {show(value)} ({type(value).__name__}), which JSON cannot represent")


def encode_command_item(value: Any, paths: PathNumbering, depth: int = 1) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is float:
        return value
    if isinstance(value, SpecialPath):
        return paths.reference(value)
    if depth >= MAX_DEPTH and isinstance(value, (list, tuple)):
        raise Bad(f"is nested more than {MAX_DEPTH} levels deep (or holds itself)")
    if isinstance(value, list):
        if value and type(value[0]) is str and value[0] in MARKERS:
            raise Bad(f"holds a list starting with {value[0]!r}, which reads back as a marker")
        return decode_items(value, 0, lambda item: encode_command_item(item, paths, depth + 1))
    if isinstance(value, tuple):
        if len(value) == 2 and value[0] == "<id>":
            raise Bad("holds a tuple ('<id>', ...), which reads back as a special path")
        items = decode_items(
            list(value), 0, lambda item: encode_command_item(item, paths, depth + 1)
        )
        return ["<tuple>", *items]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise Bad(f"must be a string, a number, a special path, a tuple or a list, got {show(value)}")
