"""Validation rules of one job, reported all at once.

Submission validates every job of a workflow (up to a million), so ``job_problems`` is
shaped around a fast path: the overwhelmingly common job has a list of plain strings as
command, no ``%(`` in it, no parallel info and plain-string paths; such a job costs a
string join and a handful of type checks. Anything unusual falls through to the full,
slower checks, which collect every problem instead of stopping at the first, so a user
fixes a workflow in one round.

Every message starts with ``job '<name>':`` so it can be shown without context.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection, Mapping
from typing import Any

from .errors import MAX_INT_BITS, shown
from .model import FileTransfer, Job, OptionPath, SpecialPath, TemporaryPath

__all__ = ["MAX_INT_BITS", "job_label", "job_problems", "shown", "text_problem"]

#: A ``%(name)s`` / ``%(name)d`` / ``%(name)f`` placeholder, as soma-workflow substitutes
#: them in command strings (non-greedy, unlike soma, so two placeholders in one string
#: are two names).
PLACEHOLDER = re.compile(r"%\(([^)]+)\)[dsf]")

#: Parameter the engine adds for jobs with a ``configuration`` and no input params file
#: (the configuration as JSON text), so ``%(configuration_dict)s`` is always filled.
CONFIGURATION_PARAM = "configuration_dict"

#: The keys soma-workflow's schedulers read from ``parallel_job_info``.
PARALLEL_INFO_KEYS = ("config_name", "nodes_number", "cpu_per_node")

#: Job attributes that hold one path (a plain string or a special path) or None.
PATH_FIELDS = (
    "stdin",
    "stdout_file",
    "stderr_file",
    "working_directory",
    "input_params_file",
    "output_params_file",
)


#: A job's priority is stored as a signed 64-bit integer.
PRIORITY_MIN, PRIORITY_MAX = -(2**63), 2**63 - 1


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a name, an argument or a path (None: it can).

    A NUL cannot be in an argument, a path or a PostgreSQL text; a lone surrogate
    (``'\\udc80'``, how Python shows undecodable bytes) cannot be stored as UTF-8.
    """
    if "\x00" in text:
        return "contains a NUL character"
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"contains a lone surrogate {text[error.start]!r} (not valid Unicode text)"
    return None


def is_text(text: str) -> bool:
    """The fast form of ``text_problem(text) is None``."""
    return "\x00" not in text and (text.isascii() or text_problem(text) is None)


class UnfilledPlaceholderWarning(UserWarning):
    """A ``%(name)s`` in a command has no value: it stays in the command as written, as
    soma-workflow does (scripts rely on it, e.g. for text that is not a placeholder)."""

    def __init__(self, label: str, name: str) -> None:
        self.name = name
        super().__init__(
            f"{label}: command uses %({name})s but param_dict has no value for it;"
            " it is passed on as written"
        )


def job_label(job: Job) -> str:
    """``job 'name'`` (or ``job <unnamed>``), the prefix of every message about ``job``."""
    return f"job {shown(job.name)}" if job.name is not None else "job <unnamed>"


def job_problems(job: Job, linked_params: Collection[str] = ()) -> list[str]:
    """Every problem of ``job``, each message naming the job (empty list: valid).

    ``linked_params`` names the parameters a param link will fill before the job runs
    (the workflow knows them, the job does not): a ``%(name)s`` placeholder for one of
    them is not reported as missing.
    """
    if _is_plain(job):
        return []
    problems: list[str] = []
    label = job_label(job)
    _check_name(job.name, label, problems)
    _check_command(job, label, linked_params, problems)
    _check_parallel_info(job.parallel_job_info, label, problems)
    _check_priority(job.priority, label, problems)
    _check_paths(job, label, problems)
    _check_dicts(job, label, problems)
    return problems


