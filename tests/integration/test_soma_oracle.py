"""Documents swf writes load in soma-workflow 6.0.13, and soma sees the same workflow.

soma-workflow (the oracle of ``tests/soma_oracle.py``, never imported by ``src/``) runs in
a subprocess: ``Helper.unserialize`` reads each file swf wrote, and a small script describes
what it loaded (jobs, commands with special path kinds and patterns, dependencies, groups,
param links) as JSON, which is compared with the same description of the swf workflow.
The documents: every fixture read and rewritten by swf, and generated workflows using
every feature (pattern copies, option paths, custom jobs, groups, param links,
user_storage...).

Known soma-workflow behaviours are applied to the expected side: it copies a workflow's
native_specification into jobs without one, lists groups in its own order, names an
option path without name ``"parent_path" + uri``, leaves a special path in
``input_params_file`` undecoded (a 6.0.13 bug), and loads a pattern copy as a separate
object (so special paths are compared by document entry, not by referent).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from swf_domain.model import Group, Job, OptionPath, SpecialPath, Workflow
from swf_domain.serialization import dumps, workflow_from_dict
from tests import soma_oracle
from tests.property.workflow_strategies import WorkflowShape, build_workflow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "soma-json"
MARKER = "SWF-ORACLE:"

#: Job fields described, in one order for both sides (special paths numbered in it).
PATH_FIELDS = (
    "stdin",
    "stdout_file",
    "stderr_file",
    "working_directory",
    "input_params_file",
    "output_params_file",
)
VALUE_FIELDS = (
    "priority",
    "join_stderrout",
    "disposal_timeout",
    "env",
    "parallel_job_info",
    "configuration",
    "has_outputs",
    "use_input_params_file",
)

#: Runs in the subprocess, with soma-workflow: describe each file as one JSON line.
ORACLE_SCRIPT = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
from soma_workflow import info
from soma_workflow.client import Helper
from soma_workflow.client_types import (
    FileTransfer, Group, OptionPath, SharedResourcePath, SpecialPath, TemporaryPath,
)
PATH_FIELDS, VALUE_FIELDS, MARKER = json.loads(sys.argv[1])
ATTRIBUTES = {
    FileTransfer: ("client_path", "client_paths", "initial_status", "name"),
    SharedResourcePath: ("relative_path", "namespace", "uuid"),
    TemporaryPath: ("is_directory", "name", "suffix"),
    OptionPath: ("uri", "name"),
}

class Describer:
    def __init__(self):
        self.entries = {}

    def value(self, value):
        if isinstance(value, SpecialPath):
            return self.path(value)
        if isinstance(value, list):
            return ["list", *map(self.value, value)]
        if isinstance(value, tuple):
            return ["tuple", *map(self.value, value)]
        if isinstance(value, dict):
            return ["dict", [[k, self.value(v)] for k, v in sorted(value.items())]]
        return value

    def path(self, path):
        number = self.entries.setdefault(id(path), len(self.entries))
        kind = next(k for k in ATTRIBUTES if isinstance(path, k))
        attributes = [getattr(path, name) for name in ATTRIBUTES[kind]]
        if isinstance(path, OptionPath):
            attributes.append(self.value(path.parent_path))
        return ["path", number, kind.__name__, path.pattern, attributes]

def describe(workflow):
    d = Describer()
    index = {id(job): i for i, job in enumerate(workflow.jobs)}
    groups = {id(g): g for g in workflow.groups}
    def element(e):
        return ["group", e.name] if isinstance(e, Group) else ["job", index[id(e)]]
    jobs = []
    for job in workflow.jobs:
        jobs.append({
            "class": type(job).__module__ + "." + type(job).__name__,
            "name": job.name,
            "command": d.value(list(job.command)),
            "referenced_input_files": d.value(list(job.referenced_input_files or [])),
            "referenced_output_files": d.value(list(job.referenced_output_files or [])),
            **{name: d.value(getattr(job, name) or None) for name in PATH_FIELDS},
            **{name: d.value(getattr(job, name)) for name in VALUE_FIELDS},
            "native_specification": job.native_specification,
            "param_dict": d.value(dict(job.param_dict or {})),
        })
    links = {
        str(index[id(dest)]): {
            param: [[index[id(link[0])], *map(d.value, link[1:])] for link in sources]
            for param, sources in by_param.items()
        }
        for dest, by_param in workflow.param_links.items()
    }
    return {
        "version": info.__version__,
        "name": workflow.name,
        "env": workflow.env or {},
        "env_builder_code": workflow.env_builder_code,
        "jobs": jobs,
        "dependencies": [[index[id(a)], index[id(b)]] for a, b in workflow.dependencies],
        "groups": sorted(
            [g.name, [element(e) for e in g.elements]] for g in groups.values()
        ),
        "root_group": [element(e) for e in workflow.root_group],
        "param_links": links,
    }

for path in sys.argv[2:]:
    print(MARKER + json.dumps(describe(Helper.unserialize(path))), flush=True)
"""


