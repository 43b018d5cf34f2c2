"""Rendering a job's command and paths into what a process on the resource gets.

A command is a list mixing plain values and special paths whose real location is only
known on the computing resource. ``render_command`` turns it into argv exactly as
soma-workflow's engine does (checked by running it):

- a string is kept; an int or float becomes ``str(value)``;
- a special path becomes its location on the resource, its ``pattern`` applied
  (``'--in=' + transfer`` -> ``--in=/resource/path``); a multi-file FileTransfer
  (``client_paths``) renders as its main file: ``<engine dir>/<basename(client_path)>``;
- ``(path, "name")`` is a file inside a transferred directory: ``<dir>/name``;
- a nested list whose first item is ``"<join>"`` concatenates the others: ``"ab"``;
- any other nested list or tuple is rendered item by item and written as a Python
  literal: ``["a", 1]`` -> ``"['a', 1]"``, ``("a", "b")`` -> ``"('a', 'b')"``;
- then each ``%(name)s`` (or ``%(name)d`` / ``%(name)f``) in a rendered string is
  replaced by ``str(value)`` of ``param_dict[name]`` (no numeric formatting: ``%(x)f``
  with 3.5 gives ``3.5``); a name without value (absent or None) stays as it is. A string
  that is exactly one placeholder is replaced by the rendered value itself: a list value
  gives its items rendered like command items, inside a Python literal.

Deliberate differences from soma-workflow, all where it gives unusable results: two
placeholders in one string are both replaced (soma's greedy pattern replaces neither),
a special path inside a partially substituted string renders as its location (soma
writes the object's repr), an OptionPath keeps its parent's pattern, and a
``container_command`` with ``{#command}`` receives the substituted command.

Job parameter files (``use_input_params_file`` / ``has_outputs``): the engine writes
``input_params_document`` as JSON to ``input_params_file`` and exports its path as
``SOMAWF_INPUT_PARAMS``; the job writes a JSON object of its outputs to
``output_params_file``, exported as ``SOMAWF_OUTPUT_PARAMS``, read back with
``decode_output_params``. Values use soma's JSON markers (``["<tuple>", ...]``,
``["<set>", ...]``) so tuples and sets survive.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .errors import JobError
from .job_rules import CONFIGURATION_PARAM, PLACEHOLDER, job_label
from .model import FileTransfer, Job, OptionPath, SharedResourcePath, SpecialPath
from .translation import TranslationTable, translated_root_path

#: Environment variable holding the input parameters file path, set for the job.
INPUT_PARAMS_ENV = "SOMAWF_INPUT_PARAMS"
#: Environment variable holding the output parameters file path, set for the job.
OUTPUT_PARAMS_ENV = "SOMAWF_OUTPUT_PARAMS"
#: Placeholder of a container command replaced by the quoted job command.
CONTAINER_COMMAND_SLOT = "{#command}"


class PathResolver(Protocol):
    """Where special paths are on the computing resource (supplied by the engine).

    ``resolve`` gets a referent (``path.referent()``: patterns are applied here, not by
    the resolver) of one of three kinds: a TemporaryPath (its engine path), a
    FileTransfer (its engine path: the directory for a multi-file transfer) or a
    SharedResourcePath (its translated path). OptionPaths are composed here from their
    parent, so the resolver never sees one.
    """

    def resolve(self, path: SpecialPath) -> str: ...


class MappingResolver:
    """A PathResolver from known engine paths plus a translation table.

    ``paths`` maps referents to engine paths (what the engine assigned to transfers and
    temporary paths); shared resource paths are translated with ``translations``.
    """

    def __init__(
        self,
        paths: Mapping[SpecialPath, str] | None = None,
        translations: TranslationTable | None = None,
    ) -> None:
        self.paths: dict[SpecialPath, str] = dict(paths or {})
        self.translations = translations if translations is not None else TranslationTable()

    def resolve(self, path: SpecialPath) -> str:
        found = self.paths.get(path)
        if found is not None:
            return found
        if isinstance(path, SharedResourcePath):
            return translated_root_path(path, self.translations)
        raise JobError(f"no location on the resource for {type(path).__name__} {path_name(path)}")


def path_name(path: SpecialPath) -> str:
    """A short human name of a special path, for messages."""
    for attribute in ("name", "client_path", "relative_path"):
        value = getattr(path, attribute, None)
        if value:
            return repr(value)
    return f"at 0x{id(path):x}"


# ---------------------------------------------------------------------------------------
# Special paths
# ---------------------------------------------------------------------------------------


def main_path(path: SpecialPath, resolver: PathResolver) -> str:
    """The location a special path designates in a command (its pattern applied)."""
    return path.apply_pattern(_main_location(path, resolver))


def directory_path(path: SpecialPath, resolver: PathResolver) -> str:
    """The location of a path used as a directory, in ``(path, "name")`` items.

    Differs from ``main_path`` for a multi-file FileTransfer only: its directory rather
    than its main file.
    """
    if isinstance(path, OptionPath):
        return main_path(path, resolver)
    return path.apply_pattern(resolver.resolve(path.referent()))


def _main_location(path: SpecialPath, resolver: PathResolver) -> str:
    if isinstance(path, OptionPath):
        parent = path.parent_path
        if isinstance(parent, SpecialPath):
            base = main_path(parent, resolver)
        else:
            base = "" if parent is None else str(parent)
        return base + path.uri
    location = resolver.resolve(path.referent())
    if isinstance(path, FileTransfer) and path.client_paths and path.client_path:
        location = posixpath.join(location, posixpath.basename(path.client_path))
    return location


def render_path(item: str | SpecialPath | None, resolver: PathResolver) -> str | None:
    """A stdin / stdout_file / stderr_file / working_directory / params file value."""
    if item is None or type(item) is str:
        return item
    if isinstance(item, SpecialPath):
        return main_path(item, resolver)
    return str(item)


# ---------------------------------------------------------------------------------------
# Command
# ---------------------------------------------------------------------------------------


def command_params(job: Job) -> dict[str, Any]:
    """The values ``%(name)s`` placeholders take in ``job``'s command.

    The job's ``param_dict``, plus ``configuration_dict`` (the job's configuration as
    JSON text) when the job has a configuration and no input params file to carry it.
    """
    params = dict(job.param_dict or {})
    if job.configuration and not job.use_input_params_file:
        params[CONFIGURATION_PARAM] = json.dumps(job.configuration)
    return params


def render_command(
    job: Job, resolver: PathResolver, params: Mapping[str, Any] | None = None
) -> list[str]:
    """``job``'s command as argv on the resource (see the module docstring for rules).

    ``params`` overrides ``command_params(job)`` (e.g. after param links were applied).
    A command of plain strings without ``%(`` is returned as a copy, nothing else done.
    """
    command = job.command
    try:
        joined = "".join(command)  # type: ignore[arg-type]  # TypeError: not all strings
    except TypeError:
        joined = None
    if joined is not None and "%(" not in joined:
        return list(command)  # type: ignore[arg-type]  # all strings, checked by join
    renderer = _Renderer(resolver)
    argv = [str(renderer.top(item)) for item in command]
    values = command_params(job) if params is None else params
    if values:
        argv = [renderer.substitute(arg, values) if "%(" in arg else arg for arg in argv]
    return argv


def render_container_command(container: Sequence[str], argv: Sequence[str]) -> list[str]:
    """The argv run through a container prefix (resource option CONTAINER_COMMAND).

    Items containing ``{#command}`` get the job's argv there as one string of
    double-quoted arguments (``"a" "b \\"c\\""``); without such an item the job's argv
    is appended to the prefix.
    """
    if not any(CONTAINER_COMMAND_SLOT in item for item in container):
        return [*container, *argv]
    quoted = " ".join('"' + arg.replace('"', '\\"') + '"' for arg in argv)
    return [item.replace(CONTAINER_COMMAND_SLOT, quoted) for item in container]


class _Renderer:
    """soma-workflow's rendering levels: top-level items vs items inside a nested list."""

    __slots__ = ("resolver",)

    def __init__(self, resolver: PathResolver) -> None:
        self.resolver = resolver

    def nested(self, item: Any) -> Any:
        """An item inside a nested list: containers stay containers, paths become strings."""
        if type(item) is str:
            return item
        if isinstance(item, SpecialPath):
            return main_path(item, self.resolver)
        if isinstance(item, tuple) and _is_file_in_directory(item):
            return posixpath.join(directory_path(item[0], self.resolver), item[1])
        if isinstance(item, (list, tuple)):
            return self.joined_or(item, [self.nested(sub_item) for sub_item in item])
        return item

    def top(self, item: Any) -> Any:
        """A command item: nested containers become their Python literal."""
        rendered = self.nested(item)
        return repr(rendered) if isinstance(rendered, (list, tuple)) else rendered

    def whole_value(self, value: Any) -> Any:
        """A parameter value replacing a whole command item (soma renders it as a command)."""
        if isinstance(value, (list, tuple)) and not _is_file_in_directory(value):
            rendered = self.joined_or(value, [self.top(sub_item) for sub_item in value])
            return repr(rendered) if isinstance(rendered, (list, tuple)) else rendered
        return self.top(value)

    @staticmethod
    def joined_or(original: list[Any] | tuple[Any, ...], rendered: list[Any]) -> Any:
        """``"<join>"`` lists concatenate; tuples stay tuples; lists stay lists."""
        if rendered and rendered[0] == "<join>":
            return "".join(str(part) for part in rendered[1:])
        return tuple(rendered) if isinstance(original, tuple) else rendered

    def substitute(self, arg: str, params: Mapping[str, Any]) -> str:
        """``arg`` with its ``%(name)s`` placeholders replaced by their values."""
        whole = PLACEHOLDER.fullmatch(arg)
        if whole is not None:
            value = params.get(whole.group(1))
            return arg if value is None else str(self.whole_value(value))

        def replace(match: Any) -> str:
            value = params.get(match.group(1))
            return match.group(0) if value is None else str(self.top(value))

        return PLACEHOLDER.sub(replace, arg)


def _is_file_in_directory(item: Sequence[Any]) -> bool:
    return (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], SpecialPath)
        and isinstance(item[1], str)
    )


