"""Param links: a finished job's output parameters become a later job's inputs.

A workflow's ``param_links`` is ``{dest_job: {dest_param: [link, ...]}}`` where a link
is ``(src_job, src_param)`` or ``(src_job, src_param, function_spec)`` (see
``link_functions``). When the destination is about to run, each link whose source
published ``src_param`` updates ``dest_param``, links applied in their listed order, each
seeing the value left by the previous one. A source that has no output, or no such
output parameter, leaves the value alone (soma-workflow's behaviour: a link is an
optional override, not a requirement).

A destination value that is a FileTransfer or SharedResourcePath (or a list holding
some) is not replaced by the linked string: the path object stays, so it is still staged
back to the client, and the engine is told to point it at the new location
(``on_retarget``). TemporaryPath values are replaced like plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import WorkflowError
from .link_functions import function_name, resolve_link_function
from .model import Job, ParamLinkSource, SpecialPath, TemporaryPath

#: What the engine knows of a finished job's outputs (None: no output published).
OutputsOf = Callable[[Any], Mapping[str, Any] | None]
#: Told that a path object of the destination now designates ``new_value``.
OnRetarget = Callable[[SpecialPath, Any], None]


def describe_link(dest_name: str | None, dest_param: str, link: Sequence[Any]) -> str:
    """``param link job 'b'.x <- job 'a'.y via f`` for messages."""
    source = link[0] if link else None
    source_name = source.name if isinstance(source, Job) else source
    source_param = link[1] if len(link) > 1 else "?"
    text = f"param link job {dest_name!r}.{dest_param} <- job {source_name!r}.{source_param}"
    if len(link) > 2:
        text += f" via {function_name(link[2])}"
    return text


def link_problems(
    dest: Any, links_for_dest: Any, known_jobs: Callable[[Any], bool] | None = None
) -> list[str]:
    """Every problem of the links into one destination job (empty list: valid).

    Checked at submission so a bad link fails the submit, not the run: shape of the
    mapping and of each link, source job known (``known_jobs``, when given), parameter
    names are strings, function spec names a known link function.
    """
    dest_name = dest.name if isinstance(dest, Job) else dest
    if not isinstance(dest, Job):
        return [f"param links: destination {dest!r} is not a job"]
    if known_jobs is not None and not known_jobs(dest):
        return [f"param links: destination job {dest_name!r} is not in the workflow"]
    if not isinstance(links_for_dest, Mapping):
        return [f"param links of job {dest_name!r} must map parameter names to link lists"]
    problems: list[str] = []
    for dest_param, links in links_for_dest.items():
        if not isinstance(dest_param, str):
            problems.append(f"param links of job {dest_name!r}: {dest_param!r} is not a name")
            continue
        if not isinstance(links, (list, tuple)):
            problems.append(
                f"param links of job {dest_name!r}.{dest_param} must be a list of links"
            )
            continue
        for link in links:
            problems.extend(_single_link_problems(dest_name, dest_param, link, known_jobs))
    return problems


def _single_link_problems(
    dest_name: str | None,
    dest_param: str,
    link: Any,
    known_jobs: Callable[[Any], bool] | None,
) -> list[str]:
    if not isinstance(link, (list, tuple)) or len(link) not in (2, 3):
        return [
            f"param link into job {dest_name!r}.{dest_param}: {link!r} is not "
            "(source_job, source_param) or (source_job, source_param, function)"
        ]
    where = describe_link(dest_name, dest_param, link)
    problems: list[str] = []
    source = link[0]
    if not isinstance(source, Job):
        problems.append(f"{where}: source {source!r} is not a job")
    elif known_jobs is not None and not known_jobs(source):
        problems.append(f"{where}: source job is not in the workflow")
    if not isinstance(link[1], str):
        problems.append(f"{where}: source parameter {link[1]!r} is not a name")
    if len(link) == 3:
        try:
            resolve_link_function(link[2])
        except WorkflowError as error:
            problems.append(f"{where}: {error}")
    return problems


def apply_param_links(
    dest_param_dict: Mapping[str, Any],
    links_for_dest: Mapping[str, Sequence[ParamLinkSource]],
    outputs_of: OutputsOf,
    *,
    dest_name: str | None = None,
    on_retarget: OnRetarget | None = None,
) -> dict[str, Any]:
    """The destination's parameters once every applicable link is applied.

    ``dest_param_dict`` is not modified. ``outputs_of(src_job)`` gives a finished
    source's output parameters. Without ``on_retarget``, a destination path object is
    replaced by the linked value like any other value. Raises WorkflowError naming the
    link (``dest_name`` is used in messages) when a link is malformed, its function
    unknown, or the function fails on the value it got.
    """
    params = dict(dest_param_dict)
    for dest_param, links in links_for_dest.items():
        for link in links:
            if not isinstance(link, (list, tuple)) or len(link) not in (2, 3):
                raise WorkflowError(
                    f"param link into job {dest_name!r}.{dest_param}: {link!r} is not "
                    "(source_job, source_param[, function])"
                )
            outputs = outputs_of(link[0])
            if outputs is None or link[1] not in outputs:
                continue
            old_value = params.get(dest_param)
            new_value = _transformed(link, dest_param, outputs[link[1]], old_value, dest_name)
            params[dest_param] = _keep_paths(old_value, new_value, on_retarget)
    return params


def _transformed(
    link: Sequence[Any], dest_param: str, value: Any, old_value: Any, dest_name: str | None
) -> Any:
    """The value a link delivers: the source output, through the link function if any."""
    if len(link) < 3 or link[2] is None:
        return value
    try:
        function, args = resolve_link_function(link[2])
    except WorkflowError as error:
        raise WorkflowError(f"{describe_link(dest_name, dest_param, link)}: {error}") from None
    try:
        return function(
            *args, src_param=link[1], value=value, dst_param=dest_param, dst_value=old_value
        )
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as error:
        raise WorkflowError(
            f"{describe_link(dest_name, dest_param, link)} failed on value {value!r}: {error}"
        ) from None


def _keep_paths(old_value: Any, new_value: Any, on_retarget: OnRetarget | None) -> Any:
    """``new_value``, except where ``old_value`` held a non-temporary path object."""
    if on_retarget is None:
        return new_value
    if isinstance(new_value, list):
        old_items = old_value if isinstance(old_value, (list, tuple)) else ()
        return [
            _keep_path(old_items[index] if index < len(old_items) else None, item, on_retarget)
            for index, item in enumerate(new_value)
        ]
    return _keep_path(old_value, new_value, on_retarget)


def _keep_path(old: Any, new: Any, on_retarget: OnRetarget) -> Any:
    if not isinstance(old, SpecialPath) or isinstance(old, TemporaryPath):
        return new
    if new is not old:
        on_retarget(old, new)
    return old