class Describer:
    """The swf side of ``ORACLE_SCRIPT``'s description, with soma's known differences.

    A pattern copy is one entry per (referent, pattern) in the document, so it is
    numbered by that pair here and by object in soma-workflow, where each entry is one
    object.
    """

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.entries: dict[tuple[int, str], int] = {}

    def value(self, value: Any) -> Any:
        if isinstance(value, SpecialPath):
            return self.path(value)
        if isinstance(value, list):
            return ["list", *map(self.value, value)]
        if isinstance(value, tuple):
            return ["tuple", *map(self.value, value)]
        if isinstance(value, dict):
            return ["dict", [[k, self.value(v)] for k, v in sorted(value.items())]]
        return value

    def path(self, path: SpecialPath) -> Any:
        key = (id(path.referent()), path.pattern)
        number = self.entries.setdefault(key, len(self.entries))
        names = {
            "FileTransfer": ("client_path", "client_paths", "initial_status", "name"),
            "SharedResourcePath": ("relative_path", "namespace", "uuid"),
            "TemporaryPath": ("is_directory", "name", "suffix"),
            "OptionPath": ("uri", "name"),
        }[type(path).__name__]
        attributes = [getattr(path, name) for name in names]
        if isinstance(path, OptionPath):
            if path.name is None:  # soma-workflow names it so when it reads a null name
                attributes[1] = "parent_path" + path.uri
            attributes.append(self.value(path.parent_path))
        return ["path", number, type(path).__name__, path.pattern, attributes]

    def describe(self) -> dict[str, Any]:
        workflow = self.workflow
        index = {id(job): i for i, job in enumerate(workflow.jobs)}

        def element(e: Job | Group) -> list[Any]:
            return ["group", e.name] if isinstance(e, Group) else ["job", index[id(e)]]

        jobs = [self.job(job) for job in workflow.jobs]
        links = {
            str(index[id(dest)]): {
                param: [[index[id(link[0])], *map(self.value, link[1:])] for link in sources]
                for param, sources in by_param.items()
            }
            for dest, by_param in (workflow.param_links or {}).items()
        }
        return {
            "version": "6.0.13",
            "name": workflow.name,
            "env": workflow.env or {},
            "env_builder_code": workflow.env_builder_code,
            "jobs": jobs,
            "dependencies": [[index[id(a)], index[id(b)]] for a, b in workflow.dependencies or []],
            "groups": sorted([g.name, [element(e) for e in g.elements]] for g in workflow.groups),
            "root_group": [element(e) for e in workflow.root_group or workflow.jobs],
            "param_links": links,
        }

    def job(self, job: Job) -> dict[str, Any]:
        described: dict[str, Any] = {
            "class": _soma_module(job) + "." + type(job).__name__,
            "name": job.name,
            "command": self.value(list(job.command)),
            "referenced_input_files": self.value(list(job.referenced_input_files or [])),
            "referenced_output_files": self.value(list(job.referenced_output_files or [])),
        }
        for name in PATH_FIELDS:
            value = getattr(job, name) or None
            if name == "input_params_file" and isinstance(value, SpecialPath):
                # soma-workflow 6.0.13 does not decode this one field: it stays ('<id>', n)
                described[name] = ["tuple", "<id>"]
            else:
                described[name] = self.value(value)
        described.update({name: self.value(getattr(job, name)) for name in VALUE_FIELDS})
        # soma-workflow gives its own native_specification to jobs without one
        described["native_specification"] = (
            job.native_specification
            or self.workflow.native_specification
            or job.native_specification
        )
        described["param_dict"] = self.value(dict(job.param_dict or {}))
        return described


