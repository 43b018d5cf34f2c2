"""Model -> document: ``Writer`` numbers the elements as soma-workflow does, then encodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import SerializationError, shown
from ..model import BarrierJob, Group, Job, OptionPath, SpecialPath, Workflow
from ._classes import CLASSES
from ._fields import (
    BARRIER_PLAN,
    DEFAULT_DISPOSAL,
    JOB_PLAN,
    check_attempts,
    check_env,
    check_int,
    check_opt_str,
    check_str,
    encode_native_spec,
    encode_plain,
    got,
)
from ._paths import OPTION_KIND, PATH_KINDS, REFERENT_KEY, PathKind, check_pattern, path_kind_of
from ._plain_jobs import plain_job
from ._unknown import unknown_keys_of
from ._values import Bad, PathNumbering, copy_json, encode_value, show


class Writer:
    """One ``workflow_to_dict`` call: numbers the elements, then encodes them."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.unknown = unknown_keys_of(workflow)
        self.job_ids: dict[Job, int] = {}
        self.group_ids: dict[Group, int] = {}
        self.groups: list[Group] = []
        self.paths: PathNumbering = PathNumbering(0)

    def fail(self, message: str) -> SerializationError:
        return SerializationError(f"workflow {shown(self.workflow.name)}: {message}")

    def write(self) -> dict[str, Any]:
        workflow = self.workflow
        self._check_containers()
        self._number_jobs()
        self._number_groups()
        self.paths = PathNumbering(len(self.job_ids) + len(self.group_ids))
        doc: dict[str, Any] = {"name": self._workflow_field("name", check_opt_str)}
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

    def _check_containers(self) -> None:
        """The workflow's lists are lists (an attribute set to garbage after construction
        is named here, not met as a TypeError in the middle of writing)."""
        for name in ("jobs", "dependencies", "root_group", "groups"):
            value = getattr(self.workflow, name, None)
            if (value is not None or name in ("jobs", "groups")) and not isinstance(
                value, list | tuple
            ):
                raise self.fail(f"'{name}' must be a list, not {type(value).__name__}")

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
                raise self.fail(f"job {shown(job.name)} is listed twice in jobs (jobs[{index}])")
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
            raise self.fail(f"{where} must be a list, got {show(elements)}")
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
                raise self.fail(f"{where}: job {shown(element.name)} is not in the workflow's jobs")
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
                    f"dependency #{index} joins group {shown(end.name)}: add group dependencies "
                    "with Workflow.add_dependencies, which expands them"
                )
            if not isinstance(end, Job) or end not in self.job_ids:
                return self.fail(f"dependency #{index}: {show(end)} is not in the workflow's jobs")
        return self.fail(f"dependency #{index} is invalid")  # pragma: no cover

    def _param_links(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        links = self.workflow.param_links or {}
        if not isinstance(links, dict):
            raise self.fail("param_links must be a dict {job: {param: [links]}}")
        for destination, by_param in links.items():
            dest_id = self.job_ids.get(destination) if isinstance(destination, Job) else None
            if dest_id is None:
                raise self.fail(f"param link to {show(destination)}, not a job of the workflow")
            if not isinstance(by_param, dict):
                raise self.fail(f"param links of job {shown(destination.name)} must be a dict")
            out[str(dest_id)] = {
                self._link_param(param, destination): self._links(destination, param, sources)
                for param, sources in by_param.items()
            }
        return out

    def _link_param(self, param: object, destination: Job) -> str:
        if not isinstance(param, str):
            raise self.fail(
                f"param link of job {shown(destination.name)}: {show(param)} is not a name"
            )
        return param

    def _links(self, destination: Job, param: str, sources: object) -> list[list[Any]]:
        where = f"param link {shown(param)} of job {shown(destination.name)}"
        if not isinstance(sources, (list, tuple)):
            raise self.fail(f"{where} must be a list of (job, param[, function]) tuples")
        out = []
        for index, link in enumerate(sources):
            if not isinstance(link, (tuple, list)) or not 2 <= len(link) <= 3:
                raise self.fail(f"{where} #{index} must be a (job, param[, function]) tuple")
            source_id = self.job_ids.get(link[0]) if isinstance(link[0], Job) else None
            if source_id is None:
                raise self.fail(f"{where} #{index}: {show(link[0])} is not a job of the workflow")
            try:
                rest = [check_str(link[1]), *(encode_function(f) for f in link[2:])]
            except Bad as bad:
                raise self.fail(f"{where} #{index}: {bad.field_message('link')}") from None
            out.append(["<tuple>", source_id, *rest])
        return out

    # -- elements -----------------------------------------------------------------------

    def _group(self, group: Group) -> dict[str, Any]:
        if not isinstance(group.name, str):
            raise self.fail(f"a group's name must be a string, got {show(group.name)}")
        where = f"group {shown(group.name)}"
        out: dict[str, Any] = {
            "name": group.name,
            "elements": self._element_ids(group.elements, f"{where} elements"),
        }
        if group.user_storage is not None:
            out["user_storage"] = self._encode_for(where, "user_storage", group.user_storage)
        return self._with_unknown(group, out)

    def _job(self, job: Job) -> dict[str, Any]:
        if type(job) is Job:
            plain = plain_job(job)
            if plain is not None:
                if self.unknown is not None:
                    self._with_unknown(job, plain)
                return plain
        out: dict[str, Any] = {"class": CLASSES.name_of(type(job))}
        paths = self.paths
        key = "class"
        try:
            for key, encode, writes in BARRIER_PLAN if isinstance(job, BarrierJob) else JOB_PLAN:
                value = getattr(job, key)
                if writes is None or writes(value):
                    out[key] = encode(value, paths)
        except Bad as bad:
            where = f"job {shown(job.name)} (jobs[{self.job_ids[job]}])"
            raise self.fail(f"{where}: {bad.field_message(key)}") from None
        if self.unknown is not None:
            self._with_unknown(job, out)
        return out

    def _encode_for(self, where: str, key: str, value: Any) -> Any:
        try:
            return encode_value(value, None)
        except Bad as bad:
            raise self.fail(f"{where}: {bad.field_message(key)}") from None

    def _with_unknown(self, element: object, out: dict[str, Any]) -> dict[str, Any]:
        if self.unknown is not None:
            unknown = self.unknown.elements.get(element)
            if unknown:
                for key, value in unknown.items():
                    out.setdefault(key, copy_json(value))
        return out

    # -- special paths --------------------------------------------------------------------

    def _path_tables(self) -> dict[str, dict[str, Any]]:
        tables: dict[str, dict[str, Any]] = {kind.table: {} for kind in PATH_KINDS}
        entries = self.paths.entries
        position = 0
        while position < len(entries):  # an option path may number its parent: grows
            ident, path, referent_id = entries[position]
            position += 1
            kind = path_kind_of(path)
            tables[kind.table][str(ident)] = self._path_entry(kind, ident, path, referent_id)
        return tables

    def _path_entry(
        self, kind: PathKind, ident: int, path: SpecialPath, referent_id: int | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            if kind is OPTION_KIND:
                assert isinstance(path, OptionPath)
                out["parent_type"], out["parent_path"] = self._option_parent(path)
            for key, check, _default in kind.fields:
                out[key] = check(getattr(path, key))
            out["pattern"] = check_pattern(path.pattern)
        except Bad as bad:
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
            parent_kind = path_kind_of(parent)
            return parent_kind.path_class.__name__, self.paths.reference(parent)
        raise Bad(f"parent_path must be a string or a special path, got {show(parent)}")

    # -- workflow options -----------------------------------------------------------------

    def _workflow_field(self, key: str, check: Callable[[Any], Any]) -> Any:
        try:
            return check(getattr(self.workflow, key))
        except Bad as bad:
            raise SerializationError(f"workflow: {bad.field_message(key)}") from None

    def _workflow_options(self, doc: dict[str, Any]) -> None:
        workflow = self.workflow
        if workflow.env:
            doc["env"] = self._workflow_field("env", check_env)
        if workflow.env_builder_code is not None:
            doc["env_builder_code"] = self._workflow_field("env_builder_code", check_str)
        if workflow.native_specification:
            doc["native_specification"] = self._workflow_field(
                "native_specification", encode_native_spec
            )
        if workflow.user_storage is not None:
            doc["user_storage"] = self._workflow_field("user_storage", encode_plain)
        if workflow.disposal_timeout != DEFAULT_DISPOSAL:
            doc["disposal_timeout"] = self._workflow_field("disposal_timeout", check_int)
        if getattr(workflow, "attempts", None) is not None:  # swf's; soma ignores the key
            doc["attempts"] = self._workflow_field("attempts", check_attempts)
        if self.unknown is not None:
            for key, value in self.unknown.workflow.items():
                doc.setdefault(key, copy_json(value))


def encode_function(function: Any) -> Any:
    """A param link function: ``"module.func"`` or ``("module.func", *args)``."""
    if isinstance(function, str):
        return function
    if isinstance(function, (tuple, list)) and function and isinstance(function[0], str):
        return encode_value(tuple(function), None)
    raise got('"module.function" or a ("module.function", *args) tuple', function)
