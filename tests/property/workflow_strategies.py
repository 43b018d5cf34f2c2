"""Hypothesis strategies for random swf workflows, shared by the property tests.

Speed first: hypothesis draws only the *shape* of a workflow (a ``WorkflowShape``:
sizes, which features to use, a seed) and ``build_workflow`` builds it with a seeded
``random.Random``. A 300-job workflow costs a dozen draws instead of thousands, and
shrinking still works on what matters (fewer jobs, fewer groups, features off).

What a generated workflow holds, each feature behind a switch of ``WorkflowShape``:

* a random DAG, acyclic by construction: jobs are placed in a random hidden order (a
  permutation) and every dependency goes from an earlier to a later job, so neither the
  listing order of ``jobs`` nor of ``dependencies`` gives the order away;
* barrier jobs, custom engine-execution jobs (``MapJob``...), groups nested in groups,
  group dependencies (expanded by ``Workflow`` into barrier hubs);
* special paths of every kind (FileTransfer in and out, SharedResourcePath,
  TemporaryPath, OptionPath over a string or another path), with pattern copies
  (``'pre' + path``, ``path + '.suf'``, ``'50%' + path``), inside commands, tuples
  ``(transfer, "name")`` and nested lists, as stdin/stdout/working directory/params
  files and in ``param_dict``. Every transfer or temporary path a command uses is
  declared in the job's referenced files, so the workflows also pass ``validate``;
* param links (with and without a function), job options (priority, env,
  native_specification, parallel_job_info, configuration, user_storage...) and
  workflow options.

``cyclic_workflows`` adds a cycle to such a workflow and says which jobs are on it.
``workflow_structure`` describes a workflow as plain comparable data (special paths by
referent and pattern, jobs by position), to compare a workflow with its round trip.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from hypothesis import strategies as st

from swf_domain import custom_jobs
from swf_domain.model import (
    BarrierJob,
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
    "CyclicWorkflow",
    "WorkflowShape",
    "build_workflow",
    "cyclic_workflows",
    "plain_values",
    "workflow_shapes",
    "workflow_structure",
    "workflows",
]

#: Custom jobs built with their default parameters (no link needed to be valid).
CUSTOM_JOB_CLASSES = (
    custom_jobs.MapJob,
    custom_jobs.ReduceJob,
    custom_jobs.ListCatJob,
    custom_jobs.StrCatJob,
    custom_jobs.LeaveOneOutJob,
    custom_jobs.CrossValidationFoldJob,
)
_TEXT = string.ascii_letters + string.digits + " _-./:=é%"


@dataclass(frozen=True)
class WorkflowShape:
    """Everything ``build_workflow`` needs; hypothesis shrinks these fields."""

    jobs: int
    #: Most parents a job gets (0: no dependency at all).
    max_parents: int
    groups: int
    barriers: bool
    custom_jobs: bool
    special_paths: bool
    param_links: bool
    job_options: bool
    workflow_options: bool
    group_dependencies: bool
    #: OptionPath over an OptionPath (swf only: soma-workflow cannot build one).
    nested_option_paths: bool
    seed: int


def workflow_shapes(
    min_jobs: int = 1,
    max_jobs: int = 40,
    *,
    groups: bool = True,
    barriers: bool = True,
    custom: bool = True,
    special_paths: bool = True,
    param_links: bool = True,
    options: bool = True,
    nested_option_paths: bool = True,
) -> st.SearchStrategy[WorkflowShape]:
    """Shapes of workflows of ``min_jobs..max_jobs`` jobs (before group hubs).

    A feature set to False is never used; set to True it is drawn on or off.
    ``nested_option_paths=False`` keeps to what soma-workflow can load.
    """

    def maybe(enabled: bool) -> st.SearchStrategy[bool]:
        return st.booleans() if enabled else st.just(False)

    return st.builds(
        WorkflowShape,
        jobs=st.integers(min_jobs, max_jobs),
        max_parents=st.integers(0, 4),
        groups=st.integers(0, 6) if groups else st.just(0),
        barriers=maybe(barriers),
        custom_jobs=maybe(custom),
        special_paths=maybe(special_paths),
        param_links=maybe(param_links),
        job_options=maybe(options),
        workflow_options=maybe(options),
        group_dependencies=maybe(groups),
        nested_option_paths=maybe(special_paths and nested_option_paths),
        seed=st.integers(0, 2**32 - 1),
    )


def workflows(
    min_jobs: int = 1, max_jobs: int = 40, **features: bool
) -> st.SearchStrategy[Workflow]:
    """Random valid workflows (acyclic); ``features`` as in ``workflow_shapes``."""
    return workflow_shapes(min_jobs, max_jobs, **features).map(build_workflow)


@dataclass
class CyclicWorkflow:
    """A workflow with a cycle added, and the jobs on that cycle.

    ``cycle[i + 1]`` depends on ``cycle[i]`` and ``cycle[0]`` on ``cycle[-1]`` (a single
    job depends on itself). Other cycles may go through the added edges too, but every
    cycle of the workflow uses at least one of them: without them it is a DAG.
    """

    workflow: Workflow
    cycle: list[Job]


def cyclic_workflows(
    min_jobs: int = 1, max_jobs: int = 40, max_cycle: int = 6, **features: bool
) -> st.SearchStrategy[CyclicWorkflow]:
    """Workflows with one injected cycle of 1..max_cycle jobs."""
    return st.builds(
        _add_cycle,
        workflow_shapes(min_jobs, max_jobs, **features),
        st.integers(1, max_cycle),
        st.integers(0, 2**32 - 1),
    )


def _add_cycle(shape: WorkflowShape, length: int, seed: int) -> CyclicWorkflow:
    workflow = build_workflow(shape)
    rng = random.Random(seed)
    jobs = workflow.jobs
    cycle = rng.sample(jobs, min(length, len(jobs)))
    edges = [(cycle[i], cycle[(i + 1) % len(cycle)]) for i in range(len(cycle))]
    assert workflow.dependencies is not None
    for edge in edges:  # at random places, not all at the end
        workflow.dependencies.insert(rng.randint(0, len(workflow.dependencies)), edge)
    return CyclicWorkflow(workflow, cycle)


# ---------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------


def build_workflow(shape: WorkflowShape) -> Workflow:
    """The workflow ``shape`` describes (the same shape always gives the same workflow)."""
    return _Builder(shape).build()


class _Builder:
    def __init__(self, shape: WorkflowShape) -> None:
        self.shape = shape
        self.rng = random.Random(shape.seed)
        self.paths: list[SpecialPath] = []

    def build(self) -> Workflow:
        shape, rng = self.shape, self.rng
        if shape.special_paths:
            self.paths = self._special_paths()
        jobs = [self._job(index) for index in range(shape.jobs)]
        order = list(range(len(jobs)))
        rng.shuffle(order)  # order[k]: the job at position k of the hidden order
        dependencies = self._dependencies(jobs, order)
        position = {id(jobs[index]): k for k, index in enumerate(order)}
        root_group, group_dependencies = self._groups(jobs, position)
        links = self._param_links(jobs, order) if shape.param_links else {}
        workflow = Workflow(
            jobs,
            dependencies + group_dependencies,
            root_group=root_group,
            param_links=links,
            **(self._workflow_options() if shape.workflow_options else {}),
        )
        return workflow

    # -- jobs ---------------------------------------------------------------------------

    def _job(self, index: int) -> Job:
        shape, rng = self.shape, self.rng
        draw = rng.random()
        if shape.barriers and draw < 0.1:
            return BarrierJob(name=rng.choice([f"barrier{index}", None]))
        if shape.custom_jobs and draw > 0.93:
            return rng.choice(CUSTOM_JOB_CLASSES)(name=f"custom{index}")
        inputs: list[Any] = []
        outputs: list[Any] = []
        command: list[Any] = [f"prog{index}"]
        command.extend(self._argument(inputs, outputs) for _ in range(rng.randint(0, 4)))
        job = Job(command, name=rng.choice([f"job{index}", f"job{index}", None]))
        if shape.job_options:
            self._job_options(job, inputs, outputs)
        no_inputs: list[list[Any] | None] = [None, []]  # both mean none; soma writes neither
        job.referenced_input_files = inputs if inputs else rng.choice(no_inputs)
        job.referenced_output_files = outputs or None
        return job

    def _argument(self, inputs: list[Any], outputs: list[Any]) -> Any:
        rng = self.rng
        draw = rng.random()
        if self.paths and draw < 0.45:
            return self._path_use(inputs, outputs)
        if self.paths and draw < 0.55:
            return [self._text(), self._path_use(inputs, outputs)]
        if draw < 0.65:
            return rng.choice([rng.randint(-5, 10**6), rng.uniform(-1e3, 1e3)])
        if draw < 0.7:
            return (self._text(), rng.randint(0, 9))
        return self._text()

    def _path_use(self, inputs: list[Any], outputs: list[Any]) -> Any:
        """A (maybe patterned) special path, declared in the job's files when needed."""
        rng = self.rng
        path = rng.choice(self.paths)
        self._declare(path, inputs, outputs)
        pattern = rng.random()
        if pattern < 0.2:
            return "pre_" + path
        if pattern < 0.35:
            return path + ".suf"
        if pattern < 0.4:
            return "50%" + path + "%d"
        if pattern < 0.5 and isinstance(path, FileTransfer):
            return (path, rng.choice(["", "sub/file.txt"]))
        return path

    def _declare(self, path: SpecialPath, inputs: list[Any], outputs: list[Any]) -> None:
        target: object = path.parent_path if isinstance(path, OptionPath) else path
        if not isinstance(target, (FileTransfer, TemporaryPath)):
            return
        if isinstance(target, FileTransfer) and not target.is_input:
            outputs.append(target)
        else:
            inputs.append(target)

    def _job_options(self, job: Job, inputs: list[Any], outputs: list[Any]) -> None:
        rng = self.rng
        job.priority = rng.randint(-5, 10)
        job.join_stderrout = rng.random() < 0.3
        job.disposal_timeout = rng.choice([168, 1, 48])
        # soma-workflow also takes a list of options (SLURM); the model's annotation says str
        specifications: list[Any] = [None, "-q short", ["--mem=2g", "-t 10"]]
        job.native_specification = rng.choice(specifications)
        job.env = rng.choice([None, {"A": self._text(), "PATH_X": "/x:/y"}])
        job.configuration = rng.choice([{}, {"threads": rng.randint(1, 8)}])
        job.user_storage = rng.choice([None, plain_value(rng)])
        job.has_outputs = rng.random() < 0.2
        if rng.random() < 0.3:
            job.parallel_job_info = {
                "config_name": "native",
                "nodes_number": 1,
                "cpu_per_node": rng.randint(1, 4),
            }
        if rng.random() < 0.3:
            job.param_dict = {"n": rng.randint(0, 9), "label": self._text()}
            job.command.append("%(n)s")
            if self.paths:
                job.param_dict["file"] = self._path_use(inputs, outputs)
        for name in ("stdin", "stdout_file", "stderr_file", "working_directory"):
            draw = rng.random()
            if draw < 0.15:
                setattr(job, name, f"/tmp/{name}_{rng.randint(0, 99)}")
            elif draw < 0.3 and self.paths:
                path = rng.choice(self.paths)
                self._declare(path, inputs, outputs)
                setattr(job, name, path)
        if rng.random() < 0.15 and self.paths:
            job.input_params_file = rng.choice(self.paths)
            job.output_params_file = rng.choice([None, "/tmp/out.json"])

    # -- special paths ------------------------------------------------------------------

    def _special_paths(self) -> list[SpecialPath]:
        rng = self.rng
        paths: list[SpecialPath] = []
        for index in range(rng.randint(1, 8)):
            kind = rng.randrange(5)
            if kind == 0:
                is_input = rng.random() < 0.5
                client_paths = [f"/c/{index}.hdr", f"/c/{index}.img"]
                paths.append(
                    FileTransfer(
                        is_input,
                        f"/home/user/f{index}",
                        disposal_timeout=rng.choice([168, 12]),
                        name=rng.choice([None, f"transfer{index}"]),
                        client_paths=rng.choice([None, client_paths]),
                    )
                )
            elif kind == 1:
                paths.append(
                    SharedResourcePath(
                        f"sub/{index}.nii",
                        "MyApp",
                        rng.choice(["uuid_a", "uuid_b"]),
                        rng.choice([None, 168]),
                    )
                )
            elif kind == 2:
                paths.append(
                    TemporaryPath(
                        is_directory=rng.random() < 0.3,
                        name=rng.choice([None, f"tmp{index}"]),
                        suffix=rng.choice(["", ".nii"]),
                    )
                )
            else:
                parent: str | SpecialPath = f"/data/{index}.csv"
                parents = [
                    path
                    for path in paths
                    if self.shape.nested_option_paths or not isinstance(path, OptionPath)
                ]
                if parents and kind == 4:
                    parent = rng.choice(parents)
                    if rng.random() < 0.3:
                        parent = parent + ".gz"
                uris: list[str | dict[str, Any]] = ["?a=1", {"b": 2, "c": "x"}, ""]
                uri = rng.choice(uris)
                paths.append(OptionPath(parent, uri, name=rng.choice([None, f"opt{index}"])))
        return paths

    # -- structure ----------------------------------------------------------------------

    def _dependencies(self, jobs: list[Job], order: list[int]) -> list[tuple[Any, Any]]:
        rng = self.rng
        edges: list[tuple[Any, Any]] = []
        for k in range(1, len(order)):
            count = rng.randint(0, min(k, self.shape.max_parents))
            for parent_position in rng.sample(range(k), count):
                edges.append((jobs[order[parent_position]], jobs[order[k]]))
        rng.shuffle(edges)
        return edges

    def _groups(
        self, jobs: list[Job], position: dict[int, int]
    ) -> tuple[list[Job | Group], list[tuple[Any, Any]]]:
        """Nested groups holding some jobs, and group dependencies that keep the DAG."""
        rng = self.rng
        groups: list[Group] = []
        root: list[Job | Group] = []
        for index in range(self.shape.groups):
            group = Group([], name=f"group{index}", user_storage=rng.choice([None, index]))
            parent = rng.choice([None, *groups])
            (root if parent is None else parent.elements).append(group)
            groups.append(group)
        for job in jobs:
            home = rng.choice([None, *groups])
            (root if home is None else home.elements).append(job)
        for group in groups:
            rng.shuffle(group.elements)
        rng.shuffle(root)
        dependencies: list[tuple[Any, Any]] = []
        if self.shape.group_dependencies:
            for group in groups:
                dependencies.extend(self._group_dependency(group, jobs, position))
        return root, dependencies

    def _group_dependency(
        self, group: Group, jobs: list[Job], position: dict[int, int]
    ) -> list[tuple[Any, Any]]:
        members = [position[id(job)] for job in group.iter_jobs()]
        if not members or self.rng.random() < 0.5:
            return []
        last, first = max(members), min(members)
        after = [job for job in jobs if position[id(job)] > last]
        before = [job for job in jobs if position[id(job)] < first]
        edges: list[tuple[Any, Any]] = []
        if after:
            edges.append((group, self.rng.choice(after)))
        if before:
            edges.append((self.rng.choice(before), group))
        return edges

    def _param_links(self, jobs: list[Job], order: list[int]) -> dict[Job, Any]:
        rng = self.rng
        links: dict[Job, Any] = {}
        for _ in range(rng.randint(0, max(1, len(jobs) // 4))):
            if len(jobs) < 2:
                break
            first, second = sorted(rng.sample(range(len(order)), 2))
            source, destination = jobs[order[first]], jobs[order[second]]
            function = rng.choice(
                [
                    None,
                    "swf_domain.link_functions.list_to_sequence",
                    ("soma_workflow.engine.sequence_max", 1),
                ]
            )
            link = (source, "out") if function is None else (source, "out", function)
            by_param = links.setdefault(destination, {})
            by_param.setdefault(rng.choice(["x", "y"]), []).append(link)
        return links

    def _workflow_options(self) -> dict[str, Any]:
        rng = self.rng
        return {
            "name": rng.choice([None, "wf_" + self._text()]),
            "env": rng.choice([None, {"WF": "1"}]),
            "env_builder_code": rng.choice([None, "import os\nprint('{}')"]),
            "native_specification": rng.choice([None, "-l nodes=1"]),
            "user_storage": rng.choice([None, plain_value(rng)]),
            "disposal_timeout": rng.choice([168, 24]),
        }

    def _text(self) -> str:
        return _random_text(self.rng)


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choices(_TEXT, k=rng.randrange(9)))


_SCALARS: tuple[Callable[[random.Random], Any], ...] = (
    lambda rng: None,
    lambda rng: rng.random() < 0.5,
    lambda rng: rng.randint(-(10**9), 10**9),
    lambda rng: rng.uniform(-1e6, 1e6),
    _random_text,
    lambda rng: "",
)


def plain_value(rng: random.Random, depth: int = 0) -> Any:
    """A random value the format can hold (``user_storage``): JSON plus tuples and sets."""
    draw = rng.randrange(10 if depth < 3 else 6)
    if draw < 6:
        return _SCALARS[draw](rng)
    items = [plain_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if draw == 6:
        return items
    if draw == 7:
        return tuple(items)
    if draw == 8:
        return {rng.choice(["a", "b", "c", "d"]): item for item in items}
    return {rng.randint(0, 99) for _ in items} | {"s"}


def plain_values() -> st.SearchStrategy[Any]:
    """Random values the format can hold (for tests of values alone)."""
    return st.integers(0, 2**32 - 1).map(lambda seed: plain_value(random.Random(seed)))


# ---------------------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------------------


#: Job fields where an empty value means None (soma's format writes neither).
_EMPTY_IS_NONE = (
    "referenced_input_files",
    "referenced_output_files",
    "stdin",
    "stdout_file",
    "stderr_file",
    "working_directory",
    "input_params_file",
    "output_params_file",
)


def workflow_structure(workflow: Workflow) -> Any:
    """``workflow`` as nested plain data: equal for equal workflows, whatever the objects.

    Jobs and groups appear by position, special paths by (kind, attributes, pattern,
    number of their referent in order of first use): two copies of one TemporaryPath
    describe as sharing a referent, two distinct TemporaryPaths do not. An empty list of
    referenced files or an empty path describes as None, as soma's format keeps neither.
    """
    return _Describer(workflow).describe()


class _Describer:
    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.job_index = {id(job): index for index, job in enumerate(workflow.jobs)}
        self.group_index = {id(group): index for index, group in enumerate(workflow.groups)}
        self.referents: dict[int, int] = {}

    def describe(self) -> Any:
        workflow = self.workflow
        jobs = [self.job(job) for job in workflow.jobs]
        return {
            "jobs": jobs,
            "dependencies": [self.ends(dep) for dep in workflow.dependencies or []],
            "groups": [self.group(group) for group in workflow.groups],
            "root_group": [self.element(element) for element in workflow.root_group or []],
            "param_links": {
                self.job_index[id(destination)]: {
                    param: [
                        (self.job_index[id(link[0])], *map(self.value, link[1:])) for link in links
                    ]
                    for param, links in by_param.items()
                }
                for destination, by_param in (workflow.param_links or {}).items()
            },
            "options": [
                self.value(getattr(workflow, name))
                for name in (
                    "name",
                    "env",
                    "env_builder_code",
                    "native_specification",
                    "user_storage",
                    "disposal_timeout",
                )
            ],
        }

    def ends(self, dependency: tuple[Any, Any]) -> tuple[Any, Any]:
        return self.element(dependency[0]), self.element(dependency[1])

    def element(self, element: object) -> Any:
        if isinstance(element, Group):
            return ("group", self.group_index.get(id(element)))
        return ("job", self.job_index.get(id(element)))

    def group(self, group: Group) -> Any:
        members = [self.element(element) for element in group.elements]
        return group.name, members, self.value(group.user_storage)

    def job(self, job: Job) -> Any:
        values = {
            spec.name: self.value(getattr(job, spec.name))
            for spec in fields(job)
            if spec.name != "job_id"
        }
        for name in _EMPTY_IS_NONE:
            if values[name] in (["list"], ""):
                values[name] = None
        return type(job).__name__, values

    def value(self, value: Any) -> Any:
        if isinstance(value, SpecialPath):
            return self.path(value)
        if isinstance(value, list):
            return ["list", *map(self.value, value)]
        if isinstance(value, tuple):
            return ["tuple", *map(self.value, value)]
        if isinstance(value, dict):
            return ["dict", sorted((key, self.value(item)) for key, item in value.items())]
        if isinstance(value, (set, frozenset)):
            return ["set", sorted(map(repr, value))]
        return value

    def path(self, path: SpecialPath) -> Any:
        referent = self.referents.setdefault(id(path.referent()), len(self.referents))
        attributes = {
            name: self.value(getattr(path, name))
            for cls in type(path).__mro__
            for name in getattr(cls, "__slots__", ())
            if name not in ("_referent", "pattern")
        }
        return [type(path).__name__, referent, path.pattern, sorted(attributes.items())]