def _soma_module(job: Job) -> str:
    if type(job).__name__ in ("Job", "BarrierJob", "EngineExecutionJob"):
        return "soma_workflow.client_types"
    return "soma_workflow.custom_jobs"


def soma_descriptions(paths: list[Path]) -> list[dict[str, Any]]:
    """What soma-workflow loads from each file, described by ORACLE_SCRIPT."""
    arguments = json.dumps([PATH_FIELDS, VALUE_FIELDS, MARKER])
    run = subprocess.run(
        [sys.executable, "-c", ORACLE_SCRIPT, arguments, *map(str, paths)],
        env=soma_oracle.oracle_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line[len(MARKER) :] for line in run.stdout.splitlines() if line.startswith(MARKER)]
    assert len(lines) == len(paths), run.stdout[-3000:]
    return [json.loads(line) for line in lines]


def documents() -> dict[str, Workflow]:
    """Name -> workflow: the fixtures as swf reads them, and generated workflows."""
    found = {
        path.name: workflow_from_dict(json.loads(path.read_text()), path.name)
        for path in sorted(FIXTURES.glob("*.json"))
    }
    assert len(found) >= 5, f"fixtures missing from {FIXTURES}"
    for seed in range(6):
        shape = WorkflowShape(
            jobs=40,
            max_parents=3,
            groups=4,
            barriers=True,
            custom_jobs=True,
            special_paths=True,
            param_links=True,
            job_options=True,
            workflow_options=True,
            group_dependencies=True,
            nested_option_paths=False,  # soma-workflow cannot build those (see serialization)
            seed=seed,
        )
        found[f"generated_{seed}.json"] = build_workflow(shape)
    return found


@pytest.fixture(scope="module")
def loaded_by_soma(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each document, written by swf, as soma-workflow loads it; and swf's workflow."""
    directory = tmp_path_factory.mktemp("soma-oracle")
    workflows = documents()
    paths = []
    for name, workflow in workflows.items():
        path = directory / name
        path.write_text(dumps(workflow, indent=4))
        paths.append(path)
    described = soma_descriptions(paths)
    return {name: (workflows[name], seen) for name, seen in zip(workflows, described, strict=True)}


def test_every_document_loads_in_soma_workflow_6_0_13(loaded_by_soma: dict[str, Any]) -> None:
    assert len(loaded_by_soma) == 11
    for _workflow, seen in loaded_by_soma.values():
        assert seen["version"] == "6.0.13"


@pytest.mark.parametrize(
    "name",
    [
        "a_chain_group.json",
        "b_barrier.json",
        "c_job_options.json",
        "d_special_paths.json",
        "e_fanout_1000.json",
        *(f"generated_{seed}.json" for seed in range(6)),
    ],
)
def test_soma_workflow_sees_the_same_workflow(name: str, loaded_by_soma: dict[str, Any]) -> None:
    workflow, seen = loaded_by_soma[name]
    expected = Describer(workflow).describe()
    for key in ("name", "env", "env_builder_code", "dependencies", "groups", "root_group"):
        assert seen[key] == expected[key], key
    assert seen["param_links"] == expected["param_links"]
    assert len(seen["jobs"]) == len(expected["jobs"])
    for index, (soma_job, swf_job) in enumerate(zip(seen["jobs"], expected["jobs"], strict=True)):
        if swf_job["input_params_file"] == ["tuple", "<id>"]:
            soma_job["input_params_file"] = soma_job["input_params_file"][:2]
        assert soma_job == swf_job, f"job {index} ({swf_job['name']!r})"


def test_generated_workflows_use_every_feature(loaded_by_soma: dict[str, Any]) -> None:
    """The comparison above is only worth what the documents hold: check they hold it."""
    text = "".join(
        json.dumps(seen) for name, (_w, seen) in loaded_by_soma.items() if "generated" in name
    )
    for kind in ("FileTransfer", "SharedResourcePath", "TemporaryPath", "OptionPath"):
        assert f'"{kind}"' in text, kind
    for needle in ('"pre_%s"', '"%s.suf"', "custom_jobs.", "BarrierJob", '"tuple"'):
        assert needle in text, needle
    assert any(
        seen["groups"] and seen["param_links"]
        for name, (_w, seen) in loaded_by_soma.items()
        if "generated" in name
    )