def _is_plain(job: Job) -> bool:
    """True for the common valid job: checked with a join and a few identity tests."""
    command = job.command
    if not command or type(command) is not list:
        return False
    try:
        joined = "".join(command)  # type: ignore[arg-type]  # TypeError: not all strings
    except TypeError:
        return False
    name = job.name
    return (
        "%(" not in joined
        and is_text(joined)
        and (name is None or (type(name) is str and is_text(name)))
        and type(job.priority) is int
        and PRIORITY_MIN <= job.priority <= PRIORITY_MAX
        and job.parallel_job_info is None
        and job.stdin is None
        and _is_plain_path(job.stdout_file)
        and _is_plain_path(job.stderr_file)
        and _is_plain_path(job.working_directory)
        and not job.use_input_params_file
        and not job.has_outputs
        and not job.env
        and type(job.param_dict) is dict
    )


def _is_plain_path(value: object) -> bool:
    return value is None or (type(value) is str and is_text(value))


def _check_name(name: object, label: str, problems: list[str]) -> None:
    if name is None:
        return
    if not isinstance(name, str):
        problems.append(f"{label}: name must be a string, not {type(name).__name__}")
        return
    why = text_problem(name)
    if why is not None:
        problems.append(f"{label}: name {why}")


def _check_priority(priority: object, label: str, problems: list[str]) -> None:
    if type(priority) is not int:
        problems.append(f"{label}: priority must be an int, not {type(priority).__name__}")
    elif not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        problems.append(
            f"{label}: priority {shown(priority)} is out of range "
            f"(a signed 64-bit integer: {PRIORITY_MIN} to {PRIORITY_MAX})"
        )


# ---------------------------------------------------------------------------------------
# Command
# ---------------------------------------------------------------------------------------


def _check_command(
    job: Job, label: str, linked_params: Collection[str], problems: list[str]
) -> None:
    command = job.command
    if not isinstance(command, list):
        problems.append(f"{label}: command must be a list, not {type(command).__name__}")
        return
    if not command:
        if not (job.is_barrier() or job.is_engine_execution()):
            problems.append(f"{label}: empty command")
        return
    params: Mapping[str, Any] = job.param_dict if isinstance(job.param_dict, Mapping) else {}
    if job.configuration and not job.use_input_params_file:
        params = {**params, CONFIGURATION_PARAM: job.configuration}
    missing: list[str] = []
    special: list[tuple[str, SpecialPath]] = []
    for position, item in enumerate(command):
        _check_item(item, str(position), label, params, linked_params, missing, special, problems)
    for name in dict.fromkeys(missing):  # each missing name once, in order
        warnings.warn(UnfilledPlaceholderWarning(label, name), stacklevel=2)
    if special:
        referenced = _referenced_ids(job)
        for where, path in special:
            _check_declared(path, where, label, referenced, problems)


def _check_item(
    item: object,
    position: str,
    label: str,
    params: Mapping[str, Any],
    linked_params: Collection[str],
    missing: list[str],
    special: list[tuple[str, SpecialPath]],
    problems: list[str],
) -> None:
    """Check one command item (recursively for lists and tuples).

    Placeholder names without a value go to ``missing``, special paths to ``special``
    (checked afterwards, once the job's referenced files are known).
    """
    item_type = type(item)
    if item_type is str or isinstance(item, str):
        assert isinstance(item, str)
        why = None if is_text(item) else text_problem(item)
        if why is not None:
            problems.append(f"{label}: command item {position} {why}")
        if "%(" in item:
            for name in PLACEHOLDER.findall(item):
                if params.get(name) is None and name not in linked_params:
                    missing.append(name)
        return
    if item_type is int or item_type is float:
        if item_type is int and item.bit_length() > MAX_INT_BITS:  # type: ignore[attr-defined]
            problems.append(f"{label}: command item {position} is {shown(item)}: too long")
        return
    if isinstance(item, SpecialPath):
        special.append((position, item))
        return
    if isinstance(item, (list, tuple)):
        for index, sub_item in enumerate(item):
            _check_item(
                sub_item,
                f"{position}[{index}]",
                label,
                params,
                linked_params,
                missing,
                special,
                problems,
            )
        return
    problems.append(
        f"{label}: command item {position} has unsupported type {item_type.__name__} "
        f"({shown(item)}); expected str, int, float, a special path, a list or a tuple"
    )


