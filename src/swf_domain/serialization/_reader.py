"""Document -> model: ``Reader`` checks every value and names the culprit of a problem.

Two modes. Strict (``problems`` None, what ``workflow_from_dict`` uses): the first
problem raises its SerializationError. Collecting (``swf validate``, via
``swf_domain.validation.check_document``): a bad job, a bad entry of ``jobs``, a
dependency, a param link or a group element naming an unknown id, a bad workflow option
is recorded as ``(culprit, message)`` and left out, and reading goes on, so a user sees
every problem at once (references to a job already reported unreadable are not
reported again). Problems that leave nothing to read on (not a JSON object, a table
that is not an object, special paths, group loops) still raise.

Order: workflow options, special paths (built after what they need: their referent,
an option path's parent), jobs, ``jobs`` order, groups (nesting checked for loops),
root group, dependencies, param links; then the Workflow, built so that its
dependencies are the document's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..errors import SerializationError
from ..model import BarrierJob, Element, FileTransfer, Group, Job, OptionPath, SpecialPath, Workflow
from ._classes import CLASSES, JOB_CLASS
from ._fields import (
    BUILDER,
    JOB_FIELD_BY_KEY,
    check_attempts,
    check_env,
    check_int,
    check_native_spec,
    check_opt_int,
    check_opt_str,
    check_str,
    decode_plain,
    got,
)
from ._paths import OPTION_KIND, PARENT_KEYS, PATH_KINDS, REFERENT_KEY, PathKind, check_pattern
from ._plain_jobs import read_plain_job
from ._strings import own_strings
from ._unknown import EXTRAS_ATTRIBUTE, UnknownKeys
from ._values import Bad, PathsById, copy_json, decode_value, describe, show

ID_KEY = re.compile(r"[0-9]{1,18}")


WORKFLOW_KEYS: Final = frozenset(
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
        "attempts",
        *(kind.table for kind in PATH_KINDS),
    }
)


#: A workflow document has at least one of these (soma-workflow always writes "jobs"):
#: an object without any is some other JSON file, not an empty workflow.
DEFINING_KEYS: Final = frozenset({"jobs", "serialized_jobs", "serialized_barriers"})


@dataclass(slots=True)
class PathEntry:
    """A special path entry read but not built yet (it may wait for its referent/parent)."""

    ident: int
    kind: PathKind
    label: str
    values: dict[str, Any]
    pattern: str
    referent: int | None
    #: Option paths: ("str", text) / ("none", None) / ("path", id)
    parent: tuple[str, Any]
    #: Keys the model has no field for, written back verbatim.
    unknown: dict[str, Any]


class Reader:
    """One ``workflow_from_dict`` call."""

    def __init__(
        self, doc: Any, source: str, problems: list[tuple[str, str]] | None = None
    ) -> None:
        self.source = source
        #: Collecting mode's (culprit, message) list; None: strict.
        self.problems = problems
        #: Job ids whose entry could not be read (collecting mode).
        self.unreadable: set[int] = set()
        if not isinstance(doc, dict):
            raise self.fail(f"a workflow document must be a JSON object, got {show(doc)}")
        if not DEFINING_KEYS & doc.keys():
            found = ", ".join(repr(key) for key in list(doc)[:5]) or "none"
            raise self.fail(
                "not a workflow document: it has no 'jobs' (nor 'serialized_jobs'); "
                f'keys found: {found}. An empty workflow is written {{"jobs": []}}'
            )
        self.doc: dict[str, Any] = doc
        self.paths: PathsById = {}
        self.jobs: dict[int, Job] = {}
        #: Command words met so far, each one object (see ``own_strings``).
        self.words: dict[str, str] = {}
        self.groups: dict[int, Group] = {}
        self.unknown = UnknownKeys({}, {})

    def fail(self, message: str) -> SerializationError:
        return SerializationError(f"{self.source}: {message}")

    def problem(self, culprit: str, message: str) -> None:
        """Record a problem (collecting mode) or raise it (strict mode)."""
        if self.problems is None:
            raise self.fail(message)
        self.problems.append((culprit, message))

    def _reference(self, ident: object) -> str:
        """``job 3 ('name')`` / ``unknown job id 7`` for a message about a reference."""
        if isinstance(ident, int) and not isinstance(ident, bool) and ident in self.jobs:
            return describe("job", ident, self.jobs[ident].name)
        if type(ident) is int and ident in self.unreadable:
            return f"unreadable job id {ident}"
        return f"unknown job id {show(ident)}"

    def _is_unreadable(self, *idents: object) -> bool:
        return any(type(ident) is int and ident in self.unreadable for ident in idents)

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
            setattr(workflow, EXTRAS_ATTRIBUTE, self.unknown)
        return workflow

    # -- helpers ------------------------------------------------------------------------

    def _table(self, key: str) -> dict[str, Any]:
        table = self.doc.get(key, {})
        if not isinstance(table, dict):
            raise self.fail(f"'{key}' must be an object of id -> entry, got {show(table)}")
        return table

    def _list(self, key: str) -> list[Any] | None:
        found = self.doc.get(key)
        if found is None:
            return None
        if not isinstance(found, list):
            raise self.fail(f"'{key}' must be a list, got {show(found)}")
        return found

    def _key_id(self, key: object, table: str) -> int:
        if type(key) is str and ID_KEY.fullmatch(key):
            return int(key)
        raise self.fail(f"'{table}' has a key {show(key)} that is not an id")

    def _keep_unknown(self, element: object, label: str, unknown: dict[str, Any]) -> None:
        kept = {}
        for key, value in unknown.items():
            try:
                kept[key] = copy_json(value)
            except Bad as bad:
                raise self.fail(f"{label}: {bad.field_message(key)}") from None
        self.unknown.elements[element] = kept

    # -- workflow-level fields ----------------------------------------------------------

    def _workflow_options(self) -> dict[str, Any]:
        doc = self.doc
        checks: dict[str, Callable[[Any], Any]] = {
            "name": check_opt_str,
            "env": check_env,
            "env_builder_code": check_opt_str,
            "native_specification": check_native_spec,
            "user_storage": decode_plain,
            "disposal_timeout": check_int,
            "attempts": check_attempts,
        }
        options: dict[str, Any] = {}
        for key, check in checks.items():
            if key in doc:
                try:
                    options[key] = check(doc[key])
                except Bad as bad:
                    self.problem(f"workflow {key}", f"workflow: {bad.field_message(key)}")
        for key, value in doc.items():
            if key not in WORKFLOW_KEYS:
                try:
                    self.unknown.workflow[key] = copy_json(value)
                except Bad as bad:
                    raise self.fail(f"workflow: {bad.field_message(str(key))}") from None
        return options

    # -- special paths --------------------------------------------------------------------

    def _read_paths(self) -> None:
        entries: dict[int, PathEntry] = {}
        for kind in PATH_KINDS:
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
                    f"{show(entry.parent[1])}"
                )
        for ident in entries:
            self._build_path(ident, entries)

    def _path_entry(self, kind: PathKind, ident: int, raw: Any) -> PathEntry:
        name = raw.get("name") if isinstance(raw, dict) else None
        label = describe(kind.label, ident, name)
        if not isinstance(raw, dict):
            raise self.fail(f"{label} must be an object, got {show(raw)}")
        values: dict[str, Any] = {}
        key = "?"
        try:
            for key, check, default in kind.fields:
                values[key] = check(raw[key]) if key in raw else default()
            key = "pattern"
            pattern = check_pattern(raw.get("pattern", "%s"))
            key = REFERENT_KEY
            referent = check_opt_int(raw.get(REFERENT_KEY))
            key = "parent_path"
            parent = self._option_parent(raw) if kind is OPTION_KIND else ("none", None)
        except Bad as bad:
            raise self.fail(f"{label}: {bad.field_message(key)}") from None
        known = {key for key, _check, _default in kind.fields}
        known.update(("pattern", REFERENT_KEY))
        if kind is OPTION_KIND:
            known.update(PARENT_KEYS)
        unknown = {key: value for key, value in raw.items() if key not in known}
        return PathEntry(ident, kind, label, values, pattern, referent, parent, unknown)

    @staticmethod
    def _option_parent(raw: dict[str, Any]) -> tuple[str, Any]:
        parent_type = raw.get("parent_type", "str")
        parent = raw.get("parent_path")
        if not isinstance(parent_type, str):
            raise got("a string", parent_type)
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
        raise got("a string (parent_type 'str'), a special path or null", parent)

    def _build_path(self, start: int, entries: dict[int, PathEntry]) -> None:
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
            needed = [need for need in needs(entries[ident]) if need not in self.paths]
            if not needed:
                self.paths[ident] = self._make_path(entries[ident])
                waiting.discard(ident)
                stack.pop()
                continue
            waiting.add(ident)
            for need in needed:
                if need in waiting:
                    loop = find_loop(entries, need, ident)
                    labels = " -> ".join(entries[i].label for i in loop)
                    raise self.fail(f"special paths refer to each other in a loop: {labels}")
                stack.append(need)

    def _make_path(self, entry: PathEntry) -> SpecialPath:
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
                try:
                    job = self.jobs[ident] = self._job(ident, raw, default_class)
                    own_strings(job, self.words)
                except SerializationError as error:
                    if self.problems is None:
                        raise
                    self.unreadable.add(ident)
                    name = raw.get("name") if isinstance(raw, dict) else None
                    message = str(error).removeprefix(f"{self.source}: ")
                    self.problems.append((describe("job", ident, name), message))

    def _job_label(self, ident: int) -> str:
        return describe("job", ident, self.jobs[ident].name)

    def _job(self, ident: int, raw: Any, job_class: type[Job] | None) -> Job:
        if job_class is None and type(raw) is dict:
            plain = read_plain_job(raw)
            if plain is not None:
                return plain
        name = raw.get("name") if isinstance(raw, dict) else None
        label = describe("job", ident, name)
        if not isinstance(raw, dict):
            raise self.fail(f"{label} must be an object, got {show(raw)}")
        if job_class is None:
            job_class = self._job_class(raw, label)
        values: dict[str, Any] = {}
        unknown: dict[str, Any] | None = None
        paths = self.paths
        for key, value in raw.items():
            job_field = JOB_FIELD_BY_KEY.get(key)
            if job_field is None:
                if key != "class":
                    unknown = unknown if unknown is not None else {}
                    unknown[key] = value
                continue
            try:
                values[key] = job_field.decode(value, paths)
            except Bad as bad:
                raise self.fail(f"{label}: {bad.field_message(key)}") from None
        if "command" not in values and not issubclass(job_class, BarrierJob):
            raise self.fail(f"{label}: field 'command' is missing")
        if "name" not in raw and values.get("command") and isinstance(values["command"][0], str):
            values["name"] = values["command"][0]  # soma names such a job after argv[0]
        job = BUILDER.build(job_class, values)
        if unknown:
            self._keep_unknown(job, label, unknown)
        return job

    def _job_class(self, raw: dict[str, Any], label: str) -> type[Job]:
        class_name = raw.get("class", JOB_CLASS)
        if not isinstance(class_name, str):
            raise self.fail(f"{label}: field 'class' must be a string, got {show(class_name)}")
        found = CLASSES.lookup(class_name)
        if found is None:
            known = ", ".join(sorted(CLASSES.by_name))
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
                if not self._is_unreadable(ident):
                    self.problem(
                        f"jobs[{index}]", f"jobs[{index}] refers to unknown job id {show(ident)}"
                    )
                continue
            if ident in seen:
                self.problem(f"jobs[{index}]", f"jobs[{index}]: job id {ident} is listed twice")
                continue
            seen.add(ident)
            order.append(job)
        for ident in self.jobs:
            if ident not in seen:
                label = self._job_label(ident)
                self.problem(label, f"{label} is serialized but not listed in 'jobs'")
        return order

    # -- groups ---------------------------------------------------------------------------

    def _read_groups(self) -> list[Group]:
        elements: dict[int, list[Any]] = {}
        for key, raw in self._table("serialized_groups").items():
            ident = self._key_id(key, "serialized_groups")
            name = raw.get("name") if isinstance(raw, dict) else None
            label = describe("group", ident, name)
            if ident in self.jobs:
                raise self.fail(f"id {ident} names both {self._job_label(ident)} and {label}")
            elements[ident] = self._group_elements(raw, label)
            self.groups[ident] = self._group(raw, label)
        for ident, element_ids in elements.items():
            group = self.groups[ident]
            found = [
                self._element(element, f"{self._group_label(ident)}: elements[{index}]")
                for index, element in enumerate(element_ids)
            ]
            group.elements = [element for element in found if element is not None]
        self._check_group_nesting(elements)
        listed = self._list("groups")
        if listed is None:
            return list(self.groups.values())
        return self._listed_groups(listed)

    def _group_elements(self, raw: Any, label: str) -> list[Any]:
        if not isinstance(raw, dict):
            raise self.fail(f"{label} must be an object, got {show(raw)}")
        found = raw.get("elements")
        if not isinstance(found, list):
            raise self.fail(f"{label}: field 'elements' must be a list of ids, got {show(found)}")
        return found

    def _group(self, raw: dict[str, Any], label: str) -> Group:
        name = raw.get("name")
        if not isinstance(name, str):
            raise self.fail(f"{label}: field 'name' must be a string, got {show(name)}")
        try:
            user_storage = decode_value(raw.get("user_storage"), None)
        except Bad as bad:
            raise self.fail(f"{label}: {bad.field_message('user_storage')}") from None
        group = Group([], name, user_storage)
        unknown = {k: v for k, v in raw.items() if k not in ("name", "elements", "user_storage")}
        if unknown:
            self._keep_unknown(group, label, unknown)
        return group

    def _group_label(self, ident: int) -> str:
        return describe("group", ident, self.groups[ident].name)

    def _element(self, ident: object, where: str) -> Job | Group | None:
        """The job or group ``ident`` (None, when collecting, for an unknown one)."""
        if type(ident) is int:
            job = self.jobs.get(ident)
            if job is not None:
                return job
            group = self.groups.get(ident)
            if group is not None:
                return group
        if not self._is_unreadable(ident):
            self.problem(where, f"{where} refers to unknown job or group id {show(ident)}")
        return None

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
                raise self.fail(f"groups[{index}] refers to unknown group id {show(ident)}")
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
        found = [self._element(ident, f"root_group[{i}]") for i, ident in enumerate(listed)]
        return [element for element in found if element is not None]

    # -- dependencies and param links -----------------------------------------------------

    def _dependencies(self) -> list[tuple[Element, Element]]:
        listed = self._list("dependencies") or []
        jobs: dict[Any, Job] = self.jobs
        try:  # the usual ["<tuple>", parent, child] in bulk; anything else below
            pairs: list[tuple[Element, Element]] = [
                (jobs[parent_id], jobs[child_id])
                for tag, parent_id, child_id in listed
                if tag == "<tuple>" and type(parent_id) is int and type(child_id) is int
            ]
            if len(pairs) == len(listed):
                return pairs
        except (KeyError, TypeError, ValueError):
            pass
        return self._checked_dependencies(listed)

    def _checked_dependencies(self, listed: list[Any]) -> list[tuple[Element, Element]]:
        """Dependencies one by one: plain [parent, child] pairs, or the culprit named
        (numbered from 1 and with both ends, as validation names a Python dependency)."""
        jobs = self.jobs
        out: list[tuple[Element, Element]] = []
        append = out.append
        for number, raw in enumerate(listed, start=1):
            where = f"dependency #{number}"
            pair = raw[1:] if type(raw) is list and raw[:1] == ["<tuple>"] else raw
            if type(pair) is not list or len(pair) != 2:
                self.problem(where, f"{where} must be a pair of job ids, got {show(raw)}")
                continue
            parent_id, child_id = pair
            parent = jobs.get(parent_id) if type(parent_id) is int else None
            child = jobs.get(child_id) if type(child_id) is int else None
            if parent is None or child is None:
                if not self._is_unreadable(parent_id, child_id):
                    ends = f"{self._reference(parent_id)} -> {self._reference(child_id)}"
                    unknown = parent_id if parent is None else child_id
                    self.problem(
                        where, f"{where} ({ends}) refers to unknown job id {show(unknown)}"
                    )
                continue
            append((parent, child))
        return out

    def _param_links(self) -> dict[Job, dict[str, list[tuple[Any, ...]]]]:
        raw_links = self.doc.get("param_links") or {}
        if not isinstance(raw_links, dict):
            raise self.fail(f"'param_links' must be an object, got {show(raw_links)}")
        out: dict[Job, dict[str, list[tuple[Any, ...]]]] = {}
        for key, by_param in raw_links.items():
            dest_id = self._key_id(key, "param_links")
            destination = self.jobs.get(dest_id)
            if destination is None:
                if not self._is_unreadable(dest_id):
                    where = f"param links of job id {dest_id}"
                    self.problem(where, f"param_links refers to unknown job id {dest_id}")
                continue
            label = self._job_label(dest_id)
            if not isinstance(by_param, dict):
                where = f"param links of {label}"
                self.problem(where, f"{where} must be an object, got {show(by_param)}")
                continue
            out[destination] = {
                param: self._links(f"param link {param!r} of {label}", sources)
                for param, sources in by_param.items()
            }
        return out

    def _links(self, where: str, sources: Any) -> list[tuple[Any, ...]]:
        if not isinstance(sources, list):
            self.problem(where, f"{where} must be a list of links, got {show(sources)}")
            return []
        out = []
        for number, raw in enumerate(sources, start=1):
            here = f"{where} #{number}"
            items = raw[1:] if type(raw) is list and raw[:1] == ["<tuple>"] else raw
            if type(items) is not list or not 2 <= len(items) <= 3:
                self.problem(
                    where,
                    f'{here} must be ["<tuple>", job_id, param(, function)], got {show(raw)}',
                )
                continue
            source = self.jobs.get(items[0]) if type(items[0]) is int else None
            if source is None:
                if not self._is_unreadable(items[0]):
                    self.problem(where, f"{here} refers to unknown job id {show(items[0])}")
                continue
            try:
                rest = [check_str(items[1]), *(decode_function(f) for f in items[2:])]
            except Bad as bad:
                self.problem(where, f"{here}: {bad.field_message('link')}")
                continue
            out.append((source, *rest))
        return out


def needs(entry: PathEntry) -> list[int]:
    """The entries ``entry`` is built from: its referent, its parent path."""
    needs = [] if entry.referent is None else [entry.referent]
    if entry.parent[0] == "path":
        needs.append(entry.parent[1])
    return needs


def find_loop(entries: dict[int, PathEntry], start: int, goal: int) -> list[int]:
    """``goal -> start -> ... -> goal`` following needs (``goal`` needs ``start``)."""
    previous: dict[int, int] = {start: start}
    queue = [start]
    for ident in queue:  # breadth first, so the loop shown is a shortest one
        if ident == goal:
            break
        for need in needs(entries[ident]):
            if need not in previous:
                previous[need] = ident
                queue.append(need)
    path = [goal]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return [goal, *reversed(path)]


def decode_function(raw: Any) -> Any:
    function = decode_value(raw, None)
    if isinstance(function, str):
        return function
    if isinstance(function, tuple) and function and isinstance(function[0], str):
        return function
    raise got('"module.function" or ["<tuple>", "module.function", *args]', raw)
