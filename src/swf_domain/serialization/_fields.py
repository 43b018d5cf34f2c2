"""The fields of a job entry: codec, default, and when soma-workflow writes each.

``JOB_FIELDS`` is in soma-workflow's writing order, which is also the order in which
special paths get their ids. ``JobBuilder`` makes a job of any registered class from
decoded fields without calling its ``__init__``: a custom job's constructor adds
defaults (MapJob's ``input_names``...) that would change what the document says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, Final

from ..model import BarrierJob, Job, SpecialPath
from ._values import (
    Bad,
    PathNumbering,
    PathsById,
    decode_command_item,
    decode_items,
    decode_value,
    encode_command_item,
    encode_value,
    resolve_path,
    show,
)

DEFAULT_DISPOSAL: Final = 168


Decoder = Callable[[Any, PathsById], Any]
Encoder = Callable[[Any, PathNumbering], Any]


def got(expected: str, raw: object) -> Bad:
    return Bad(f"must be {expected}, got {show(raw)}")


# The checks test the exact type first: they run a few million times for a big workflow.


def check_str(raw: Any, paths: object = None) -> str:
    if type(raw) is str:
        return raw
    if not isinstance(raw, str):
        raise got("a string", raw)
    return str(raw)


def check_opt_str(raw: Any, paths: object = None) -> str | None:
    if raw is None or type(raw) is str:
        return raw
    if not isinstance(raw, str):
        raise got("a string or null", raw)
    return str(raw)


def check_bool(raw: Any, paths: object = None) -> bool:
    if raw is True or raw is False:
        return raw
    raise got("true or false", raw)


def check_int(raw: Any, paths: object = None) -> int:
    if type(raw) is int:
        return raw
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise got("an int", raw)
    return int(raw)


def check_opt_int(raw: Any, paths: object = None) -> int | None:
    return None if raw is None else check_int(raw)


def check_str_list(raw: Any, what: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise got(what, raw)
    return [str(item) for item in raw]


def check_native_spec(raw: Any, paths: object = None) -> str | list[str] | None:
    """A string, or a list of options (soma accepts both, e.g. for SLURM)."""
    if raw is None or isinstance(raw, str):
        return raw
    return check_str_list(raw, "a string, a list of strings or null")


def check_attempts(raw: Any, paths: object = None) -> int | None:
    if raw is None or (type(raw) is int and raw >= 1):
        return raw
    raise got("a whole number >= 1 or null", raw)


def check_opt_str_list(raw: Any, paths: object = None) -> list[str] | None:
    return None if raw is None else check_str_list(raw, "a list of strings or null")


def check_env(raw: Any, paths: object = None) -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise got("an object of strings or null", raw)
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise Bad(f"must map strings to strings, got {show(key)}: {show(value)}")
    return dict(raw)


def decode_plain(raw: Any, paths: object = None) -> Any:
    return decode_value(raw, None)


def decode_opt_plain_dict(raw: Any, paths: object = None) -> dict[str, Any] | None:
    if raw is not None and type(raw) is not dict:
        raise got("an object or null", raw)
    return decode_value(raw, None)  # type: ignore[no-any-return]


def decode_configuration(raw: Any, paths: object = None) -> dict[str, Any]:
    return decode_opt_plain_dict(raw) or {}


def decode_command(raw: Any, paths: PathsById) -> list[Any]:
    if type(raw) is not list:
        raise got("a list", raw)
    for item in raw:
        if type(item) is not str:
            return decode_items(raw, 0, lambda item: decode_command_item(item, paths))
    return list(raw)


def decode_files(raw: Any, paths: PathsById) -> list[Any] | None:
    return None if raw is None else decode_command(raw, paths)


def decode_path(raw: Any, paths: PathsById) -> str | SpecialPath | None:
    if raw is None or type(raw) is str:
        return raw
    if type(raw) is list and len(raw) == 3 and raw[0] == "<tuple>" and raw[1] == "<id>":
        return resolve_path(raw[2], paths)
    raise got("a string, a special path or null", raw)


def decode_param_dict(raw: Any, paths: PathsById) -> dict[str, Any]:
    if raw is None:
        return {}
    if type(raw) is not dict:
        raise got("an object", raw)
    return decode_value(raw, paths)  # type: ignore[no-any-return]


def encode_plain(value: Any, paths: object = None) -> Any:
    return encode_value(value, None)


def encode_opt_plain_dict(value: Any, paths: object = None) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise got("a dict or None", value)
    return encode_value(value, None)


def encode_configuration(value: Any, paths: object = None) -> Any:
    if not value:
        return {}
    return encode_opt_plain_dict(value)


def encode_native_spec(value: Any, paths: object = None) -> Any:
    if value is None or type(value) is str:
        return value
    if isinstance(value, tuple):
        value = list(value)
    spec = check_native_spec(value)
    return list(spec) if isinstance(spec, list) else spec


def encode_command(value: Any, paths: PathNumbering) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise got("a list", value)
    for item in value:
        if type(item) is not str:
            return decode_items(list(value), 0, lambda item: encode_command_item(item, paths))
    return list(value)


def encode_files(value: Any, paths: PathNumbering) -> list[Any] | None:
    return None if value is None else encode_command(value, paths)


def encode_path(value: Any, paths: PathNumbering) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, SpecialPath):
        return paths.reference(value)
    raise got("a string, a special path or None", value)


def encode_param_dict(value: Any, paths: PathNumbering) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise got("a dict", value)
    return encode_value(value, paths)


def always(value: Any) -> bool:
    return True


def truthy(value: Any) -> bool:
    return bool(value)


def not_none(value: Any) -> bool:
    return value is not None


@dataclass(frozen=True, slots=True)
class Field:
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


def constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def differs_from(default: Any) -> Callable[[Any], bool]:
    return lambda value: value != default


def make_field(
    key: str,
    codec: tuple[Decoder, Encoder],
    default: Any,
    job_writes: Callable[[Any], bool] = always,
    barrier_writes: Callable[[Any], bool] | None = None,
    factory: Callable[[], Any] | None = None,
) -> Field:
    if barrier_writes is None:
        barrier_writes = job_writes if job_writes is not always else differs_from(default)
    return Field(key, codec[0], codec[1], factory or constant(default), job_writes, barrier_writes)


STR_CODEC = (check_opt_str, check_opt_str)
BOOL_CODEC = (check_bool, check_bool)
INT_CODEC = (check_int, check_int)
PATH_CODEC = (decode_path, encode_path)
FILES_CODEC = (decode_files, encode_files)

#: In soma's writing order: special paths are numbered in this order.
JOB_FIELDS: Final = (
    make_field("name", STR_CODEC, None, barrier_writes=always),
    make_field("join_stderrout", BOOL_CODEC, False),
    make_field("priority", INT_CODEC, 0),
    make_field("native_specification", (check_native_spec, encode_native_spec), None),
    make_field("parallel_job_info", (decode_opt_plain_dict, encode_opt_plain_dict), None),
    make_field("disposal_timeout", INT_CODEC, DEFAULT_DISPOSAL, barrier_writes=always),
    make_field("env", (check_env, check_env), None),
    make_field("use_input_params_file", BOOL_CODEC, False),
    make_field("has_outputs", BOOL_CODEC, False),
    make_field("configuration", (decode_configuration, encode_configuration), {}, factory=dict),
    make_field("command", (decode_command, encode_command), [], factory=list),
    make_field("referenced_input_files", FILES_CODEC, None, truthy),
    make_field("referenced_output_files", FILES_CODEC, None, truthy),
    make_field("stdin", PATH_CODEC, None, truthy),
    make_field("stdout_file", PATH_CODEC, None, truthy),
    make_field("stderr_file", PATH_CODEC, None, truthy),
    make_field("input_params_file", PATH_CODEC, None, truthy),
    make_field("output_params_file", PATH_CODEC, None, truthy),
    make_field("working_directory", PATH_CODEC, None, truthy),
    make_field("param_dict", (decode_param_dict, encode_param_dict), {}, truthy, factory=dict),
    # soma-workflow 6.0.13 drops user_storage; swf keeps it (soma ignores the key)
    make_field("user_storage", (decode_plain, encode_plain), None, not_none),
    # swf's retries (soma-workflow ignores the key; written only when set)
    make_field("attempts", (check_attempts, check_attempts), None, not_none),
)
JOB_FIELD_BY_KEY: Final = {job_field.key: job_field for job_field in JOB_FIELDS}
#: What writing a job does per field: (key, encoder, condition or None for always).
JOB_PLAN: Final = tuple(
    (f.key, f.encode, None if f.job_writes is always else f.job_writes) for f in JOB_FIELDS
)
BARRIER_PLAN: Final = tuple(
    (f.key, f.encode, None if f.barrier_writes is always else f.barrier_writes) for f in JOB_FIELDS
)


class JobBuilder:
    """Makes a job of any registered class from decoded fields, without ``__init__``.

    A custom job's constructor fills in defaults (MapJob adds ``input_names``...) that
    would change what the document says: the document is taken as it is.
    """

    def __init__(self) -> None:
        self.extra_defaults: dict[type[Job], list[tuple[str, Callable[[], Any]]]] = {}

    def build(self, job_class: type[Job], values: dict[str, Any]) -> Job:
        job = job_class.__new__(job_class)
        for job_field in JOB_FIELDS:
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
            known = {*JOB_FIELD_BY_KEY, "job_id"}
            found = [
                (extra.name, field_default(job_class, extra.name, extra.default, extra))
                for extra in fields(job_class)
                if extra.name not in known
            ]
            self.extra_defaults[job_class] = found
        return found


def field_default(job_class: type, name: str, default: Any, spec: Any) -> Callable[[], Any]:
    if default is not MISSING:
        return constant(default)
    if spec.default_factory is not MISSING:
        return spec.default_factory  # type: ignore[no-any-return]
    raise TypeError(f"job class {job_class.__name__}: field {name!r} has no default")


BUILDER = JobBuilder()