def _referenced_ids(job: Job) -> set[int]:
    """Identities (referents) of the special paths a job declares as its files.

    soma-workflow also counts stdin, stdout, stderr, the working directory and the params
    files as referenced, whatever the lists say.
    """
    found: set[int] = set()
    candidates: list[object] = [*(job.referenced_input_files or [])]
    candidates.extend(job.referenced_output_files or [])
    candidates.extend(getattr(job, name) for name in PATH_FIELDS)
    for candidate in candidates:
        if isinstance(candidate, OptionPath) and isinstance(candidate.parent_path, SpecialPath):
            found.add(id(candidate.parent_path.referent()))
        if isinstance(candidate, SpecialPath):
            found.add(id(candidate.referent()))
    return found


def _check_declared(
    path: SpecialPath, position: str, label: str, referenced: set[int], problems: list[str]
) -> None:
    """A transfer or temporary path used in a command must be a referenced file.

    Otherwise the engine would neither stage it in nor out (soma-workflow's rule).
    """
    target: object = path.parent_path if isinstance(path, OptionPath) else path
    if not isinstance(target, (FileTransfer, TemporaryPath)):
        return
    if id(target.referent()) in referenced:
        return
    kind = type(target).__name__
    problems.append(
        f"{label}: command item {position} is a {kind} that is not in "
        "referenced_input_files nor referenced_output_files"
    )


# ---------------------------------------------------------------------------------------
# Other fields
# ---------------------------------------------------------------------------------------


def _check_parallel_info(info: object, label: str, problems: list[str]) -> None:
    """``parallel_job_info``: None or a dict of config_name / nodes_number / cpu_per_node."""
    if info is None:
        return
    if not isinstance(info, dict):
        problems.append(
            f"{label}: parallel_job_info must be a dict with keys "
            f"{', '.join(PARALLEL_INFO_KEYS)}, not {type(info).__name__}"
        )
        return
    for key in info:
        if key not in PARALLEL_INFO_KEYS:
            problems.append(
                f"{label}: parallel_job_info has unknown key {key!r} "
                f"(known: {', '.join(PARALLEL_INFO_KEYS)})"
            )
    config_name = info.get("config_name")
    if config_name is not None and (not isinstance(config_name, str) or not config_name):
        problems.append(
            f"{label}: parallel_job_info['config_name'] must be a non-empty string, "
            f"not {shown(config_name)}"
        )
    for key in ("nodes_number", "cpu_per_node"):
        value = info.get(key)
        if value is None:
            continue
        if type(value) is not int or value < 1:
            problems.append(
                f"{label}: parallel_job_info[{key!r}] must be a positive int, not {shown(value)}"
            )


def _check_paths(job: Job, label: str, problems: list[str]) -> None:
    for name in PATH_FIELDS:
        value = getattr(job, name)
        if value is not None and not isinstance(value, (str, SpecialPath)):
            problems.append(
                f"{label}: {name} must be a path (str or special path), not {type(value).__name__}"
            )
        elif isinstance(value, str) and not is_text(value):
            problems.append(f"{label}: {name} {text_problem(value)}")


def _check_dicts(job: Job, label: str, problems: list[str]) -> None:
    if not isinstance(job.param_dict, dict):
        problems.append(f"{label}: param_dict must be a dict, not {type(job.param_dict).__name__}")
    else:
        for key, value in job.param_dict.items():
            if isinstance(value, str) and not is_text(value):
                problems.append(f"{label}: param_dict[{key!r}] {text_problem(value)}")
    env = job.env
    if env is None:
        return
    if not isinstance(env, dict):
        problems.append(f"{label}: env must be a dict of strings, not {type(env).__name__}")
        return
    for key, value in env.items():
        if not isinstance(key, str) or not isinstance(value, str):
            problems.append(
                f"{label}: env entry {shown(key)} must map a string to a string, got {shown(value)}"
            )
        elif not (is_text(key) and is_text(value)):
            why = text_problem(key) or text_problem(value)
            problems.append(f"{label}: env entry {key!r} {why}")
