"""The swf model <-> soma-workflow's JSON workflow format (``Helper.serialize`` files).

Text in, text out; dicts in, dicts out: reading and writing files belongs to the callers.
``workflow_to_dict`` gives the document soma-workflow 6.0.13 writes for the same workflow
(same keys, same ``"<tuple>"`` / ``"<id>"`` encodings, same ids), and
``workflow_from_dict`` reads every document soma-workflow writes. Every problem in a
document is a ``SerializationError`` naming the source, the element (``job 3
('step2')``, ``dependency #4``, ``temporary path 7``) and the field, never a bare
KeyError or TypeError: a document is user input.

The format, in short. Jobs, groups and special paths share one id space: jobs get
``0..n-1`` in ``workflow.jobs`` order, groups come next in ``workflow.groups`` order,
special paths next in the order the jobs first mention them (command, referenced
files, stdin, stdout, stderr, params files, working directory, param_dict; option
paths' parents last), exactly as soma-workflow numbers them. ``jobs``, ``groups``,
``root_group`` and group ``elements`` are lists of ids; ``dependencies`` are
``["<tuple>", parent, child]``; ``param_links`` is ``{"dest": {"param": [["<tuple>",
source, "source_param"(, function)]]}}``; ``serialized_*`` map ``str(id)`` to the
element's fields. A tuple anywhere is ``["<tuple>", ...items]``, a set ``["<set>",
...]``, a reference to a special path ``["<tuple>", "<id>", id]``.

What swf keeps that soma-workflow 6.0.13 loses, and how:

* ``user_storage`` of the workflow, of jobs and of groups, and the workflow's
  ``disposal_timeout``, are written when set (soma-workflow ignores these keys).
* Unknown keys of the workflow, a job, a group or a special path entry are kept with
  the loaded workflow (a private attribute, keyed by element) and written back verbatim.
* Special path patterns. soma-workflow writes one entry per *referent* (``'pre' + tmp``
  and ``tmp`` are one entry, with whichever pattern it met first), so the other
  copies lose their pattern. swf writes one entry per (referent, pattern): the
  referent's own entry, plus one entry per other pattern carrying the same fields, its
  ``pattern`` and ``"swf_referent": <id of the referent's entry>``. swf reads that key
  back, so copies share their referent again after loading (identity by referent
  survives). soma-workflow ignores the unknown key (it becomes an inert attribute) and
  loads each copy as an independent path with the right pattern: commands render the
  same, but in soma-workflow a TemporaryPath copy names another temporary file and a
  FileTransfer copy is transferred on its own. That is the trade-off: exact in swf,
  right text but split identity in soma-workflow (which had the wrong text before).
* An option path whose parent appears nowhere else gets its parent written (soma-workflow
  6.0.13 numbers that parent but forgets its entry).

One thing swf writes that soma-workflow cannot read: an OptionPath whose parent is an
OptionPath (``OptionPath(OptionPath(p, "?a=1"), "?b=2")``). soma's constructor takes an
OptionPath parent for a copy and refuses a uri with it, so no soma workflow holds one and
``Helper.unserialize`` raises TypeError on such a document; swf reads it back exactly.

Documents soma-workflow or swf write round-trip exactly (``workflow_to_dict
(workflow_from_dict(d)) == d``, key order aside). Other valid documents lose nothing
but may come back normalized: ids renumbered in soma's order, keys soma always writes
added with their defaults, a job without ``name`` named after its command (soma's
rule), implied param link dependencies added (soma's rule), old ``serialized_barriers``
moved into ``serialized_jobs``. Unknown keys are written verbatim, so an ``"<id>"``
inside one is not renumbered.

Job classes are found by their soma-workflow name in a small registry: Job, BarrierJob
and, loaded on first need, the custom jobs of ``swf_domain.custom_jobs``
(``soma_workflow.custom_jobs.MapJob``...). A registered class is built without calling
its ``__init__`` (the document holds every field), so it must be a Job whose own extra
fields, if any, have defaults.
"""

from __future__ import annotations

import gc
import importlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import MISSING, dataclass, fields
from typing import Any, Final

from .errors import SerializationError
from .model import (
    BarrierJob,
    Element,
    FileTransfer,
    Group,
    Job,
    OptionPath,
    SharedResourcePath,
    SpecialPath,
    TemporaryPath,
    Workflow,
)

__all__ = [
    "BARRIER_CLASS",
    "JOB_CLASS",
    "REFERENT_KEY",
    "UNDEFINED",
    "dumps",
    "job_class_for",
    "loads",
    "register_job_class",
    "soma_class_name",
    "workflow_from_dict",
    "workflow_to_dict",
]

JOB_CLASS: Final = "soma_workflow.client_types.Job"
BARRIER_CLASS: Final = "soma_workflow.client_types.BarrierJob"
#: Key of a special path entry that is a pattern copy of another entry (swf only).
REFERENT_KEY: Final = "swf_referent"
_CLIENT_TYPES: Final = "soma_workflow.client_types."
#: Deeper values are refused: they are garbage, and would exhaust Python's stack.
_MAX_DEPTH: Final = 200
_DEFAULT_DISPOSAL: Final = 168
_ID_KEY = re.compile(r"[0-9]{1,18}")


