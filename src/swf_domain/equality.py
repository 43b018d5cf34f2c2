"""soma-workflow's ``attributs_equal``: two workflows (jobs, groups) describe the same thing.

Jobs, groups and special paths compare by identity everywhere else (a workflow's
dependencies name objects), so this structural comparison is separate: it walks both
workflows side by side, matching jobs and groups by position and special paths by their
attributes. Unlike soma-workflow's, param links compare by the positions of their jobs
(soma compares them by identity, so two equal workflows built apart never match).
"""

from __future__ import annotations

from typing import Any

from .model import Group, Job, SpecialPath, Workflow

#: The job attributes soma-workflow compares.
JOB_ATTRIBUTES = (
    "name",
    "input_params_file",
    "has_outputs",
    "stdin",
    "join_stderrout",
    "stdout_file",
    "stderr_file",
    "working_directory",
    "priority",
    "native_specification",
    "parallel_job_info",
    "disposal_timeout",
    "env",
    "command",
    "referenced_input_files",
    "referenced_output_files",
    "param_dict",
    "output_params_file",
    "configuration",
)

_PATH_SLOTS = (
    "pattern",
    "client_path",
    "client_paths",
    "name",
    "namespace",
    "uuid",
    "relative_path",
    "is_directory",
    "suffix",
    "uri",
    "parent_path",
)


def values_equal(left: Any, right: Any) -> bool:
    """Plain values by ``==``, special paths by kind and attributes, containers item-wise."""
    if isinstance(left, SpecialPath) or isinstance(right, SpecialPath):
        return _paths_equal(left, right)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return (
            type(left) is type(right)
            and len(left) == len(right)
            and all(values_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(values_equal(left[k], right[k]) for k in left)
    return bool(left == right)


def _paths_equal(left: Any, right: Any) -> bool:
    if type(left) is not type(right):
        return False
    return all(
        values_equal(getattr(left, slot, None), getattr(right, slot, None)) for slot in _PATH_SLOTS
    )


def jobs_equal(left: Job, right: Any) -> bool:
    return type(left) is type(right) and all(
        values_equal(getattr(left, name), getattr(right, name)) for name in JOB_ATTRIBUTES
    )


def groups_equal(left: Group, right: Any) -> bool:
    return (
        type(left) is type(right)
        and left.name == right.name
        and _elements_equal(left.elements, right.elements)
    )


def _elements_equal(left: list[Any], right: list[Any]) -> bool:
    return len(left) == len(right) and all(
        groups_equal(a, b) if isinstance(a, Group) else jobs_equal(a, b)
        for a, b in zip(left, right, strict=True)
    )


def workflows_equal(left: Workflow, right: Any) -> bool:
    """soma's ``Workflow.attributs_equal``: same jobs, dependencies, groups and settings."""
    if not isinstance(right, type(left)):
        return False
    if not _elements_equal(left.jobs, right.jobs) or not _elements_equal(left.groups, right.groups):
        return False
    if not _elements_equal(left.root_group or [], right.root_group or []):
        return False
    return (
        _positions(left, left.dependencies) == _positions(right, right.dependencies)
        and _link_positions(left) == _link_positions(right)
        and left.name == right.name
        and values_equal(left.env, right.env)
        and left.env_builder_code == right.env_builder_code
        and values_equal(left.native_specification, right.native_specification)
    )


def _index(workflow: Workflow) -> dict[int, tuple[str, int]]:
    index = {id(job): ("job", n) for n, job in enumerate(workflow.jobs)}
    index.update({id(group): ("group", n) for n, group in enumerate(workflow.groups)})
    return index


def _positions(workflow: Workflow, pairs: Any) -> list[Any]:
    index = _index(workflow)
    return [(index.get(id(a)), index.get(id(b))) for a, b in pairs or []]


def _link_positions(workflow: Workflow) -> dict[Any, Any]:
    index = _index(workflow)
    links: dict[Any, Any] = {}
    for destination, params in (workflow.param_links or {}).items():
        links[index.get(id(destination))] = {
            param: [(index.get(id(source[0])), *source[1:]) for source in sources]
            for param, sources in params.items()
        }
    return links
