"""The client object model, with soma-workflow's names, parameters and positional order.

Jobs, groups and special paths are compared by identity (``eq=False``): a workflow's
dependencies are pairs of objects, exactly as in soma-workflow, and two jobs with the
same command are still two jobs. ``slots=True`` keeps a million-job workflow in memory
budget (about 0.5 kB per job).

soma-workflow traps fixed here: mutable defaults are never shared (``configuration``,
``env``), ``user_storage`` is kept, and a SharedResourcePath or OptionPath in the
referenced files is valid.

Constructors check the *containers* they must walk (``jobs``, ``dependencies``,
``command``, ``param_links``...) and raise ``WorkflowArgumentError`` /
``JobArgumentError`` (swf errors that are also TypeErrors) naming the argument; what is
inside them (a dependency on a job outside the workflow, a malformed param link) is
left for validation, which reports every such problem at once.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, TypeAlias

from .errors import JobArgumentError, SomaWorkflowError, WorkflowArgumentError, shown

#: Containers a list argument may not be given as: their items are not elements
#: (a string's characters, a dict's keys, a set's arbitrary order).
_NOT_LISTS = (str, bytes, bytearray, dict, set, frozenset)


def as_list(value: object, argument: str, error: type[SomaWorkflowError]) -> list[Any]:
    """``value`` (a list, a tuple or another iterable of elements) as a new list; else
    ``error`` naming ``argument`` (e.g. ``"Workflow(jobs=...)"``)."""
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, _NOT_LISTS) or not isinstance(value, Iterable):
        raise error(f"{argument} must be a list, not {type(value).__name__} ({shown(value)})")
    return list(value)


def as_dict(value: object, argument: str, error: type[SomaWorkflowError]) -> dict[Any, Any]:
    """``value`` (a dict or another mapping) as a new dict; else ``error`` naming it."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, Mapping):
        return dict(value.items())
    raise error(f"{argument} must be a dict, not {type(value).__name__} ({shown(value)})")


# ---------------------------------------------------------------------------------------
# Special paths
# ---------------------------------------------------------------------------------------


class SpecialPath:
    """A path that only gets its real value on the computing resource.

    ``'pre' + path`` and ``path + 'suf'`` return a copy whose ``pattern`` wraps the
    resolved value (``'pre%s'`` / ``'%ssuf'``); the copy keeps the same ``referent``, so
    it designates the same file (identity by referent, as in soma-workflow).
    """

    __slots__ = ("_referent", "pattern")

    def __init__(self, referent: SpecialPath | None = None) -> None:
        self._referent: SpecialPath = self if referent is None else referent.referent()
        self.pattern: str = "%s"

    def referent(self) -> SpecialPath:
        return self._referent

    def with_pattern(self, pattern: str) -> SpecialPath:
        clone = copy.copy(self)
        clone.pattern = pattern
        return clone

    def __add__(self, other: str) -> SpecialPath:
        if not isinstance(other, str):
            return NotImplemented
        return self.with_pattern(self.pattern.replace("%s", "%s" + other.replace("%", "%%")))

    def __radd__(self, other: str) -> SpecialPath:
        if not isinstance(other, str):
            return NotImplemented
        return self.with_pattern(other.replace("%", "%%") + self.pattern)

    def apply_pattern(self, value: str) -> str:
        return self.pattern % value