class _Undefined:
    """soma-workflow's ``Undefined`` (``["<undefined>"]``), kept so it round-trips."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()

# ---------------------------------------------------------------------------------------
# Job class registry
# ---------------------------------------------------------------------------------------


class _JobClasses:
    """soma-workflow class names <-> swf Job classes.

    The custom jobs module is imported on first need only: most workflows never use it,
    and importing it here at module level would tie the two modules in a cycle.
    """

    def __init__(self) -> None:
        self.by_name: dict[str, type[Job]] = {JOB_CLASS: Job, BARRIER_CLASS: BarrierJob}
        self.names: dict[type[Job], str] = {Job: JOB_CLASS, BarrierJob: BARRIER_CLASS}
        self.name_cache: dict[type, str] = {}
        self.custom_loaded = False

    def register(self, soma_name: str, job_class: type[Job]) -> None:
        if not (isinstance(job_class, type) and issubclass(job_class, Job)):
            raise TypeError(f"{job_class!r} is not a Job class")
        self.by_name[soma_name] = job_class
        self.names.setdefault(job_class, soma_name)
        self.name_cache.clear()

    def lookup(self, soma_name: str) -> type[Job] | None:
        if "." not in soma_name:  # soma resolves a bare name in its client_types module
            soma_name = _CLIENT_TYPES + soma_name
        found = self.by_name.get(soma_name)
        if found is None and self._load_custom_jobs():
            found = self.by_name.get(soma_name)
        return found

    def name_of(self, job_class: type) -> str:
        """The registered name of ``job_class`` or of its nearest registered ancestor."""
        cached = self.name_cache.get(job_class)
        if cached is not None:
            return cached
        if job_class not in self.names:
            self._load_custom_jobs()
        name = next(self.names[base] for base in job_class.__mro__ if base in self.names)
        self.name_cache[job_class] = name
        return name

    def _load_custom_jobs(self) -> bool:
        if self.custom_loaded:
            return False
        self.custom_loaded = True
        module = importlib.import_module(".custom_jobs", __package__)
        for soma_name, job_class in getattr(module, "CUSTOM_JOB_CLASSES", {}).items():
            self.register(soma_name, job_class)
        return True


_CLASSES = _JobClasses()


def register_job_class(soma_name: str, job_class: type[Job]) -> None:
    """Read documents whose job ``"class"`` is ``soma_name`` as ``job_class``.

    The first name registered for a class is the one written for it.
    """
    _CLASSES.register(soma_name, job_class)


def job_class_for(soma_name: str) -> type[Job] | None:
    """The Job class registered for a soma-workflow class name, if any."""
    return _CLASSES.lookup(soma_name)


def soma_class_name(job_class: type[Job]) -> str:
    """The class name written for ``job_class`` (its nearest registered ancestor's)."""
    return _CLASSES.name_of(job_class)


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


class _Bad(Exception):
    """A value is wrong; the caller that knows the element and field adds them.

    ``where`` is the position inside the field (list indexes, dict keys), outermost first.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where: list[int | str] = []

    def inside(self, position: int | str) -> _Bad:
        self.where.insert(0, position)
        return self

    def field_message(self, field_name: str) -> str:
        positions = "".join(f"[{p}]" if isinstance(p, int) else f'["{p}"]' for p in self.where)
        return f"field '{field_name}{positions}' {self.reason}"


def _show(value: object) -> str:
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


def _describe(kind: str, ident: int | str, name: object) -> str:
    return f"{kind} {ident} ({name!r})" if isinstance(name, str) else f"{kind} {ident}"


# ---------------------------------------------------------------------------------------
# Values: decoding (document -> model) and encoding (model -> document)
# ---------------------------------------------------------------------------------------

#: Special paths by id, for resolving ``["<tuple>", "<id>", n]``.
_PathsById = dict[int, SpecialPath]


def _resolve_path(ident: object, paths: _PathsById) -> SpecialPath:
    found = paths.get(ident) if type(ident) is int else None
    if found is None:
        raise _Bad(f"refers to unknown special path id {_show(ident)}")
    return found


def _decode_items(raw: list[Any], start: int, decode: Callable[[Any], Any]) -> list[Any]:
    out = []
    for index in range(start, len(raw)):
        try:
            out.append(decode(raw[index]))
        except _Bad as bad:
            raise bad.inside(index) from None
    return out


def _decode_value(raw: Any, paths: _PathsById | None, depth: int = 0) -> Any:
    """A JSON value with soma's markers decoded; ``"<id>"`` resolved when ``paths``."""
    kind = type(raw)
    if kind is str or kind is int or kind is float or kind is bool or raw is None:
        return raw
    if depth >= _MAX_DEPTH:
        raise _Bad(f"is nested more than {_MAX_DEPTH} levels deep")

    def decode(item: Any) -> Any:
        return _decode_value(item, paths, depth + 1)

    if kind is list:
        head = raw[0] if raw else None
        if head == "<tuple>":
            if paths is not None and len(raw) == 3 and raw[1] == "<id>":
                return _resolve_path(raw[2], paths)
            return tuple(_decode_items(raw, 1, decode))
        if head == "<set>":
            try:
                return set(_decode_items(raw, 1, decode))
            except TypeError:
                raise _Bad("holds a set of unhashable values") from None
        if head == "<undefined>":
            return UNDEFINED
        return _decode_items(raw, 0, decode)
    if kind is dict:
        out = {}
        for key, item in raw.items():
            if type(key) is not str:
                raise _Bad(f"has a non-string key {_show(key)}")
            try:
                out[key] = decode(item)
            except _Bad as bad:
                raise bad.inside(key) from None
        return out
    raise _Bad(f"holds {_show(raw)}, which is not a JSON value")


def _decode_command_item(raw: Any, paths: _PathsById, depth: int = 1) -> Any:
    """One element of a command or of a referenced files list (no dict, set or null)."""
    kind = type(raw)
    if kind is str or kind is int or kind is float:
        return raw
    if kind is list and depth < _MAX_DEPTH:
        head = raw[0] if raw else None
        if head == "<tuple>":
            if len(raw) == 3 and raw[1] == "<id>":
                return _resolve_path(raw[2], paths)
            return tuple(
                _decode_items(raw, 1, lambda item: _decode_command_item(item, paths, depth + 1))
            )
        if head not in ("<set>", "<undefined>"):
            return _decode_items(raw, 0, lambda item: _decode_command_item(item, paths, depth + 1))
    if kind is list and depth >= _MAX_DEPTH:
        raise _Bad(f"is nested more than {_MAX_DEPTH} levels deep")
    raise _Bad(f"must be a string, a number, a special path, a tuple or a list, got {_show(raw)}")


def _copy_json(raw: Any, depth: int = 0) -> Any:
    """A deep copy of a plain JSON value (unknown keys are kept verbatim, not decoded)."""
    kind = type(raw)
    if kind is str or kind is int or kind is float or kind is bool or raw is None:
        return raw
    if depth >= _MAX_DEPTH:
        raise _Bad(f"is nested more than {_MAX_DEPTH} levels deep")
    if kind is list:
        return _decode_items(raw, 0, lambda item: _copy_json(item, depth + 1))
    if kind is dict:
        out = {}
        for key, item in raw.items():
            if type(key) is not str:
                raise _Bad(f"has a non-string key {_show(key)}")
            try:
                out[key] = _copy_json(item, depth + 1)
            except _Bad as bad:
                raise bad.inside(key) from None
        return out
    raise _Bad(f"holds {_show(raw)}, which is not a JSON value")


_MARKERS: Final = ("<tuple>", "<set>", "<undefined>")


class _PathNumbering:
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
                raise _Bad(f"holds a {type(path).__name__} whose referent is not one")
            referent_id = self.ids.get((referent, referent.pattern))
            if referent_id is None:
                referent_id = self._number(referent)
        ident = self.next_id
        self.next_id += 1
        self.ids[(referent, path.pattern)] = ident
        self.entries.append((ident, path, referent_id))
        return ident


def _encode_value(value: Any, paths: _PathNumbering | None, depth: int = 0) -> Any:
    """``value`` in the document's encoding; special paths only where ``paths`` is given."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if depth >= _MAX_DEPTH:
        raise _Bad(f"is nested more than {_MAX_DEPTH} levels deep (or holds itself)")

    def encode(item: Any) -> Any:
        return _encode_value(item, paths, depth + 1)

    if kind is list:
        if value and type(value[0]) is str and value[0] in _MARKERS:
            raise _Bad(f"holds a list starting with {value[0]!r}, which reads back as a marker")
        return _decode_items(value, 0, encode)
    if kind is tuple:
        if len(value) == 2 and value[0] == "<id>" and paths is not None:
            raise _Bad("holds a tuple ('<id>', ...), which reads back as a special path")
        return ["<tuple>", *_decode_items(list(value), 0, encode)]
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _Bad(f"has a non-string key {_show(key)}")
            try:
                out[key] = encode(item)
            except _Bad as bad:
                raise bad.inside(key) from None
        return out
    return _encode_other(value, paths, encode)


def _encode_other(value: Any, paths: _PathNumbering | None, encode: Callable[[Any], Any]) -> Any:
    if isinstance(value, SpecialPath):
        if paths is None:
            raise _Bad(f"holds a {type(value).__name__}, which only job files may hold")
        return paths.reference(value)
    if isinstance(value, (set, frozenset)):
        items = _decode_items(list(value), 0, encode)
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
    raise _Bad(f"holds {_show(value)} ({type(value).__name__}), which JSON cannot represent")


def _encode_command_item(value: Any, paths: _PathNumbering, depth: int = 1) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is float:
        return value
    if isinstance(value, SpecialPath):
        return paths.reference(value)
    if depth >= _MAX_DEPTH and isinstance(value, (list, tuple)):
        raise _Bad(f"is nested more than {_MAX_DEPTH} levels deep (or holds itself)")
    if isinstance(value, list):
        if value and type(value[0]) is str and value[0] in _MARKERS:
            raise _Bad(f"holds a list starting with {value[0]!r}, which reads back as a marker")
        return _decode_items(value, 0, lambda item: _encode_command_item(item, paths, depth + 1))
    if isinstance(value, tuple):
        if len(value) == 2 and value[0] == "<id>":
            raise _Bad("holds a tuple ('<id>', ...), which reads back as a special path")
        items = _decode_items(
            list(value), 0, lambda item: _encode_command_item(item, paths, depth + 1)
        )
        return ["<tuple>", *items]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise _Bad(f"must be a string, a number, a special path, a tuple or a list, got {_show(value)}")


# ---------------------------------------------------------------------------------------
# Field kinds: one decoder and one encoder per kind of field
# ---------------------------------------------------------------------------------------

Decoder = Callable[[Any, _PathsById], Any]
Encoder = Callable[[Any, _PathNumbering], Any]


def _got(expected: str, raw: object) -> _Bad:
    return _Bad(f"must be {expected}, got {_show(raw)}")


# The checks test the exact type first: they run a few million times for a big workflow.


def _check_str(raw: Any, paths: object = None) -> str:
    if type(raw) is str:
        return raw
    if not isinstance(raw, str):
        raise _got("a string", raw)
    return str(raw)


def _check_opt_str(raw: Any, paths: object = None) -> str | None:
    if raw is None or type(raw) is str:
        return raw
    if not isinstance(raw, str):
        raise _got("a string or null", raw)
    return str(raw)


def _check_bool(raw: Any, paths: object = None) -> bool:
    if raw is True or raw is False:
        return raw
    raise _got("true or false", raw)


def _check_int(raw: Any, paths: object = None) -> int:
    if type(raw) is int:
        return raw
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise _got("an int", raw)
    return int(raw)


def _check_opt_int(raw: Any, paths: object = None) -> int | None:
    return None if raw is None else _check_int(raw)


def _check_str_list(raw: Any, what: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise _got(what, raw)
    return [str(item) for item in raw]


def _check_native_spec(raw: Any, paths: object = None) -> str | list[str] | None:
    """A string, or a list of options (soma accepts both, e.g. for SLURM)."""
    if raw is None or isinstance(raw, str):
        return raw
    return _check_str_list(raw, "a string, a list of strings or null")


def _check_opt_str_list(raw: Any, paths: object = None) -> list[str] | None:
    return None if raw is None else _check_str_list(raw, "a list of strings or null")


def _check_env(raw: Any, paths: object = None) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _got("an object of strings or null", raw)
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise _Bad(f"must map strings to strings, got {_show(key)}: {_show(value)}")
    return dict(raw)


def _decode_plain(raw: Any, paths: object = None) -> Any:
    return _decode_value(raw, None)


def _decode_opt_plain_dict(raw: Any, paths: object = None) -> dict[str, Any] | None:
    if raw is not None and type(raw) is not dict:
        raise _got("an object or null", raw)
    return _decode_value(raw, None)  # type: ignore[no-any-return]


def _decode_configuration(raw: Any, paths: object = None) -> dict[str, Any]:
    return _decode_opt_plain_dict(raw) or {}


def _decode_command(raw: Any, paths: _PathsById) -> list[Any]:
    if type(raw) is not list:
        raise _got("a list", raw)
    for item in raw:
        if type(item) is not str:
            return _decode_items(raw, 0, lambda item: _decode_command_item(item, paths))
    return list(raw)


def _decode_files(raw: Any, paths: _PathsById) -> list[Any] | None:
    return None if raw is None else _decode_command(raw, paths)


def _decode_path(raw: Any, paths: _PathsById) -> str | SpecialPath | None:
    if raw is None or type(raw) is str:
        return raw
    if type(raw) is list and len(raw) == 3 and raw[0] == "<tuple>" and raw[1] == "<id>":
        return _resolve_path(raw[2], paths)
    raise _got("a string, a special path or null", raw)


def _decode_param_dict(raw: Any, paths: _PathsById) -> dict[str, Any]:
    if raw is None:
        return {}
    if type(raw) is not dict:
        raise _got("an object", raw)
    return _decode_value(raw, paths)  # type: ignore[no-any-return]


def _encode_plain(value: Any, paths: object = None) -> Any:
    return _encode_value(value, None)


def _encode_opt_plain_dict(value: Any, paths: object = None) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _got("a dict or None", value)
    return _encode_value(value, None)


def _encode_configuration(value: Any, paths: object = None) -> Any:
    if not value:
        return {}
    return _encode_opt_plain_dict(value)


def _encode_native_spec(value: Any, paths: object = None) -> Any:
    if value is None or type(value) is str:
        return value
    if isinstance(value, tuple):
        value = list(value)
    spec = _check_native_spec(value)
    return list(spec) if isinstance(spec, list) else spec


def _encode_command(value: Any, paths: _PathNumbering) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise _got("a list", value)
    for item in value:
        if type(item) is not str:
            return _decode_items(list(value), 0, lambda item: _encode_command_item(item, paths))
    return list(value)


def _encode_files(value: Any, paths: _PathNumbering) -> list[Any] | None:
    return None if value is None else _encode_command(value, paths)


def _encode_path(value: Any, paths: _PathNumbering) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, SpecialPath):
        return paths.reference(value)
    raise _got("a string, a special path or None", value)


def _encode_param_dict(value: Any, paths: _PathNumbering) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _got("a dict", value)
    return _encode_value(value, paths)


# ---------------------------------------------------------------------------------------
# Job fields
# ---------------------------------------------------------------------------------------


def _always(value: Any) -> bool:
    return True


def _truthy(value: Any) -> bool:
    return bool(value)


def _not_none(value: Any) -> bool:
    return value is not None


@dataclass(frozen=True, slots=True)
class _Field:
    """One job field: its key (= model attribute), codec, default and when it is written."""

    key: str
    decode: Decoder
    encode: Encoder
    #: Builds the value a missing key loads as.
    default: Callable[[], Any]
    #: Written for a Job when this says so (soma writes some keys always, some if set).
    job_writes: Callable[[Any], bool]
    #: Same for a BarrierJob (soma writes name, disposal_timeout and files only).
    barrier_writes: Callable[[Any], bool]


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _differs_from(default: Any) -> Callable[[Any], bool]:
    return lambda value: value != default


def _field(
    key: str,
    codec: tuple[Decoder, Encoder],
    default: Any,
    job_writes: Callable[[Any], bool] = _always,
    barrier_writes: Callable[[Any], bool] | None = None,
    factory: Callable[[], Any] | None = None,
) -> _Field:
    if barrier_writes is None:
        barrier_writes = job_writes if job_writes is not _always else _differs_from(default)
    return _Field(
        key, codec[0], codec[1], factory or _constant(default), job_writes, barrier_writes
    )


_STR = (_check_opt_str, _check_opt_str)
_BOOL = (_check_bool, _check_bool)
_INT = (_check_int, _check_int)
_PATH = (_decode_path, _encode_path)
_FILES = (_decode_files, _encode_files)

#: In soma's writing order: special paths are numbered in this order.
_JOB_FIELDS: Final = (
    _field("name", _STR, None, barrier_writes=_always),
    _field("join_stderrout", _BOOL, False),
    _field("priority", _INT, 0),
    _field("native_specification", (_check_native_spec, _encode_native_spec), None),
    _field("parallel_job_info", (_decode_opt_plain_dict, _encode_opt_plain_dict), None),
    _field("disposal_timeout", _INT, _DEFAULT_DISPOSAL, barrier_writes=_always),
    _field("env", (_check_env, _check_env), None),
    _field("use_input_params_file", _BOOL, False),
    _field("has_outputs", _BOOL, False),
    _field("configuration", (_decode_configuration, _encode_configuration), {}, factory=dict),
    _field("command", (_decode_command, _encode_command), [], factory=list),
    _field("referenced_input_files", _FILES, None, _truthy),
    _field("referenced_output_files", _FILES, None, _truthy),
    _field("stdin", _PATH, None, _truthy),
    _field("stdout_file", _PATH, None, _truthy),
    _field("stderr_file", _PATH, None, _truthy),
    _field("input_params_file", _PATH, None, _truthy),
    _field("output_params_file", _PATH, None, _truthy),
    _field("working_directory", _PATH, None, _truthy),
    _field("param_dict", (_decode_param_dict, _encode_param_dict), {}, _truthy, factory=dict),
    # soma-workflow 6.0.13 drops user_storage; swf keeps it (soma ignores the key)
    _field("user_storage", (_decode_plain, _encode_plain), None, _not_none),
)
_JOB_FIELD_BY_KEY: Final = {job_field.key: job_field for job_field in _JOB_FIELDS}
#: What writing a job does per field: (key, encoder, condition or None for always).
_JOB_PLAN: Final = tuple(
    (f.key, f.encode, None if f.job_writes is _always else f.job_writes) for f in _JOB_FIELDS
)
_BARRIER_PLAN: Final = tuple(
    (f.key, f.encode, None if f.barrier_writes is _always else f.barrier_writes)
    for f in _JOB_FIELDS
)


class _JobBuilder:
    """Makes a job of any registered class from decoded fields, without ``__init__``.

    A custom job's constructor fills in defaults (MapJob adds ``input_names``...) that
    would change what the document says: the document is taken as it is.
    """

    def __init__(self) -> None:
        self.extra_defaults: dict[type[Job], list[tuple[str, Callable[[], Any]]]] = {}

    def build(self, job_class: type[Job], values: dict[str, Any]) -> Job:
        job = job_class.__new__(job_class)
        for job_field in _JOB_FIELDS:
            key = job_field.key
            setattr(job, key, values[key] if key in values else job_field.default())
        job.job_id = None
        if job_class is not Job and job_class is not BarrierJob:
            for name, default in self._extra_fields(job_class):
                setattr(job, name, default())
        return job

    def _extra_fields(self, job_class: type[Job]) -> list[tuple[str, Callable[[], Any]]]:
        found = self.extra_defaults.get(job_class)
        if found is None:
            known = {*_JOB_FIELD_BY_KEY, "job_id"}
            found = [
                (extra.name, _field_default(job_class, extra.name, extra.default, extra))
                for extra in fields(job_class)
                if extra.name not in known
            ]
            self.extra_defaults[job_class] = found
        return found


def _field_default(job_class: type, name: str, default: Any, spec: Any) -> Callable[[], Any]:
    if default is not MISSING:
        return _constant(default)
    if spec.default_factory is not MISSING:
        return spec.default_factory  # type: ignore[no-any-return]
    raise TypeError(f"job class {job_class.__name__}: field {name!r} has no default")


_BUILDER = _JobBuilder()

# ---------------------------------------------------------------------------------------
# Special path kinds
# ---------------------------------------------------------------------------------------


def _check_pattern(raw: Any, paths: object = None) -> str:
    if isinstance(raw, str):
        try:
            raw % ("",)
            return str(raw)
        except (TypeError, ValueError):
            pass
    raise _got("a string with one %s (and %% for a percent sign)", raw)


@dataclass(frozen=True, slots=True)
class _PathKind:
    """One table of special paths: its key, class, fields (in soma's order) and label."""

    table: str
    path_class: type[SpecialPath]
    label: str
    fields: tuple[tuple[str, Callable[[Any], Any], Callable[[], Any]], ...]
    #: Builds a new referent from decoded fields (the copies are made from it).
    make: Callable[[dict[str, Any]], SpecialPath]


def _make_transfer(values: dict[str, Any]) -> SpecialPath:
    return FileTransfer(values["initial_status"] == "on client side")


def _make_shared(values: dict[str, Any]) -> SpecialPath:
    return SharedResourcePath(values["relative_path"])


def _make_temporary(values: dict[str, Any]) -> SpecialPath:
    return TemporaryPath()


def _make_option(values: dict[str, Any]) -> SpecialPath:
    return OptionPath()


def _required(key: str) -> Callable[[], Any]:
    def missing() -> Any:
        raise _Bad("is missing")

    return missing


_OPT_STR_LIST = _check_opt_str_list
_PATH_KINDS: Final = (
    _PathKind(
        "serialized_file_transfers",
        FileTransfer,
        "file transfer",
        (
            ("client_path", _check_opt_str, _constant(None)),
            ("client_paths", _OPT_STR_LIST, _constant(None)),
            ("initial_status", _check_str, _constant("on client side")),
            ("disposal_timeout", _check_int, _constant(_DEFAULT_DISPOSAL)),
            ("name", _check_opt_str, _constant(None)),
        ),
        _make_transfer,
    ),
    _PathKind(
        "serialized_shared_res_paths",
        SharedResourcePath,
        "shared resource path",
        (
            ("relative_path", _check_str, _required("relative_path")),
            ("namespace", _check_opt_str, _constant(None)),
            ("uuid", _check_opt_str, _constant(None)),
            ("disposal_timeout", _check_opt_int, _constant(_DEFAULT_DISPOSAL)),
        ),
        _make_shared,
    ),
    _PathKind(
        "serialized_temporary_paths",
        TemporaryPath,
        "temporary path",
        (
            ("is_directory", _check_bool, _constant(False)),
            ("disposal_timeout", _check_int, _constant(_DEFAULT_DISPOSAL)),
            ("name", _check_opt_str, _constant(None)),
            ("suffix", _check_str, _constant("")),
        ),
        _make_temporary,
    ),
    _PathKind(
        "serialized_option_paths",
        OptionPath,
        "option path",
        (
            # parent_type and parent_path are read apart: the parent may be a path
            ("uri", _check_str, _constant("")),
            ("name", _check_opt_str, _constant(None)),
        ),
        _make_option,
    ),
)
_OPTION_KIND: Final = _PATH_KINDS[3]
_PARENT_KEYS: Final = ("parent_type", "parent_path")


def _path_kind_of(path: SpecialPath) -> _PathKind:
    for kind in _PATH_KINDS:
        if isinstance(path, kind.path_class):
            return kind
    raise _Bad(f"holds a special path of unknown kind {type(path).__name__}")


# ---------------------------------------------------------------------------------------
# What a loaded workflow remembers of its document
# ---------------------------------------------------------------------------------------

_EXTRAS_ATTRIBUTE: Final = "_swf_soma_unknown_keys"


@dataclass(slots=True)
class _UnknownKeys:
    """Keys of a document that the model has no field for, to write them back."""

    workflow: dict[str, Any]
    #: By element (Job, Group or SpecialPath, compared by identity).
    elements: dict[object, dict[str, Any]]


def _unknown_keys_of(workflow: Workflow) -> _UnknownKeys | None:
    found = getattr(workflow, _EXTRAS_ATTRIBUTE, None)
    return found if isinstance(found, _UnknownKeys) else None


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


class _Writer:
    """One ``workflow_to_dict`` call: numbers the elements, then encodes them."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.unknown = _unknown_keys_of(workflow)
        self.job_ids: dict[Job, int] = {}
        self.group_ids: dict[Group, int] = {}
        self.groups: list[Group] = []
        self.paths: _PathNumbering = _PathNumbering(0)

    def fail(self, message: str) -> SerializationError:
        return SerializationError(f"workflow {self.workflow.name!r}: {message}")

    def write(self) -> dict[str, Any]:
        workflow = self.workflow
        self._number_jobs()
        self._number_groups()
        self.paths = _PathNumbering(len(self.job_ids) + len(self.group_ids))
        doc: dict[str, Any] = {"name": self._workflow_field("name", _check_opt_str)}
        doc["jobs"] = list(self.job_ids.values())
        doc["dependencies"] = self._dependencies()
        doc["param_links"] = self._param_links()
        doc["groups"] = list(self.group_ids.values())
        doc["root_group"] = self._element_ids(workflow.root_group or [], "root_group")
        doc["serialized_groups"] = {
            str(self.group_ids[group]): self._group(group) for group in self.groups
        }
        doc["serialized_jobs"] = {str(ident): self._job(job) for job, ident in self.job_ids.items()}
        doc.update(self._path_tables())
        self._workflow_options(doc)
        return doc

    # -- numbering ----------------------------------------------------------------------

    def _number_jobs(self) -> None:
        jobs = self.workflow.jobs
        try:
            self.job_ids = {job: index for index, job in enumerate(jobs)}
        except TypeError:  # unhashable: not a Job, found below
            self.job_ids = {}
        if len(self.job_ids) == len(jobs) and all(isinstance(job, Job) for job in jobs):
            return
        seen: set[Job] = set()
        for index, job in enumerate(jobs):
            if not isinstance(job, Job):
                raise self.fail(f"jobs[{index}] is a {type(job).__name__}, not a Job")
            if job in seen:
                raise self.fail(f"job {job.name!r} is listed twice in jobs (jobs[{index}])")
            seen.add(job)

    def _number_groups(self) -> None:
        """``workflow.groups`` first, then any other group found inside them or the root."""
        pending: list[Group] = list(self.workflow.groups)
        pending.extend(e for e in self.workflow.root_group or [] if isinstance(e, Group))
        next_id = len(self.job_ids)
        position = 0
        while position < len(pending):
            group = pending[position]
            position += 1
            if not isinstance(group, Group):
                raise self.fail(f"groups holds a {type(group).__name__}, not a Group")
            if group in self.group_ids:
                continue
            self.group_ids[group] = next_id
            next_id += 1
            self.groups.append(group)
            pending.extend(e for e in group.elements if isinstance(e, Group))

    def _element_ids(self, elements: object, where: str) -> list[int]:
        """The ids of a group's elements (jobs looked up in bulk: a root holds them all)."""
        if not isinstance(elements, list):
            raise self.fail(f"{where} must be a list, got {_show(elements)}")
        get = self.job_ids.get
        try:
            found = [get(element, -1) for element in elements]
        except TypeError:  # unhashable: not a Job, named below
            found = [-1] * len(elements)
        if -1 in found:
            for index, ident in enumerate(found):
                if ident == -1:
                    found[index] = self._element_id(elements[index], f"{where}[{index}]")
        return found

    def _element_id(self, element: object, where: str) -> int:
        if isinstance(element, Job):
            found = self.job_ids.get(element)
            if found is None:
                raise self.fail(f"{where}: job {element.name!r} is not in the workflow's jobs")
            return found
        if isinstance(element, Group):
            return self.group_ids[element]
        raise self.fail(f"{where} is a {type(element).__name__}, not a Job or a Group")

    # -- structure ----------------------------------------------------------------------

    def _dependencies(self) -> list[list[Any]]:
        job_ids: dict[Any, int] = self.job_ids  # a Group or a stranger is a KeyError
        dependencies = self.workflow.dependencies or []
        try:
            return [["<tuple>", job_ids[parent], job_ids[child]] for parent, child in dependencies]
        except (KeyError, TypeError, ValueError):
            pass
        for index, dependency in enumerate(dependencies):  # which one was it?
            try:
                parent, child = dependency
                _ = (job_ids[parent], job_ids[child])
            except (KeyError, TypeError, ValueError):
                raise self._bad_dependency(index, dependency) from None
        raise AssertionError("unreachable: a dependency failed, then none did")

    def _bad_dependency(self, index: int, dependency: object) -> SerializationError:
        if not isinstance(dependency, (tuple, list)) or len(dependency) != 2:
            return self.fail(f"dependency #{index} must be a (parent, child) pair")
        for end in dependency:
            if isinstance(end, Group):
                return self.fail(
                    f"dependency #{index} joins group {end.name!r}: add group dependencies "
                    "with Workflow.add_dependencies, which expands them"
                )
            if not isinstance(end, Job) or end not in self.job_ids:
                return self.fail(f"dependency #{index}: {_show(end)} is not in the workflow's jobs")
        return self.fail(f"dependency #{index} is invalid")  # pragma: no cover

    def _param_links(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        links = self.workflow.param_links or {}
        if not isinstance(links, dict):
            raise self.fail("param_links must be a dict {job: {param: [links]}}")
        for destination, by_param in links.items():
            dest_id = self.job_ids.get(destination) if isinstance(destination, Job) else None
            if dest_id is None:
                raise self.fail(f"param link to {_show(destination)}, not a job of the workflow")
            if not isinstance(by_param, dict):
                raise self.fail(f"param links of job {destination.name!r} must be a dict")
            out[str(dest_id)] = {
                self._link_param(param, destination): self._links(destination, param, sources)
                for param, sources in by_param.items()
            }
        return out

    def _link_param(self, param: object, destination: Job) -> str:
        if not isinstance(param, str):
            raise self.fail(f"param link of job {destination.name!r}: {_show(param)} is not a name")
        return param

    def _links(self, destination: Job, param: str, sources: object) -> list[list[Any]]:
        where = f"param link {param!r} of job {destination.name!r}"
        if not isinstance(sources, (list, tuple)):
            raise self.fail(f"{where} must be a list of (job, param[, function]) tuples")
        out = []
        for index, link in enumerate(sources):
            if not isinstance(link, (tuple, list)) or not 2 <= len(link) <= 3:
                raise self.fail(f"{where} #{index} must be a (job, param[, function]) tuple")
            source_id = self.job_ids.get(link[0]) if isinstance(link[0], Job) else None
            if source_id is None:
                raise self.fail(f"{where} #{index}: {_show(link[0])} is not a job of the workflow")
            try:
                rest = [_check_str(link[1]), *(_encode_function(f) for f in link[2:])]
            except _Bad as bad:
                raise self.fail(f"{where} #{index}: {bad.field_message('link')}") from None
            out.append(["<tuple>", source_id, *rest])
        return out

    # -- elements -----------------------------------------------------------------------

    def _group(self, group: Group) -> dict[str, Any]:
        if not isinstance(group.name, str):
            raise self.fail(f"a group's name must be a string, got {_show(group.name)}")
        where = f"group {group.name!r}"
        out: dict[str, Any] = {
            "name": group.name,
            "elements": self._element_ids(group.elements, f"{where} elements"),
        }
        if group.user_storage is not None:
            out["user_storage"] = self._encode_for(where, "user_storage", group.user_storage)
        return self._with_unknown(group, out)

    def _job(self, job: Job) -> dict[str, Any]:
        if type(job) is Job:
            plain = _plain_job(job)
            if plain is not None:
                if self.unknown is not None:
                    self._with_unknown(job, plain)
                return plain
        out: dict[str, Any] = {"class": _CLASSES.name_of(type(job))}
        paths = self.paths
        key = "class"
        try:
            for key, encode, writes in _BARRIER_PLAN if isinstance(job, BarrierJob) else _JOB_PLAN:
                value = getattr(job, key)
                if writes is None or writes(value):
                    out[key] = encode(value, paths)
        except _Bad as bad:
            where = f"job {job.name!r} (jobs[{self.job_ids[job]}])"
            raise self.fail(f"{where}: {bad.field_message(key)}") from None
        if self.unknown is not None:
            self._with_unknown(job, out)
        return out

    def _encode_for(self, where: str, key: str, value: Any) -> Any:
        try:
            return _encode_value(value, None)
        except _Bad as bad:
            raise self.fail(f"{where}: {bad.field_message(key)}") from None

    def _with_unknown(self, element: object, out: dict[str, Any]) -> dict[str, Any]:
        if self.unknown is not None:
            unknown = self.unknown.elements.get(element)
            if unknown:
                for key, value in unknown.items():
                    out.setdefault(key, _copy_json(value))
        return out

    # -- special paths --------------------------------------------------------------------

    def _path_tables(self) -> dict[str, dict[str, Any]]:
        tables: dict[str, dict[str, Any]] = {kind.table: {} for kind in _PATH_KINDS}
        entries = self.paths.entries
        position = 0
        while position < len(entries):  # an option path may number its parent: grows
            ident, path, referent_id = entries[position]
            position += 1
            kind = _path_kind_of(path)
            tables[kind.table][str(ident)] = self._path_entry(kind, ident, path, referent_id)
        return tables

    def _path_entry(
        self, kind: _PathKind, ident: int, path: SpecialPath, referent_id: int | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            if kind is _OPTION_KIND:
                assert isinstance(path, OptionPath)
                out["parent_type"], out["parent_path"] = self._option_parent(path)
            for key, check, _default in kind.fields:
                out[key] = check(getattr(path, key))
            out["pattern"] = _check_pattern(path.pattern)
        except _Bad as bad:
            raise self.fail(f"{kind.label} {ident}: {bad.reason}") from None
        if referent_id is not None:
            out[REFERENT_KEY] = referent_id
        return self._with_unknown(path, out)

    def _option_parent(self, path: OptionPath) -> tuple[str, Any]:
        parent = path.parent_path
        if parent is None:
            return "NoneType", None
        if isinstance(parent, str):
            return "str", parent
        if isinstance(parent, SpecialPath):
            parent_kind = _path_kind_of(parent)
            return parent_kind.path_class.__name__, self.paths.reference(parent)
        raise _Bad(f"parent_path must be a string or a special path, got {_show(parent)}")

    # -- workflow options -----------------------------------------------------------------

    def _workflow_field(self, key: str, check: Callable[[Any], Any]) -> Any:
        try:
            return check(getattr(self.workflow, key))
        except _Bad as bad:
            raise SerializationError(f"workflow: {bad.field_message(key)}") from None

    def _workflow_options(self, doc: dict[str, Any]) -> None:
        workflow = self.workflow
        if workflow.env:
            doc["env"] = self._workflow_field("env", _check_env)
        if workflow.env_builder_code is not None:
            doc["env_builder_code"] = self._workflow_field("env_builder_code", _check_str)
        if workflow.native_specification:
            doc["native_specification"] = self._workflow_field(
                "native_specification", _encode_native_spec
            )
        if workflow.user_storage is not None:
            doc["user_storage"] = self._workflow_field("user_storage", _encode_plain)
        if workflow.disposal_timeout != _DEFAULT_DISPOSAL:
            doc["disposal_timeout"] = self._workflow_field("disposal_timeout", _check_int)
        if self.unknown is not None:
            for key, value in self.unknown.workflow.items():
                doc.setdefault(key, _copy_json(value))


def _plain_job(job: Job) -> dict[str, Any] | None:
    """The document of a common Job in one go, or None when it needs the field by field path.

    Common: a command of strings, no files or special paths, no param_dict,
    parallel_job_info, env, configuration or user_storage. Writing it field by field
    (``_JOB_PLAN``) gives the same dict about three times slower, which is most of the
    cost of a million-job workflow. Tested equal to the slow path.
    """
    name = job.name
    native_specification = job.native_specification
    command = job.command
    if (
        job.referenced_input_files
        or job.referenced_output_files
        or job.stdin
        or job.stdout_file
        or job.stderr_file
        or job.input_params_file
        or job.output_params_file
        or job.working_directory
        or job.param_dict
        or job.parallel_job_info is not None
        or job.env is not None
        or job.configuration
        or job.user_storage is not None
        or not (name is None or type(name) is str)
        or not (native_specification is None or type(native_specification) is str)
        or type(job.priority) is not int
        or type(job.disposal_timeout) is not int
        or type(command) is not list
    ):
        return None
    join_stderrout = job.join_stderrout
    use_input_params_file = job.use_input_params_file
    has_outputs = job.has_outputs
    if (
        not (join_stderrout is True or join_stderrout is False)
        or not (use_input_params_file is True or use_input_params_file is False)
        or not (has_outputs is True or has_outputs is False)
    ):
        return None
    for item in command:
        if type(item) is not str:
            return None
    return {
        "class": JOB_CLASS,
        "name": name,
        "join_stderrout": join_stderrout,
        "priority": job.priority,
        "native_specification": native_specification,
        "parallel_job_info": None,
        "disposal_timeout": job.disposal_timeout,
        "env": None,
        "use_input_params_file": use_input_params_file,
        "has_outputs": has_outputs,
        "configuration": {},
        "command": list(command),
    }


def _encode_function(function: Any) -> Any:
    """A param link function: ``"module.func"`` or ``("module.func", *args)``."""
    if isinstance(function, str):
        return function
    if isinstance(function, (tuple, list)) and function and isinstance(function[0], str):
        return _encode_value(tuple(function), None)
    raise _got('"module.function" or a ("module.function", *args) tuple', function)


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------

_WORKFLOW_KEYS: Final = frozenset(
    {
        "name",
        "jobs",
        "dependencies",
        "param_links",
        "groups",
        "root_group",
        "serialized_groups",
        "serialized_jobs",
        "serialized_barriers",
        "env",
        "env_builder_code",
        "native_specification",
        "user_storage",
        "disposal_timeout",
        *(kind.table for kind in _PATH_KINDS),
    }
)


@dataclass(slots=True)
class _PathEntry:
    """A special path entry read but not built yet (it may wait for its referent/parent)."""

    ident: int
    kind: _PathKind
    label: str
    values: dict[str, Any]
    pattern: str
    referent: int | None
    #: Option paths: ("str", text) / ("none", None) / ("path", id)
    parent: tuple[str, Any]
    #: Keys the model has no field for, written back verbatim.
    unknown: dict[str, Any]


class _Reader:
    """One ``workflow_from_dict`` call."""

    def __init__(self, doc: Any, source: str) -> None:
        self.source = source
        if not isinstance(doc, dict):
            raise self.fail(f"a workflow document must be a JSON object, got {_show(doc)}")
        self.doc: dict[str, Any] = doc
        self.paths: _PathsById = {}
        self.jobs: dict[int, Job] = {}
        self.groups: dict[int, Group] = {}
        self.unknown = _UnknownKeys({}, {})

    def fail(self, message: str) -> SerializationError:
        return SerializationError(f"{self.source}: {message}")

    def read(self) -> Workflow:
        options = self._workflow_options()
        self._read_paths()
        self._read_jobs()
        jobs = self._job_order()
        group_order = self._read_groups()
        root_group = self._root_group()
        dependencies = self._dependencies()
        param_links = self._param_links()
        workflow = Workflow(
            jobs,
            dependencies,
            root_group=root_group,
            param_links=param_links,
            **options,
        )
        workflow.groups = group_order
        if self.unknown.workflow or self.unknown.elements:
            setattr(workflow, _EXTRAS_ATTRIBUTE, self.unknown)
        return workflow

    # -- helpers ------------------------------------------------------------------------

    def _table(self, key: str) -> dict[str, Any]:
        table = self.doc.get(key, {})
        if not isinstance(table, dict):
            raise self.fail(f"'{key}' must be an object of id -> entry, got {_show(table)}")
        return table

    def _list(self, key: str) -> list[Any] | None:
        found = self.doc.get(key)
        if found is None:
            return None
        if not isinstance(found, list):
            raise self.fail(f"'{key}' must be a list, got {_show(found)}")
        return found

    def _key_id(self, key: object, table: str) -> int:
        if type(key) is str and _ID_KEY.fullmatch(key):
            return int(key)
        raise self.fail(f"'{table}' has a key {_show(key)} that is not an id")

    def _keep_unknown(self, element: object, label: str, unknown: dict[str, Any]) -> None:
        kept = {}
        for key, value in unknown.items():
            try:
                kept[key] = _copy_json(value)
            except _Bad as bad:
                raise self.fail(f"{label}: {bad.field_message(key)}") from None
        self.unknown.elements[element] = kept

    # -- workflow-level fields ----------------------------------------------------------

    def _workflow_options(self) -> dict[str, Any]:
        doc = self.doc
        checks: dict[str, Callable[[Any], Any]] = {
            "name": _check_opt_str,
            "env": _check_env,
            "env_builder_code": _check_opt_str,
            "native_specification": _check_native_spec,
            "user_storage": _decode_plain,
            "disposal_timeout": _check_int,
        }
        options: dict[str, Any] = {}
        for key, check in checks.items():
            if key in doc:
                try:
                    options[key] = check(doc[key])
                except _Bad as bad:
                    raise self.fail(f"workflow: {bad.field_message(key)}") from None
        for key, value in doc.items():
            if key not in _WORKFLOW_KEYS:
                try:
                    self.unknown.workflow[key] = _copy_json(value)
                except _Bad as bad:
                    raise self.fail(f"workflow: {bad.field_message(str(key))}") from None
        return options

    # -- special paths --------------------------------------------------------------------

    def _read_paths(self) -> None:
        entries: dict[int, _PathEntry] = {}
        for kind in _PATH_KINDS:
            for key, raw in self._table(kind.table).items():
                entry = self._path_entry(kind, self._key_id(key, kind.table), raw)
                other = entries.get(entry.ident)
                if other is not None:
                    raise self.fail(f"id {entry.ident} names both {other.label} and {entry.label}")
                entries[entry.ident] = entry
        for entry in entries.values():
            if entry.referent is not None:
                target = entries.get(entry.referent)
                if target is None or target.kind is not entry.kind:
                    raise self.fail(
                        f"{entry.label}: field '{REFERENT_KEY}' refers to unknown "
                        f"{entry.kind.label} id {entry.referent}"
                    )
            if entry.parent[0] == "path" and entry.parent[1] not in entries:
                raise self.fail(
                    f"{entry.label}: field 'parent_path' refers to unknown special path id "
                    f"{_show(entry.parent[1])}"
                )
        for ident in entries:
            self._build_path(ident, entries)

    def _path_entry(self, kind: _PathKind, ident: int, raw: Any) -> _PathEntry:
        name = raw.get("name") if isinstance(raw, dict) else None
        label = _describe(kind.label, ident, name)
        if not isinstance(raw, dict):
            raise self.fail(f"{label} must be an object, got {_show(raw)}")
        values: dict[str, Any] = {}
        key = "?"
        try:
            for key, check, default in kind.fields:
                values[key] = check(raw[key]) if key in raw else default()
            key = "pattern"
            pattern = _check_pattern(raw.get("pattern", "%s"))
            key = REFERENT_KEY
            referent = _check_opt_int(raw.get(REFERENT_KEY))
            key = "parent_path"
            parent = self._option_parent(raw) if kind is _OPTION_KIND else ("none", None)
        except _Bad as bad:
            raise self.fail(f"{label}: {bad.field_message(key)}") from None
        known = {key for key, _check, _default in kind.fields}
        known.update(("pattern", REFERENT_KEY))
        if kind is _OPTION_KIND:
            known.update(_PARENT_KEYS)
        unknown = {key: value for key, value in raw.items() if key not in known}
        return _PathEntry(ident, kind, label, values, pattern, referent, parent, unknown)

    @staticmethod
    def _option_parent(raw: dict[str, Any]) -> tuple[str, Any]:
        parent_type = raw.get("parent_type", "str")
        parent = raw.get("parent_path")
        if not isinstance(parent_type, str):
            raise _got("a string", parent_type)
        if parent_type == "str" and isinstance(parent, str):
            return "str", parent
        if parent is None:
            return "none", None
        if (
            type(parent) is list
            and len(parent) == 3
            and parent[:2] == ["<tuple>", "<id>"]
            and type(parent[2]) is int
        ):
            return "path", parent[2]
        raise _got("a string (parent_type 'str'), a special path or null", parent)

    def _build_path(self, start: int, entries: dict[int, _PathEntry]) -> None:
        """Builds ``start`` after what it needs (referent, parent), without recursion.

        Everything above a waiting entry on the stack is something it needs, directly or
        not: meeting a waiting entry again is a loop.
        """
        stack = [start]
        waiting: set[int] = set()
        while stack:
            ident = stack[-1]
            if ident in self.paths:
                stack.pop()
                continue
            needed = [need for need in _needs(entries[ident]) if need not in self.paths]
            if not needed:
                self.paths[ident] = self._make_path(entries[ident])
                waiting.discard(ident)
                stack.pop()
                continue
            waiting.add(ident)
            for need in needed:
                if need in waiting:
                    loop = _find_loop(entries, need, ident)
                    labels = " -> ".join(entries[i].label for i in loop)
                    raise self.fail(f"special paths refer to each other in a loop: {labels}")
                stack.append(need)

    def _make_path(self, entry: _PathEntry) -> SpecialPath:
        values = entry.values
        if entry.referent is not None:
            path = self.paths[entry.referent].with_pattern(entry.pattern)
        else:
            path = entry.kind.make(values)
            path.pattern = entry.pattern
        for key, value in values.items():
            setattr(path, key, value)
        if isinstance(path, FileTransfer):
            path.is_input = path.initial_status == "on client side"
        if isinstance(path, OptionPath):
            kind, parent = entry.parent
            path.parent_path = self.paths[parent] if kind == "path" else parent
        if entry.unknown:
            self._keep_unknown(path, entry.label, entry.unknown)
        return path

    # -- jobs ---------------------------------------------------------------------------

    def _read_jobs(self) -> None:
        for table, default_class in (
            ("serialized_jobs", None),
            ("serialized_barriers", BarrierJob),  # soma-workflow's old format
        ):
            for key, raw in self._table(table).items():
                ident = self._key_id(key, table)
                if ident in self.jobs:
                    raise self.fail(f"job id {ident} is serialized twice")
                self.jobs[ident] = self._job(ident, raw, default_class)

    def _job_label(self, ident: int) -> str:
        return _describe("job", ident, self.jobs[ident].name)

    def _job(self, ident: int, raw: Any, job_class: type[Job] | None) -> Job:
        if job_class is None and type(raw) is dict:
            plain = _read_plain_job(raw)
            if plain is not None:
                return plain
        name = raw.get("name") if isinstance(raw, dict) else None
        label = _describe("job", ident, name)
        if not isinstance(raw, dict):
            raise self.fail(f"{label} must be an object, got {_show(raw)}")
        if job_class is None:
            job_class = self._job_class(raw, label)
        values: dict[str, Any] = {}
        unknown: dict[str, Any] | None = None
        paths = self.paths
        for key, value in raw.items():
            job_field = _JOB_FIELD_BY_KEY.get(key)
            if job_field is None:
                if key != "class":
                    unknown = unknown if unknown is not None else {}
                    unknown[key] = value
                continue
            try:
                values[key] = job_field.decode(value, paths)
            except _Bad as bad:
                raise self.fail(f"{label}: {bad.field_message(key)}") from None
        if "command" not in values and not issubclass(job_class, BarrierJob):
            raise self.fail(f"{label}: field 'command' is missing")
        if "name" not in raw and values.get("command") and isinstance(values["command"][0], str):
            values["name"] = values["command"][0]  # soma names such a job after argv[0]
        job = _BUILDER.build(job_class, values)
        if unknown:
            self._keep_unknown(job, label, unknown)
        return job

    def _job_class(self, raw: dict[str, Any], label: str) -> type[Job]:
        class_name = raw.get("class", JOB_CLASS)
        if not isinstance(class_name, str):
            raise self.fail(f"{label}: field 'class' must be a string, got {_show(class_name)}")
        found = _CLASSES.lookup(class_name)
        if found is None:
            known = ", ".join(sorted(_CLASSES.by_name))
            raise self.fail(f"{label}: unknown job class {class_name!r} (known: {known})")
        return found

    def _job_order(self) -> list[Job]:
        listed = self._list("jobs")
        if listed is None:
            return list(self.jobs.values())
        order: list[Job] = []
        seen: set[int] = set()
        for index, ident in enumerate(listed):
            job = self.jobs.get(ident) if type(ident) is int else None
            if job is None:
                raise self.fail(f"jobs[{index}] refers to unknown job id {_show(ident)}")
            if ident in seen:
                raise self.fail(f"jobs[{index}]: job id {ident} is listed twice")
            seen.add(ident)
            order.append(job)
        for ident in self.jobs:
            if ident not in seen:
                raise self.fail(f"{self._job_label(ident)} is serialized but not listed in 'jobs'")
        return order

    # -- groups ---------------------------------------------------------------------------

    def _read_groups(self) -> list[Group]:
        elements: dict[int, list[Any]] = {}
        for key, raw in self._table("serialized_groups").items():
            ident = self._key_id(key, "serialized_groups")
            name = raw.get("name") if isinstance(raw, dict) else None
            label = _describe("group", ident, name)
            if ident in self.jobs:
                raise self.fail(f"id {ident} names both {self._job_label(ident)} and {label}")
            elements[ident] = self._group_elements(raw, label)
            self.groups[ident] = self._group(raw, label)
        for ident, element_ids in elements.items():
            group = self.groups[ident]
            group.elements = [
                self._element(element, f"{self._group_label(ident)}: elements[{index}]")
                for index, element in enumerate(element_ids)
            ]
        self._check_group_nesting(elements)
        listed = self._list("groups")
        if listed is None:
            return list(self.groups.values())
        return self._listed_groups(listed)

    def _group_elements(self, raw: Any, label: str) -> list[Any]:
        if not isinstance(raw, dict):
            raise self.fail(f"{label} must be an object, got {_show(raw)}")
        found = raw.get("elements")
        if not isinstance(found, list):
            raise self.fail(f"{label}: field 'elements' must be a list of ids, got {_show(found)}")
        return found

    def _group(self, raw: dict[str, Any], label: str) -> Group:
        name = raw.get("name")
        if not isinstance(name, str):
            raise self.fail(f"{label}: field 'name' must be a string, got {_show(name)}")
        try:
            user_storage = _decode_value(raw.get("user_storage"), None)
        except _Bad as bad:
            raise self.fail(f"{label}: {bad.field_message('user_storage')}") from None
        group = Group([], name, user_storage)
        unknown = {k: v for k, v in raw.items() if k not in ("name", "elements", "user_storage")}
        if unknown:
            self._keep_unknown(group, label, unknown)
        return group

    def _group_label(self, ident: int) -> str:
        return _describe("group", ident, self.groups[ident].name)

    def _element(self, ident: object, where: str) -> Job | Group:
        if type(ident) is int:
            job = self.jobs.get(ident)
            if job is not None:
                return job
            group = self.groups.get(ident)
            if group is not None:
                return group
        raise self.fail(f"{where} refers to unknown job or group id {_show(ident)}")

    def _check_group_nesting(self, elements: dict[int, list[Any]]) -> None:
        """Groups must not contain themselves: walking them would never end."""
        groups = self.groups
        inner = {
            ident: [e for e in ids if type(e) is int and e in groups]
            for ident, ids in elements.items()
        }
        done: set[int] = set()
        for start in groups:
            if start in done:
                continue
            path = [start]
            on_path = {start}
            stack = [iter(inner[start])]
            while stack:
                child = next(stack[-1], None)
                if child is None:
                    finished = path.pop()
                    on_path.discard(finished)
                    done.add(finished)
                    stack.pop()
                    continue
                if child in on_path:
                    loop = [*path[path.index(child) :], child]
                    labels = " -> ".join(self._group_label(ident) for ident in loop)
                    raise self.fail(f"groups contain each other: {labels}")
                if child not in done:
                    path.append(child)
                    on_path.add(child)
                    stack.append(iter(inner[child]))

    def _listed_groups(self, listed: list[Any]) -> list[Group]:
        order: list[Group] = []
        seen: set[int] = set()
        for index, ident in enumerate(listed):
            group = self.groups.get(ident) if type(ident) is int else None
            if group is None:
                raise self.fail(f"groups[{index}] refers to unknown group id {_show(ident)}")
            if ident in seen:
                raise self.fail(f"groups[{index}]: group id {ident} is listed twice")
            seen.add(ident)
            order.append(group)
        for ident in self.groups:
            if ident not in seen:
                raise self.fail(f"{self._group_label(ident)} is serialized but not in 'groups'")
        return order

    def _root_group(self) -> list[Job | Group] | None:
        listed = self._list("root_group")
        if listed is None:
            return None
        return [self._element(ident, f"root_group[{i}]") for i, ident in enumerate(listed)]

    # -- dependencies and param links -----------------------------------------------------

    def _dependencies(self) -> list[tuple[Element, Element]]:
        listed = self._list("dependencies") or []
        jobs = self.jobs
        out: list[tuple[Element, Element]] = []
        append = out.append
        for index, raw in enumerate(listed):
            pair = raw[1:] if type(raw) is list and raw[:1] == ["<tuple>"] else raw
            if type(pair) is not list or len(pair) != 2:
                raise self.fail(f"dependency #{index} must be a pair of job ids, got {_show(raw)}")
            parent_id, child_id = pair
            parent = jobs.get(parent_id) if type(parent_id) is int else None
            child = jobs.get(child_id) if type(child_id) is int else None
            if parent is None or child is None:
                unknown = parent_id if parent is None else child_id
                raise self.fail(f"dependency #{index} refers to unknown job id {_show(unknown)}")
            append((parent, child))
        return out

    def _param_links(self) -> dict[Job, dict[str, list[tuple[Any, ...]]]]:
        raw_links = self.doc.get("param_links") or {}
        if not isinstance(raw_links, dict):
            raise self.fail(f"'param_links' must be an object, got {_show(raw_links)}")
        out: dict[Job, dict[str, list[tuple[Any, ...]]]] = {}
        for key, by_param in raw_links.items():
            dest_id = self._key_id(key, "param_links")
            destination = self.jobs.get(dest_id)
            if destination is None:
                raise self.fail(f"param_links refers to unknown job id {dest_id}")
            label = self._job_label(dest_id)
            if not isinstance(by_param, dict):
                raise self.fail(f"param links of {label} must be an object, got {_show(by_param)}")
            out[destination] = {
                param: self._links(f"param link {param!r} of {label}", sources)
                for param, sources in by_param.items()
            }
        return out

    def _links(self, where: str, sources: Any) -> list[tuple[Any, ...]]:
        if not isinstance(sources, list):
            raise self.fail(f"{where} must be a list of links, got {_show(sources)}")
        out = []
        for index, raw in enumerate(sources):
            items = raw[1:] if type(raw) is list and raw[:1] == ["<tuple>"] else raw
            if type(items) is not list or not 2 <= len(items) <= 3:
                raise self.fail(
                    f'{where} #{index} must be ["<tuple>", job_id, param(, function)], '
                    f"got {_show(raw)}"
                )
            source = self.jobs.get(items[0]) if type(items[0]) is int else None
            if source is None:
                raise self.fail(f"{where} #{index} refers to unknown job id {_show(items[0])}")
            try:
                rest = [_check_str(items[1]), *(_decode_function(f) for f in items[2:])]
            except _Bad as bad:
                raise self.fail(f"{where} #{index}: {bad.field_message('link')}") from None
            out.append((source, *rest))
        return out


#: The keys soma writes for a common Job, see ``_read_plain_job``.
_PLAIN_JOB_KEYS: Final = frozenset(
    (
        "class",
        "name",
        "join_stderrout",
        "priority",
        "native_specification",
        "parallel_job_info",
        "disposal_timeout",
        "env",
        "use_input_params_file",
        "has_outputs",
        "configuration",
        "command",
    )
)


def _read_plain_job(raw: dict[str, Any]) -> Job | None:
    """A common Job read in one go, or None when it needs the field by field path.

    Common: exactly the keys soma writes for a Job with a command of strings and
    nothing else set (what ``_plain_job`` writes). Three times faster than the general
    path on a million jobs; tested to build the same job.
    """
    if len(raw) != len(_PLAIN_JOB_KEYS) or raw.keys() != _PLAIN_JOB_KEYS:
        return None
    name = raw["name"]
    native_specification = raw["native_specification"]
    priority = raw["priority"]
    disposal_timeout = raw["disposal_timeout"]
    join_stderrout = raw["join_stderrout"]
    use_input_params_file = raw["use_input_params_file"]
    has_outputs = raw["has_outputs"]
    configuration = raw["configuration"]
    command = raw["command"]
    if (
        raw["class"] != JOB_CLASS
        or not (name is None or type(name) is str)
        or not (native_specification is None or type(native_specification) is str)
        or type(priority) is not int
        or type(disposal_timeout) is not int
        or not (join_stderrout is True or join_stderrout is False)
        or not (use_input_params_file is True or use_input_params_file is False)
        or not (has_outputs is True or has_outputs is False)
        or raw["parallel_job_info"] is not None
        or raw["env"] is not None
        or not (type(configuration) is dict and not configuration)
        or type(command) is not list
    ):
        return None
    for item in command:
        if type(item) is not str:
            return None
    job = Job.__new__(Job)
    job.command = list(command)
    job.referenced_input_files = None
    job.referenced_output_files = None
    job.stdin = None
    job.join_stderrout = join_stderrout
    job.disposal_timeout = disposal_timeout
    job.name = name
    job.stdout_file = None
    job.stderr_file = None
    job.working_directory = None
    job.parallel_job_info = None
    job.priority = priority
    job.native_specification = native_specification
    job.user_storage = None
    job.env = None
    job.param_dict = {}
    job.use_input_params_file = use_input_params_file
    job.has_outputs = has_outputs
    job.input_params_file = None
    job.output_params_file = None
    job.configuration = {}
    job.job_id = None
    return job


def _needs(entry: _PathEntry) -> list[int]:
    """The entries ``entry`` is built from: its referent, its parent path."""
    needs = [] if entry.referent is None else [entry.referent]
    if entry.parent[0] == "path":
        needs.append(entry.parent[1])
    return needs


def _find_loop(entries: dict[int, _PathEntry], start: int, goal: int) -> list[int]:
    """``goal -> start -> ... -> goal`` following needs (``goal`` needs ``start``)."""
    previous: dict[int, int] = {start: start}
    queue = [start]
    for ident in queue:  # breadth first, so the loop shown is a shortest one
        if ident == goal:
            break
        for need in _needs(entries[ident]):
            if need not in previous:
                previous[need] = ident
                queue.append(need)
    path = [goal]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return [goal, *reversed(path)]


def _decode_function(raw: Any) -> Any:
    function = _decode_value(raw, None)
    if isinstance(function, str):
        return function
    if isinstance(function, tuple) and function and isinstance(function[0], str):
        return function
    raise _got('"module.function" or ["<tuple>", "module.function", *args]', raw)


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Cyclic GC off while building millions of acyclic dicts and lists.

    Every 700 new containers CPython runs a collection, and the older generations get
    walked over and over while the document grows: that doubles the time of a
    million-job workflow for nothing, as nothing built here is a cycle.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def workflow_to_dict(workflow: Workflow) -> dict[str, Any]:
    """``workflow`` as soma-workflow's JSON document (a dict ready for ``json.dumps``).

    Raises SerializationError naming the element and field that cannot be written.
    """
    try:
        with _gc_paused():
            return _Writer(workflow).write()
    except RecursionError:
        raise SerializationError(
            f"workflow {getattr(workflow, 'name', None)!r}: nested too deeply to write"
        ) from None


def workflow_from_dict(doc: Any, source: str = "<document>") -> Workflow:
    """The workflow of a soma-workflow JSON document (as ``json.loads`` returns it).

    Raises SerializationError naming ``source``, the element and the field at fault.
    """
    try:
        with _gc_paused():
            return _Reader(doc, source).read()
    except RecursionError:
        raise SerializationError(f"{source}: document nested too deeply") from None


def dumps(workflow: Workflow, indent: int | None = None) -> str:
    """The JSON text of ``workflow`` (``Helper.serialize`` without the file).

    soma-workflow indents by 4; the default (no indentation) is several times faster.
    """
    with _gc_paused():
        return json.dumps(workflow_to_dict(workflow), indent=indent)


def loads(text: str | bytes, source: str = "<string>") -> Workflow:
    """The workflow in JSON ``text`` (``Helper.unserialize`` without the file)."""
    try:
        with _gc_paused():
            doc = json.loads(text)
    except json.JSONDecodeError as error:
        raise SerializationError(
            f"{source}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise SerializationError(f"{source}: JSON nested too deeply") from None
    except (UnicodeDecodeError, TypeError) as error:
        raise SerializationError(f"{source}: not JSON text ({error})") from None
    return workflow_from_dict(doc, source)