# ---------------------------------------------------------------------------------------
# Parameter files
# ---------------------------------------------------------------------------------------


def params_file_env(job: Job, resolver: PathResolver) -> dict[str, str]:
    """The SOMAWF_INPUT_PARAMS / SOMAWF_OUTPUT_PARAMS variables the job's process gets."""
    env: dict[str, str] = {}
    if job.use_input_params_file and job.input_params_file is not None:
        env[INPUT_PARAMS_ENV] = str(render_path(job.input_params_file, resolver))
    if job.has_outputs and job.output_params_file is not None:
        env[OUTPUT_PARAMS_ENV] = str(render_path(job.output_params_file, resolver))
    return env


def input_params_document(
    job: Job, resolver: PathResolver, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON document of an input params file.

    ``{"parameters": {name: value}}`` with special paths replaced by their locations
    (``(path, "name")`` joined, ``"<join>"`` lists concatenated, other containers kept),
    plus ``"configuration_dict": <job.configuration>`` when the job has one. ``params``
    overrides ``job.param_dict``.
    """
    values = (job.param_dict or {}) if params is None else params
    resolved = {name: _paths_only(value, resolver) for name, value in values.items()}
    document: dict[str, Any] = {"parameters": to_params_json(resolved)}
    if job.configuration:
        document["configuration_dict"] = to_params_json(job.configuration)
    return document


def _paths_only(value: Any, resolver: PathResolver) -> Any:
    """Replace special paths by their locations, leaving every other value as it is."""
    if isinstance(value, SpecialPath):
        return main_path(value, resolver)
    if isinstance(value, tuple) and _is_file_in_directory(value):
        return posixpath.join(directory_path(value[0], resolver), value[1])
    if isinstance(value, (list, tuple)):
        rendered = [_paths_only(item, resolver) for item in value]
        return _Renderer.joined_or(value, rendered)
    if isinstance(value, dict):
        return {key: _paths_only(item, resolver) for key, item in value.items()}
    return value


def to_params_json(value: Any) -> Any:
    """``value`` with tuples and sets marked so JSON keeps them (soma's markers)."""
    if isinstance(value, tuple):
        return ["<tuple>", *(to_params_json(item) for item in value)]
    if isinstance(value, (set, frozenset)):
        return ["<set>", *(to_params_json(item) for item in value)]
    if isinstance(value, list):
        return [to_params_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_params_json(item) for key, item in value.items()}
    return value


def from_params_json(value: Any) -> Any:
    """Reverse of ``to_params_json`` (``["<undefined>"]`` reads as None)."""
    if isinstance(value, dict):
        return {key: from_params_json(item) for key, item in value.items()}
    if not isinstance(value, list) or not value:
        return value
    marker = value[0]
    if marker == "<tuple>":
        return tuple(from_params_json(item) for item in value[1:])
    if marker == "<set>":
        return {_hashable(from_params_json(item)) for item in value[1:]}
    if marker == "<undefined>" and len(value) == 1:
        return None
    return [from_params_json(item) for item in value]


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def decode_output_params(document: Any, job: Job) -> dict[str, Any]:
    """The output parameters from a job's parsed output params file.

    The file must hold a JSON object; anything else is a JobError naming the job.
    """
    if not isinstance(document, dict):
        raise JobError(
            f"{job_label(job)}: output params file must hold a JSON object, "
            f"got {type(document).__name__}"
        )
    decoded: dict[str, Any] = from_params_json(document)
    return decoded
