"""Parsers from option text to typed values, in soma-workflow's syntaxes.

Each parser raises :class:`BadValue` with a reason ("must be an integer >= 1"); the loader
adds where the value came from and the value itself, so every message names file,
section, option and the culprit.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Mapping

SCHEDULER_TYPES: tuple[str, ...] = ("local_basic", "drmaa", "drmaa2", "pbspro", "slurm", "mpi")
_SCHEDULER_ALIASES = {"local": "local_basic"}
LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "NOTSET")
_LOG_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}
_TRUE = frozenset({"1", "yes", "true", "on"})
_FALSE = frozenset({"0", "no", "false", "off"})

#: ``name{value}`` or ``{value}``, soma-workflow's syntax for per-queue settings.
_BRACED = re.compile(r"(?P<name>[^\s{}]*)\{(?P<value>[^{}]*)\}")
_ENV_REFERENCE = re.compile(r"\$(?:(?P<plain>\w+)|\{(?P<braced>[^}]*)\})")


class BadValue(ValueError):
    """An option's text does not fit its type; the message says what was expected."""


def parse_int(text: str, *, minimum: int, maximum: int | None = None) -> int:
    """A decimal integer within bounds."""
    try:
        number = int(text.strip())
    except ValueError:
        raise BadValue(_bounds_phrase("an integer", minimum, maximum)) from None
    if number < minimum or (maximum is not None and number > maximum):
        raise BadValue(_bounds_phrase("an integer", minimum, maximum))
    return number


def parse_seconds(text: str) -> float:
    """A non-negative number of seconds (``0`` means never)."""
    try:
        seconds = float(text.strip())
    except ValueError:
        raise BadValue("must be a number of seconds >= 0") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise BadValue("must be a number of seconds >= 0")
    return seconds


def parse_bool(text: str) -> bool:
    """configparser's booleans: soma-workflow writes ``1``/``0``; ``yes``/``true``... work."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise BadValue("must be a boolean (1/0, yes/no, true/false, on/off)")


def parse_scheduler_type(text: str) -> str:
    """One of the scheduler kinds swf can drive; ``local`` is soma's alias of ``local_basic``."""
    name = text.strip()
    name = _SCHEDULER_ALIASES.get(name, name)
    if name in SCHEDULER_TYPES:
        return name
    from swf_adapters.schedulers.registry import installed  # third-party ones (slower)

    plugged = installed()
    if name not in plugged:
        raise BadValue(f"must be one of {', '.join(dict.fromkeys([*SCHEDULER_TYPES, *plugged]))}")
    return name


def parse_log_level(text: str) -> str:
    """A :mod:`logging` level name, returned in upper case."""
    level = text.strip().upper()
    level = _LOG_LEVEL_ALIASES.get(level, level)
    if level not in LOG_LEVELS:
        raise BadValue(f"must be a logging level ({', '.join(LOG_LEVELS)})")
    return level


def parse_queue_limits(text: str) -> dict[str | None, int]:
    """``{N} queue1{M} queue2{K}``: per-queue job limits; ``{N}`` is the default queue's.

    A bare ``N`` is accepted as the default queue's limit (swf's shorthand; soma-workflow
    would crash on it). A limit of 0 means "no limit", as in soma-workflow's GUI, so it
    is left out of the result rather than blocking the queue forever.
    """
    stripped = text.strip()
    if re.fullmatch(r"[+-]?\d+", stripped):
        limit = parse_int(stripped, minimum=0)
        return {None: limit} if limit else {}
    limits: dict[str | None, int] = {}
    for token, name, value in _braced_tokens(stripped, "queue{N}"):
        try:
            limit = parse_int(value, minimum=0)
        except BadValue:
            raise BadValue(f"limit in {token!r} must be an integer >= 0") from None
        queue = name or None
        if queue in limits:
            raise BadValue(f"queue {name or '{default}'!r} has two limits")
        if limit:
            limits[queue] = limit
    return limits


def parse_translation_files(text: str) -> dict[str, list[str]]:
    """``namespace{file} namespace{file2} other{file3}``: files per namespace, in order."""
    files: dict[str, list[str]] = {}
    for token, namespace, path in _braced_tokens(text.strip(), "namespace{file}"):
        if not namespace:
            raise BadValue(f"{token!r} has no namespace before '{{'")
        if not path.strip():
            raise BadValue(f"{token!r} has no file between '{{' and '}}'")
        files.setdefault(namespace, []).append(path.strip())
    return files


def parse_words(text: str) -> list[str]:
    """A whitespace-separated list (``QUEUES``, ``SUBMITTING_MACHINES``)."""
    return text.split()


def parse_python_versions(text: str) -> list[int]:
    """``ALLOWED_PYTHON_VERSIONS``: comma-separated major versions (``2,3``)."""
    versions: list[int] = []
    for part in text.split(","):
        try:
            versions.append(parse_int(part, minimum=1))
        except BadValue:
            raise BadValue("must be comma-separated Python major versions, like '3'") from None
    return versions


def parse_command(text: str) -> list[str]:
    """``CONTAINER_COMMAND``: a Python list of strings, as soma-workflow writes it.

    soma-workflow ``eval``s this text; swf only accepts a literal (no code runs). Text
    that does not start with ``[`` or ``(`` is split like a shell command line instead.
    """
    stripped = text.strip()
    if not stripped:
        raise BadValue("must not be empty")
    if stripped[0] not in "[(":
        try:
            return shlex.split(stripped)
        except ValueError as exc:
            raise BadValue(f"is not a valid command line ({exc})") from None
    try:
        value = ast.literal_eval(stripped)
    except (ValueError, SyntaxError):
        raise BadValue("must be a Python list of strings, like ['docker', 'run']") from None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise BadValue("must be a Python list of strings, like ['docker', 'run']")
    if not value:
        raise BadValue("must not be an empty list")
    return list(value)


def expand_variables(text: str, env: Mapping[str, str]) -> str:
    """``$VAR`` and ``${VAR}`` from ``env``, unknown ones left as written (like
    :func:`os.path.expandvars`, but against the given mapping so tests stay hermetic)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("plain") or match.group("braced")
        return env.get(name, match.group(0)) if name else match.group(0)

    return _ENV_REFERENCE.sub(replace, text)


def expand_path_text(text: str, env: Mapping[str, str], home: str) -> str:
    """Variables then a leading ``~``: the path as the user meant it."""
    expanded = expand_variables(text.strip(), env)
    if expanded == "~" or expanded.startswith("~/"):
        expanded = home + expanded[1:]
    return expanded


def _braced_tokens(text: str, shape: str) -> list[tuple[str, str, str]]:
    """Split ``a{1} {2}`` into ``(token, name, value)`` triples; anything else is an error."""
    tokens: list[tuple[str, str, str]] = []
    for token in text.split():
        match = _BRACED.fullmatch(token)
        if match is None:
            raise BadValue(f"token {token!r} is not of the form {shape}")
        tokens.append((token, match.group("name"), match.group("value")))
    return tokens


def _bounds_phrase(kind: str, minimum: int, maximum: int | None) -> str:
    if maximum is None:
        return f"must be {kind} >= {minimum}"
    return f"must be {kind} between {minimum} and {maximum}"