class FileTransfer(SpecialPath):
    """A file or directory copied between the client and the computing resource."""

    __slots__ = (
        "client_path",
        "client_paths",
        "disposal_timeout",
        "initial_status",
        "is_input",
        "name",
    )

    def __init__(
        self,
        is_input: bool,
        client_path: str | None = None,
        disposal_timeout: int = 168,
        name: str | None = None,
        client_paths: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.is_input = is_input
        self.client_path = client_path
        self.disposal_timeout = disposal_timeout
        self.name = name if name is not None else (client_path or "")
        self.client_paths: list[str] | None = (
            as_list(client_paths, "FileTransfer(client_paths=...)", JobArgumentError)
            if client_paths
            else None
        )
        # soma-workflow's wording: an input starts on the client, an output does not exist
        self.initial_status = "on client side" if is_input else "do not exist"


class SharedResourcePath(SpecialPath):
    """A path on a storage that both sides see under different roots, by ``(namespace, uuid)``.

    The computing resource's translation files map ``uuid`` to a root per namespace.
    """

    __slots__ = ("disposal_timeout", "namespace", "relative_path", "uuid")

    def __init__(
        self,
        relative_path: str,
        namespace: str | None = None,
        uuid: str | None = None,
        disposal_timeout: int | None = 168,
    ) -> None:
        super().__init__()
        self.relative_path = relative_path
        self.namespace = namespace
        self.uuid = uuid
        self.disposal_timeout = disposal_timeout


class TemporaryPath(SpecialPath):
    """A file or directory created on the resource for the workflow and removed with it."""

    __slots__ = ("disposal_timeout", "is_directory", "name", "suffix")

    def __init__(
        self,
        is_directory: bool = False,
        disposal_timeout: int = 168,
        name: str | None = None,
        suffix: str = "",
    ) -> None:
        super().__init__()
        self.is_directory = is_directory
        self.disposal_timeout = disposal_timeout
        self.name = name
        self.suffix = suffix


class OptionPath(SpecialPath):
    """A path (plain or special) followed by an URI-like option string (``?opt=1``)."""

    __slots__ = ("name", "parent_path", "uri")

    def __init__(
        self,
        parent_path: str | SpecialPath | None = None,
        uri: str | dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__()
        self.parent_path = parent_path
        if isinstance(uri, dict):
            uri = "?" + "&".join(f"{key}={value}" for key, value in uri.items())
        self.uri: str = uri or ""
        self.name = name


#: One element of a job command: a plain value, a special path, a ``(path, "name")``
#: tuple (a file inside a transferred directory) or a nested list (``["<join>", ...]``
#: or a list argument rendered as a Python-like list).
CommandItem: TypeAlias = (
    str | int | float | SpecialPath | tuple["CommandItem", ...] | list["CommandItem"]
)


# ---------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class Job:
    """One command-line job (soma-workflow's ``client.Job``, same parameter order)."""

    command: list[CommandItem]
    referenced_input_files: list[Any] | None = None
    referenced_output_files: list[Any] | None = None
    stdin: str | SpecialPath | None = None
    join_stderrout: bool = False
    disposal_timeout: int = 168
    name: str | None = None
    stdout_file: str | SpecialPath | None = None
    stderr_file: str | SpecialPath | None = None
    working_directory: str | SpecialPath | None = None
    parallel_job_info: dict[str, Any] | None = None
    priority: int = 0
    #: Scheduler options: one string, or a list of options as soma-workflow accepts.
    native_specification: str | list[str] | None = None
    user_storage: Any = None
    env: dict[str, str] | None = None
    param_dict: dict[str, Any] | None = None
    use_input_params_file: bool = False
    has_outputs: bool = False
    input_params_file: str | SpecialPath | None = None
    output_params_file: str | SpecialPath | None = None
    configuration: dict[str, Any] | None = None
    #: swf: how many times the job may run before it counts as FAILED (None: the
    #: resource's MAX_ATTEMPTS, 1 without it, as soma-workflow). Keyword only in practice.
    attempts: int | None = None
    #: Engine-side id once submitted (set on workflows returned by a controller).
    job_id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.command is None:
            self.command = []
        elif not isinstance(self.command, list):
            self.command = as_list(self.command, "Job(command=...)", JobArgumentError)
        if self.name is None and self.command and isinstance(self.command[0], str):
            self.name = self.command[0]  # soma-workflow names an unnamed job after argv[0]
        if self.configuration is None:
            self.configuration = {}
        if self.param_dict is None:
            self.param_dict = {}
        if self.attempts is not None and (type(self.attempts) is not int or self.attempts < 1):
            raise JobArgumentError(
                f"job {self.name!r}: attempts must be a whole number >= 1, not {self.attempts!r}"
            )

    def is_barrier(self) -> bool:
        return False

    def is_engine_execution(self) -> bool:
        """True for jobs the engine computes in-process (no command, no process).

        Overridden by the custom jobs of ``swf_domain.custom_jobs`` (MapJob, ReduceJob...).
        """
        return False

    def attributs_equal(self, other: object) -> bool:
        """soma-workflow's structural comparison (its spelling); ``==`` is identity."""
        from .equality import jobs_equal

        return jobs_equal(self, other)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {shown(self.name)}>"


@dataclass(eq=False, slots=True, repr=False)
class BarrierJob(Job):
    """A job with no process: it ends DONE as soon as its parents are DONE.

    Used as a hub to make N x M dependencies N + M (and for group dependencies).
    """

    def __init__(
        self,
        command: list[CommandItem] | None = None,
        referenced_input_files: list[Any] | None = None,
        referenced_output_files: list[Any] | None = None,
        name: str | None = None,
    ) -> None:
        Job.__init__(
            self,
            as_list(command or [], "BarrierJob(command=...)", JobArgumentError),
            referenced_input_files=referenced_input_files,
            referenced_output_files=referenced_output_files,
            name=name,
        )

    def is_barrier(self) -> bool:
        return True


@dataclass(eq=False, slots=True)
class Group:
    """A named set of jobs and sub-groups, for display and for group dependencies."""

    elements: list[Job | Group]
    name: str
    user_storage: Any = None

    def __post_init__(self) -> None:
        self.elements = as_list(self.elements, "Group(elements=...)", WorkflowArgumentError)

    def iter_jobs(self) -> Iterator[Job]:
        """Every job in this group and its sub-groups (depth first)."""
        stack: list[Job | Group] = list(reversed(self.elements))
        while stack:
            element = stack.pop()
            if isinstance(element, Group):
                stack.extend(reversed(element.elements))
            else:
                yield element

    def attributs_equal(self, other: object) -> bool:
        """soma-workflow's structural comparison (its spelling); ``==`` is identity."""
        from .equality import groups_equal

        return groups_equal(self, other)

    def __repr__(self) -> str:
        return f"<Group {shown(self.name)} ({len(self.elements)} elements)>"


Element: TypeAlias = Job | Group

#: A param link source: (source_job, source_param) or (source_job, source_param, function)
#: where function is "module.func" or ("module.func", *args).
ParamLinkSource: TypeAlias = tuple[Any, ...]
ParamLinks: TypeAlias = dict[Job, dict[str, list[ParamLinkSource]]]


@dataclass(eq=False)
class Workflow:
    """A DAG of jobs (soma-workflow's ``client.Workflow``, same parameter order).

    Dependencies whose endpoint is a Group are expanded at construction through a pair
    of barrier hubs per group (``<group>_input`` / ``<group>_output``), as soma does, so
    the stored dependencies are always job -> job. Param links add the dependencies they
    imply (source -> destination).
    """

    jobs: list[Job]
    dependencies: list[tuple[Element, Element]] | None = None
    root_group: list[Element] | None = None
    disposal_timeout: int = 168
    user_storage: Any = None
    name: str | None = None
    env: dict[str, str] | None = None
    env_builder_code: str | None = None
    param_links: ParamLinks | None = None
    #: Scheduler options: one string, or a list of options as soma-workflow accepts.
    native_specification: str | list[str] | None = None
    #: swf: attempts of the jobs that do not say (``Job.attempts``); None: the resource's.
    attempts: int | None = None
    #: Groups of the workflow (every group reachable from root_group), set at construction.
    groups: list[Group] = field(default_factory=list, init=False)
    #: Engine-side id once submitted.
    wf_id: int | None = field(default=None, init=False)
    #: Filled by ``WorkflowController.workflow()``: client job -> its engine view (job_id,
    #: status, command as run...), and file transfer -> its engine view.
    job_mapping: dict[Job, Any] = field(default_factory=dict, init=False, repr=False)
    transfer_mapping: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        error = WorkflowArgumentError
        if self.attempts is not None and (type(self.attempts) is not int or self.attempts < 1):
            raise error(
                f"Workflow(attempts=...) must be a whole number >= 1, not {self.attempts!r}"
            )
        self.jobs = as_list(self.jobs, "Workflow(jobs=...)", error)
        self.dependencies = as_list(self.dependencies or [], "Workflow(dependencies=...)", error)
        self.env = as_dict(self.env, "Workflow(env=...)", error) if self.env else {}
        links = self.param_links
        self.param_links = as_dict(links, "Workflow(param_links=...)", error) if links else {}
        self._expand_group_dependencies(self.dependencies)
        self._add_param_link_dependencies(self.param_links)
        if self.root_group is None:
            self.root_group = list(self.jobs)
        else:
            self.root_group = as_list(self.root_group, "Workflow(root_group=...)", error)
        self.groups = _collect_groups(self.root_group)

    # -- soma-workflow's API ------------------------------------------------------------

    def attributs_equal(self, other: object) -> bool:
        """soma-workflow's structural comparison (its spelling); ``==`` is identity."""
        from .equality import workflows_equal

        return workflows_equal(self, other)

    def to_dict(self) -> dict[str, Any]:
        """soma-workflow's JSON document of this workflow."""
        from .serialization import workflow_to_dict

        return workflow_to_dict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Workflow:
        """The workflow of a soma-workflow JSON document."""
        from .serialization import workflow_from_dict

        return workflow_from_dict(document)

    def add_workflow(self, workflow: Workflow, as_group: str | None = None) -> Group | None:
        """Merge ``workflow`` into this one (jobs, dependencies, param links, groups).

        With ``as_group``, its root elements become one group of that name in this
        workflow's root group; otherwise they are added to the root group as they are.
        """
        if not isinstance(workflow, Workflow):
            raise WorkflowArgumentError(
                f"add_workflow(workflow=...) must be a Workflow, not {type(workflow).__name__}"
            )
        self.jobs.extend(workflow.jobs)
        assert self.dependencies is not None and self.param_links is not None
        assert self.root_group is not None and workflow.root_group is not None
        self.dependencies.extend(workflow.dependencies or [])
        self.param_links.update(workflow.param_links or {})
        new_group: Group | None = None
        if as_group is not None:
            new_group = Group(list(workflow.root_group), name=as_group)
            self.root_group.append(new_group)
            self.groups.append(new_group)
        else:
            self.root_group.extend(workflow.root_group)
        self.groups.extend(workflow.groups)
        return new_group

    def add_dependencies(self, dependencies: Iterable[tuple[Element, Element]]) -> None:
        """Add dependencies (group endpoints are expanded through barrier hubs)."""
        assert self.dependencies is not None
        self._expand_group_dependencies(
            as_list(dependencies, "add_dependencies(dependencies=...)", WorkflowArgumentError)
        )

    # -- construction helpers -----------------------------------------------------------

    def _expand_group_dependencies(self, dependencies: list[tuple[Element, Element]]) -> None:
        assert self.dependencies is not None
        plain, grouped = _split_grouped(dependencies)
        if dependencies is not self.dependencies:
            self.dependencies.extend(plain)
        else:
            self.dependencies[:] = plain
        if not grouped:
            return
        hubs: dict[int, tuple[BarrierJob, BarrierJob]] = {}
        for source, target in grouped:
            if isinstance(source, Group):
                source = self._group_hubs(source, hubs)[1]
            if isinstance(target, Group):
                target = self._group_hubs(target, hubs)[0]
            self.dependencies.append((source, target))

    def _group_hubs(
        self, group: Group, hubs: dict[int, tuple[BarrierJob, BarrierJob]]
    ) -> tuple[BarrierJob, BarrierJob]:
        """The (input, output) hubs of ``group``, built once with the intra-group edges."""
        assert self.dependencies is not None
        found = hubs.get(id(group))
        if found is not None:
            return found
        pair = (BarrierJob(name=f"{group.name}_input"), BarrierJob(name=f"{group.name}_output"))
        hubs[id(group)] = pair
        self.jobs.extend(pair)
        for element in group.elements:
            if isinstance(element, Group):
                sub_in, sub_out = self._group_hubs(element, hubs)
                self.dependencies.append((pair[0], sub_in))
                self.dependencies.append((sub_out, pair[1]))
            else:
                self.dependencies.append((pair[0], element))
                self.dependencies.append((element, pair[1]))
        return pair

    def _add_param_link_dependencies(self, links: ParamLinks) -> None:
        assert self.dependencies is not None
        if not links:
            return
        existing = {(id(pair[0]), id(pair[1])) for pair in self.dependencies if _is_pair(pair)}
        for destination, by_param in links.items():
            if not isinstance(by_param, dict):
                continue  # validation names it
            for sources in by_param.values():
                if not isinstance(sources, list | tuple):
                    continue
                for link in sources:
                    if not isinstance(link, list | tuple) or not link:
                        continue
                    key = (id(link[0]), id(destination))
                    if key not in existing:
                        existing.add(key)
                        self.dependencies.append((link[0], destination))

    def __repr__(self) -> str:
        return f"<Workflow {shown(self.name)} ({len(self.jobs)} jobs)>"


def _is_pair(dependency: object) -> bool:
    return isinstance(dependency, list | tuple) and len(dependency) == 2


def _has_group(dependency: tuple[Element, Element]) -> bool:
    """A well-formed dependency with a group end (a malformed one is left as it is, for
    validation to name)."""
    if not _is_pair(dependency):
        return False
    return isinstance(dependency[0], Group) or isinstance(dependency[1], Group)


#: Classes whose instances are never a group end (subclasses take the general test).
_PLAIN_ENDS = frozenset({Job, BarrierJob})


def _split_grouped(
    dependencies: list[tuple[Element, Element]],
) -> tuple[list[tuple[Element, Element]], list[tuple[Element, Element]]]:
    """(plain, with a group end), in one pass: a million-job workflow has millions of
    pairs, and the usual one (a tuple of two plain jobs) is told by two type lookups."""
    if _all_plain_pairs(dependencies):
        return list(dependencies), []
    plain: list[tuple[Element, Element]] = []
    grouped: list[tuple[Element, Element]] = []
    plain_ends = _PLAIN_ENDS
    for dep in dependencies:
        plain_pair = type(dep) is tuple and len(dep) == 2
        if plain_pair and type(dep[0]) in plain_ends and type(dep[1]) in plain_ends:
            plain.append(dep)
            continue
        (grouped if _has_group(dep) else plain).append(dep)
    return plain, grouped


def _all_plain_pairs(dependencies: list[tuple[Element, Element]]) -> bool:
    """Every dependency a tuple of two plain jobs? Told by loops that run in C (``map``,
    ``set``): the usual workflow, a million pairs, in tens of milliseconds."""
    return (
        set(map(type, dependencies)) <= {tuple}
        and set(map(len, dependencies)) <= {2}
        and set(map(type, chain.from_iterable(dependencies))) <= _PLAIN_ENDS
    )


def _collect_groups(elements: Iterable[Element]) -> list[Group]:
    """Every group reachable from ``elements``, each once, parents before children."""
    seen: set[int] = set()
    found: list[Group] = []
    stack = [element for element in elements if isinstance(element, Group)]
    stack.reverse()
    while stack:
        group = stack.pop()
        if id(group) in seen:
            continue
        seen.add(id(group))
        found.append(group)
        stack.extend(reversed([e for e in group.elements if isinstance(e, Group)]))
    return found
