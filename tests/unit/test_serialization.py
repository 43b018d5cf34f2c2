"""soma-workflow JSON format: the fixtures soma-workflow wrote, patterns, errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from swf_domain import custom_jobs
from swf_domain.errors import SerializationError
from swf_domain.model import (
    BarrierJob,
    FileTransfer,
    Group,
    Job,
    OptionPath,
    SharedResourcePath,
    TemporaryPath,
    Workflow,
)
from swf_domain.serialization import (
    BARRIER_CLASS,
    JOB_CLASS,
    REFERENT_KEY,
    UNDEFINED,
    _plain_jobs,
    _reader,
    _writer,
    dumps,
    job_class_for,
    loads,
    register_job_class,
    soma_class_name,
    workflow_from_dict,
    workflow_to_dict,
)
from tests.property.workflow_strategies import WorkflowShape, build_workflow, workflow_structure

#: Written by soma-workflow 6.0.13 (see its README), kept in the repository.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "soma-json"
FIXTURE_NAMES = [
    "a_chain_group.json",
    "b_barrier.json",
    "c_job_options.json",
    "d_special_paths.json",
    "e_fanout_1000.json",
]


def fixture(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return result


def load_fixture(name: str) -> Workflow:
    return workflow_from_dict(fixture(name), name)


def load_error(doc: Any, source: str = "e.json") -> str:
    with pytest.raises(SerializationError) as caught:
        workflow_from_dict(doc, source)
    return str(caught.value)


def by_name(workflow: Workflow) -> dict[str | None, Job]:
    return {job.name: job for job in workflow.jobs}


# ---------------------------------------------------------------------------------------
# The fixtures
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_round_trips_exactly(name: str) -> None:
    doc = fixture(name)
    assert workflow_to_dict(workflow_from_dict(doc, name)) == doc
    text = (FIXTURES / name).read_text()
    assert json.loads(dumps(loads(text, name), indent=4)) == doc


def test_chain_in_a_group() -> None:
    workflow = load_fixture("a_chain_group.json")
    step1, step2, step3 = workflow.jobs
    assert [job.name for job in workflow.jobs] == ["step1", "step2", "step3"]
    assert step2.command == ["echo", "step2"]
    assert all(type(job) is Job for job in workflow.jobs)
    assert workflow.dependencies == [(step1, step2), (step2, step3)]
    (group,) = workflow.groups
    assert group.name == "chain_group"
    assert group.elements == [step1, step2, step3]
    assert workflow.root_group == [group]
    assert workflow.name == "a_chain_group"


def test_barrier_hub() -> None:
    workflow = load_fixture("b_barrier.json")
    jobs = by_name(workflow)
    barrier = jobs["barrier"]
    assert type(barrier) is BarrierJob and barrier.command == []
    assert workflow.dependencies == [
        (jobs["a1"], barrier),
        (jobs["a2"], barrier),
        (barrier, jobs["b1"]),
        (barrier, jobs["b2"]),
    ]
    assert workflow.groups == [] and workflow.root_group == workflow.jobs


def test_job_options_and_workflow_options() -> None:
    workflow = load_fixture("c_job_options.json")
    options, low = workflow.jobs
    assert options.name == "job_with_options"
    assert options.env == {"FOO": "foo_value", "BAR": "42"}
    assert options.priority == 10 and low.priority == -5
    assert options.native_specification == "-l walltime=00:10:00 -q short"
    assert options.stdout_file == "/tmp/swf_example_wd/job.out"
    assert options.stderr_file == "/tmp/swf_example_wd/job.err"
    assert options.working_directory == "/tmp/swf_example_wd"
    assert options.command == ["sh", "-c", "echo $FOO $BAR; pwd"]
    assert low.env is None and low.stdout_file is None
    assert workflow.env == {"WF_LEVEL_VAR": "1"}
    assert workflow.native_specification == "-l nodes=1"


def test_special_paths_keep_kind_attributes_and_identity() -> None:
    workflow = load_fixture("d_special_paths.json")
    copy_job, process, report = workflow.jobs
    source, temporary = copy_job.command[1], copy_job.command[2]
    assert isinstance(source, SharedResourcePath)
    assert (source.relative_path, source.namespace, source.uuid) == (
        "subject01/t1.nii",
        "MyApp",
        "data_dir_uuid",
    )
    assert source.disposal_timeout is None
    assert isinstance(temporary, TemporaryPath)
    assert (temporary.name, temporary.suffix, temporary.is_directory) == (
        "intermediate",
        ".nii",
        False,
    )
    # one object per id: the temporary file of job 0 is the one job 1 reads
    assert process.command[1] is temporary
    assert copy_job.referenced_output_files == [temporary]
    params, brain, output = process.command[2:]
    assert isinstance(params, FileTransfer) and params.is_input
    assert params.client_path == "/home/user/data/params.json" and params.name == "params_in"
    assert isinstance(output, FileTransfer) and not output.is_input
    assert output.initial_status == "do not exist"
    assert isinstance(brain, SharedResourcePath) and brain.uuid == "output_dir_uuid"
    assert process.referenced_input_files == [temporary, params]
    assert report.command == ["cat", (output, "")]  # a file inside a transferred directory
    assert report.referenced_input_files == [output]


def test_fan_out_of_a_thousand() -> None:
    workflow = load_fixture("e_fanout_1000.json")
    assert len(workflow.jobs) == 1002
    assert workflow.dependencies is not None and len(workflow.dependencies) == 2000
    root, join = workflow.jobs[0], workflow.jobs[-1]
    assert (root.name, join.name) == ("root", "join")
    assert sum(1 for parent, _ in workflow.dependencies if parent is root) == 1000
    assert sum(1 for _, child in workflow.dependencies if child is join) == 1000


def test_ids_are_soma_s_one_id_space() -> None:
    workflow = Workflow([Job(["a", TemporaryPath(name="t")], name="a")], name="w")
    workflow.root_group = [Group(workflow.jobs, name="g")]
    workflow.groups = list(workflow.root_group)  # type: ignore[arg-type]
    doc = workflow_to_dict(workflow)
    assert doc["jobs"] == [0] and doc["groups"] == [1] and doc["root_group"] == [1]
    assert doc["serialized_jobs"]["0"]["command"] == ["a", ["<tuple>", "<id>", 2]]
    assert list(doc["serialized_temporary_paths"]) == ["2"]


# ---------------------------------------------------------------------------------------
# What soma-workflow loses and swf keeps
# ---------------------------------------------------------------------------------------


def patterned_workflow() -> tuple[Workflow, TemporaryPath, FileTransfer]:
    temporary = TemporaryPath(name="t", suffix=".nii")
    transfer = FileTransfer(True, "/home/u/in.txt", name="in")
    job = Job(
        ["cmd", "pre" + temporary, temporary + ".suf", temporary, "--in=" + transfer],
        referenced_input_files=[transfer],
        referenced_output_files=[temporary],
        name="j",
    )
    other = Job(["use", "50%" + temporary], referenced_input_files=[temporary], name="k")
    return Workflow([job, other], [(job, other)], name="patterns"), temporary, transfer


def test_pattern_copies_get_their_own_entry_naming_the_referent() -> None:
    workflow, _, _ = patterned_workflow()
    doc = workflow_to_dict(workflow)
    temporaries = doc["serialized_temporary_paths"]
    command = doc["serialized_jobs"]["0"]["command"]
    ids = [item[2] for item in command[1:]]
    assert len(set(ids[:3])) == 3  # pre%s, %s.suf and %s: three entries
    base = ids[2]
    assert temporaries[str(base)]["pattern"] == "%s" and REFERENT_KEY not in temporaries[str(base)]
    assert temporaries[str(ids[0])]["pattern"] == "pre%s"
    assert temporaries[str(ids[0])][REFERENT_KEY] == base
    assert temporaries[str(ids[1])]["pattern"] == "%s.suf"
    assert temporaries[str(ids[1])]["name"] == "t"  # every entry holds the fields
    transfers = doc["serialized_file_transfers"]
    transfer_id = command[4][2]
    assert transfers[str(transfer_id)]["pattern"] == "--in=%s"
    # the referent, used nowhere by itself, still has an entry to point at
    referent_id = transfers[str(transfer_id)][REFERENT_KEY]
    assert transfers[str(referent_id)]["pattern"] == "%s"


def test_pattern_copies_share_their_referent_after_loading() -> None:
    workflow, _, _ = patterned_workflow()
    doc = workflow_to_dict(workflow)
    loaded = workflow_from_dict(doc)
    job, other = loaded.jobs
    pre, suffixed, plain, transfer_copy = job.command[1:]
    assert isinstance(plain, TemporaryPath)
    assert [p.pattern for p in (pre, suffixed, plain)] == ["pre%s", "%s.suf", "%s"]
    assert pre.referent() is plain and suffixed.referent() is plain
    assert other.command[1].referent() is plain
    assert other.command[1].apply_pattern("x") == "50%x"
    assert job.referenced_output_files == [plain]
    assert isinstance(transfer_copy, FileTransfer)
    assert transfer_copy.referent() is job.referenced_input_files[0]  # type: ignore[index]
    assert transfer_copy.apply_pattern("/p") == "--in=/p"
    assert workflow_to_dict(loaded) == doc


def test_a_soma_entry_with_a_pattern_is_its_own_referent() -> None:
    doc = fixture("d_special_paths.json")
    doc["serialized_temporary_paths"]["4"]["pattern"] = "pre%s"  # what soma writes
    workflow = workflow_from_dict(doc)
    temporary = workflow.jobs[0].command[2]
    assert temporary.pattern == "pre%s" and temporary.referent() is temporary
    assert workflow_to_dict(workflow) == doc


def test_user_storage_and_disposal_timeout_are_kept() -> None:
    job = Job(["a"], name="a", user_storage={"k": (1, "x"), "s": {3}, "u": UNDEFINED})
    group = Group([job], name="g", user_storage=[1, 2])
    workflow = Workflow(
        [job], root_group=[group], user_storage=("w", 1), disposal_timeout=12, name="w"
    )
    doc = workflow_to_dict(workflow)
    assert doc["user_storage"] == ["<tuple>", "w", 1]
    assert doc["disposal_timeout"] == 12
    assert doc["serialized_jobs"]["0"]["user_storage"] == {
        "k": ["<tuple>", 1, "x"],
        "s": ["<set>", 3],
        "u": ["<undefined>"],
    }
    assert doc["serialized_groups"]["1"]["user_storage"] == [1, 2]
    loaded = workflow_from_dict(doc)
    assert loaded.user_storage == ("w", 1) and loaded.disposal_timeout == 12
    assert loaded.jobs[0].user_storage == {"k": (1, "x"), "s": {3}, "u": UNDEFINED}
    assert loaded.groups[0].user_storage == [1, 2]
    assert workflow_to_dict(loaded) == doc


def test_unknown_keys_are_written_back() -> None:
    doc = fixture("d_special_paths.json")
    doc["uuid"] = "wf-uuid"
    doc["serialized_jobs"]["1"]["uuid"] = "job-uuid"
    doc["serialized_jobs"]["1"]["extra"] = {"nested": [1, ["<tuple>", 2]]}
    doc["serialized_temporary_paths"]["4"]["note"] = "kept"
    doc["root_group"] = [8]
    doc["groups"] = [8]
    doc["serialized_groups"] = {"8": {"name": "g", "elements": [0, 1, 2], "color": "red"}}
    workflow = workflow_from_dict(doc)
    rewritten = workflow_to_dict(workflow)
    # ids are soma's: the group is 3 and the special paths shift by one
    assert rewritten["serialized_groups"]["3"]["color"] == "red"
    assert rewritten["uuid"] == "wf-uuid"
    assert rewritten["serialized_jobs"]["1"]["extra"] == {"nested": [1, ["<tuple>", 2]]}
    assert rewritten["serialized_jobs"]["1"]["uuid"] == "job-uuid"
    assert rewritten["serialized_temporary_paths"]["5"]["note"] == "kept"
    assert workflow_to_dict(workflow_from_dict(rewritten)) == rewritten


def test_all_job_fields_round_trip() -> None:
    transfer = FileTransfer(False, "/out", name="out", client_paths=["/out.hdr", "/out.img"])
    shared = SharedResourcePath("a/b", "NS", "uuid", 24)
    option = OptionPath(transfer, {"x": 1}, name="opt")
    job = Job(
        ["run", option, ["x", shared], (transfer, "sub"), 3, 2.5],
        referenced_output_files=[transfer],
        stdin=shared,
        join_stderrout=True,
        disposal_timeout=7,
        stdout_file=TemporaryPath(name="so"),
        stderr_file="/err",
        working_directory=shared + "/work",
        parallel_job_info={"config_name": "native", "nodes_number": 1, "cpu_per_node": 4},
        priority=3,
        native_specification=["--mem=2g", "-t 10"],
        env={"A": "1"},
        param_dict={"p": transfer, "q": [1, (2, 3)]},
        use_input_params_file=True,
        has_outputs=True,
        input_params_file=TemporaryPath(name="ip"),
        output_params_file="/o.json",
        configuration={"c": {"d": 1}},
        name="full",
    )
    doc = workflow_to_dict(Workflow([job], name="w"))
    loaded = workflow_from_dict(doc).jobs[0]
    for attribute in ("join_stderrout", "disposal_timeout", "stderr_file", "priority"):
        assert getattr(loaded, attribute) == getattr(job, attribute)
    assert loaded.native_specification == ["--mem=2g", "-t 10"]
    assert loaded.parallel_job_info == job.parallel_job_info
    assert loaded.configuration == {"c": {"d": 1}}
    assert loaded.param_dict["q"] == [1, (2, 3)]
    loaded_transfer = loaded.referenced_output_files[0]  # type: ignore[index]
    assert loaded.param_dict["p"] is loaded_transfer
    assert loaded.command[3] == (loaded_transfer, "sub")
    assert loaded.command[1].parent_path is loaded_transfer
    assert loaded.command[1].uri == "?x=1"
    assert loaded_transfer.client_paths == ["/out.hdr", "/out.img"]
    assert loaded.stdin.namespace == "NS"  # type: ignore[union-attr]
    assert loaded.working_directory.apply_pattern("r") == "r/work"  # type: ignore[union-attr]
    assert loaded.working_directory.referent() is loaded.stdin  # type: ignore[union-attr]
    assert (loaded.use_input_params_file, loaded.has_outputs) == (True, True)
    assert workflow_to_dict(workflow_from_dict(doc)) == doc


def test_option_path_parent_used_nowhere_else_is_written() -> None:
    # soma-workflow 6.0.13 numbers such a parent but forgets its entry
    transfer = FileTransfer(False, "/o.csv", name="o")
    job = Job(["w", OptionPath(transfer, "?x=2")], referenced_output_files=None, name="w")
    doc = workflow_to_dict(Workflow([job], name="w"))
    option = doc["serialized_option_paths"]["1"]
    assert option["parent_type"] == "FileTransfer"
    assert option["parent_path"] == ["<tuple>", "<id>", 2]
    assert doc["serialized_file_transfers"]["2"]["client_path"] == "/o.csv"
    loaded = workflow_from_dict(doc)
    assert loaded.jobs[0].command[1].parent_path.client_path == "/o.csv"


def test_option_path_over_an_option_path_round_trips_in_swf() -> None:
    # soma-workflow cannot build one (its OptionPath(OptionPath) is a copy): swf keeps it
    inner = OptionPath(TemporaryPath(name="t"), "?a=1", name="inner")
    outer = OptionPath("pre" + inner, "?b=2", name="outer")
    job = Job(["w", outer], referenced_input_files=[inner.parent_path], name="w")
    doc = workflow_to_dict(Workflow([job], name="w"))
    loaded = workflow_from_dict(doc).jobs[0].command[1]
    assert isinstance(loaded, OptionPath) and loaded.uri == "?b=2"
    assert loaded.parent_path.pattern == "pre%s"  # type: ignore[union-attr]
    assert loaded.parent_path.uri == "?a=1"  # type: ignore[union-attr]
    assert workflow_to_dict(workflow_from_dict(doc)) == doc


def test_custom_jobs_keep_their_class() -> None:
    mapper = custom_jobs.MapJob(param_dict={"inputs": [1, 2]})
    reducer = custom_jobs.ReduceJob(name="r")
    workflow = Workflow([mapper, reducer], [(mapper, reducer)], name="w")
    doc = workflow_to_dict(workflow)
    assert doc["serialized_jobs"]["0"]["class"] == "soma_workflow.custom_jobs.MapJob"
    assert doc["serialized_jobs"]["0"]["has_outputs"] is True
    loaded = workflow_from_dict(doc)
    assert type(loaded.jobs[0]) is custom_jobs.MapJob
    assert type(loaded.jobs[1]) is custom_jobs.ReduceJob
    assert loaded.jobs[0].param_dict == mapper.param_dict
    assert loaded.jobs[0].is_engine_execution()
    assert workflow_to_dict(loaded) == doc


def test_param_links_in_soma_s_format_without_doubling_dependencies() -> None:
    source, destination = Job(["a"], name="a"), Job(["b"], name="b")
    links = {destination: {"x": [(source, "p"), (source, "q", ("module.func", 1))]}}
    workflow = Workflow([source, destination], [(source, destination)], param_links=links)
    doc = workflow_to_dict(workflow)
    assert doc["param_links"] == {
        "1": {"x": [["<tuple>", 0, "p"], ["<tuple>", 0, "q", ["<tuple>", "module.func", 1]]]}
    }
    assert doc["dependencies"] == [["<tuple>", 0, 1]]
    loaded = workflow_from_dict(doc)
    loaded_source, loaded_destination = loaded.jobs
    assert loaded.dependencies == [(loaded_source, loaded_destination)]
    assert loaded.param_links == {
        loaded_destination: {"x": [(loaded_source, "p"), (loaded_source, "q", ("module.func", 1))]}
    }
    assert workflow_to_dict(loaded) == doc


def test_group_dependencies_are_written_as_their_barrier_hubs() -> None:
    first, second, after = Job(["a"], name="a"), Job(["b"], name="b"), Job(["c"], name="c")
    group = Group([first, second], name="g")
    workflow = Workflow([first, second, after], [(group, after)], root_group=[group, after])
    doc = workflow_to_dict(workflow)
    names = [doc["serialized_jobs"][str(i)]["name"] for i in doc["jobs"]]
    assert names == ["a", "b", "c", "g_input", "g_output"]
    assert doc["serialized_jobs"]["4"]["class"] == BARRIER_CLASS
    loaded = workflow_from_dict(doc)
    assert len(loaded.dependencies or []) == len(workflow.dependencies or [])
    assert workflow_to_dict(loaded) == doc


def test_a_job_without_name_is_named_after_its_command_as_in_soma() -> None:
    doc = fixture("a_chain_group.json")
    del doc["serialized_jobs"]["0"]["name"]
    assert workflow_from_dict(doc).jobs[0].name == "echo"


def test_old_serialized_barriers_load_as_barrier_jobs() -> None:
    doc = fixture("b_barrier.json")
    doc["serialized_barriers"] = {"2": doc["serialized_jobs"].pop("2")}
    del doc["serialized_barriers"]["2"]["class"]
    workflow = workflow_from_dict(doc)
    assert type(workflow.jobs[2]) is BarrierJob and workflow.jobs[2].name == "barrier"
    assert workflow_to_dict(workflow) == fixture("b_barrier.json")


def test_job_class_registry() -> None:
    class MyJob(Job):
        pass

    assert job_class_for(JOB_CLASS) is Job
    assert job_class_for("BarrierJob") is BarrierJob  # soma's bare client_types names
    assert job_class_for("soma_workflow.custom_jobs.StrCatJob") is custom_jobs.StrCatJob
    assert job_class_for("my.module.MyJob") is None
    assert soma_class_name(MyJob) == JOB_CLASS  # nearest registered ancestor
    register_job_class("my.module.MyJob", MyJob)
    assert job_class_for("my.module.MyJob") is MyJob
    assert soma_class_name(MyJob) == "my.module.MyJob"


def test_fast_paths_for_common_jobs_do_what_the_field_by_field_paths_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workflows = [load_fixture(name) for name in FIXTURE_NAMES]
    for seed in range(30):
        shape = WorkflowShape(
            30, 2, 2, True, True, seed % 2 == 0, False, seed % 3 == 0, True, True, True, seed
        )
        workflows.append(build_workflow(shape))
    odd = Job(["a"], name="odd", configuration=None, param_dict=None)  # type: ignore[arg-type]
    odd.priority, odd.native_specification = 2**70, "-q"
    workflows.append(Workflow([odd, Job(["b"], name=None, stdin="")], name="odd"))
    variations: list[tuple[str, Any]] = [
        ("join_stderrout", True),
        ("disposal_timeout", 3),
        ("priority", -2),
        ("native_specification", "-q x"),
        ("native_specification", ["-a", "-b"]),
        ("use_input_params_file", True),
        ("has_outputs", True),
        ("env", {}),
        ("configuration", {"c": 1}),
        ("parallel_job_info", {"config_name": "native"}),
        ("user_storage", 0),
        ("referenced_input_files", []),
        ("stdout_file", "/out"),
        ("param_dict", {"p": 1}),
        ("name", None),
    ]
    single = [Job(["echo", "x"], **{"name": "v", field: value}) for field, value in variations]
    workflows.append(Workflow([*single, Job(["echo", 1, 2.5], name="numbers")], name="single"))
    fast = [workflow_to_dict(workflow) for workflow in workflows]
    read_fast = [workflow_structure(workflow_from_dict(doc)) for doc in fast]
    assert sum(_plain_jobs.plain_job(job) is not None for w in workflows for job in w.jobs)
    assert sum(
        _plain_jobs.read_plain_job(job) is not None
        for doc in fast
        for job in doc["serialized_jobs"].values()
    )
    monkeypatch.setattr(_writer, "plain_job", lambda job: None)
    monkeypatch.setattr(_reader, "read_plain_job", lambda raw: None)
    assert [workflow_to_dict(workflow) for workflow in workflows] == fast
    assert [workflow_structure(workflow_from_dict(doc)) for doc in fast] == read_fast


def test_dumps_indents_like_soma_when_asked() -> None:
    workflow = load_fixture("a_chain_group.json")
    assert "\n" not in dumps(workflow)
    assert dumps(workflow, indent=4).startswith('{\n    "name": "a_chain_group"')


# ---------------------------------------------------------------------------------------
# Malformed documents: one SerializationError naming the culprit
# ---------------------------------------------------------------------------------------


def broken(name: str, edit: Any) -> dict[str, Any]:
    doc = fixture(name)
    edit(doc)
    return doc


def set_in(path: list[Any], value: Any) -> Any:
    def edit(doc: Any) -> None:
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value

    return edit


def delete_in(path: list[Any]) -> Any:
    def edit(doc: Any) -> None:
        for key in path[:-1]:
            doc = doc[key]
        del doc[path[-1]]

    return edit


A_JOB = ["serialized_jobs", "1"]
D_JOB = ["serialized_jobs", "1"]


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        (
            "a_chain_group.json",
            set_in([*A_JOB, "priority"], "high"),
            "e.json: job 1 ('step2'): field 'priority' must be an int, got 'high'",
        ),
        (
            "a_chain_group.json",
            set_in(["dependencies", 1], ["<tuple>", 1, 17]),
            "e.json: dependency #2 (job 1 ('step2') -> unknown job id 17) refers to unknown "
            "job id 17",
        ),
        (
            "a_chain_group.json",
            set_in(["dependencies", 0], ["<tuple>", 0]),
            "e.json: dependency #1 must be a pair of job ids, got ['<tuple>', 0]",
        ),
        (
            "a_chain_group.json",
            set_in([*A_JOB, "command"], "echo step2"),
            "e.json: job 1 ('step2'): field 'command' must be a list, got 'echo step2'",
        ),
        (
            "a_chain_group.json",
            delete_in([*A_JOB, "command"]),
            "e.json: job 1 ('step2'): field 'command' is missing",
        ),
        (
            "a_chain_group.json",
            set_in([*A_JOB, "command", 1], None),
            "e.json: job 1 ('step2'): field 'command[1]' must be a string, a number, a special "
            "path, a tuple or a list, got null",
        ),
        (
            "a_chain_group.json",
            set_in([*A_JOB, "join_stderrout"], 0),
            "e.json: job 1 ('step2'): field 'join_stderrout' must be true or false, got 0",
        ),
        (
            "a_chain_group.json",
            set_in([*A_JOB, "env"], {"A": 1}),
            "e.json: job 1 ('step2'): field 'env' must map strings to strings, got 'A': 1",
        ),
        (
            "a_chain_group.json",
            set_in([*A_JOB, "class"], "my.module.Job"),
            "e.json: job 1 ('step2'): unknown job class 'my.module.Job'",
        ),
        (
            "a_chain_group.json",
            set_in(A_JOB, ["echo"]),
            "e.json: job 1 must be an object, got ['echo']",
        ),
        (
            "a_chain_group.json",
            set_in(["serialized_groups", "3", "elements", 2], 9),
            "e.json: group 3 ('chain_group'): elements[2] refers to unknown job or group id 9",
        ),
        (
            "a_chain_group.json",
            set_in(["serialized_groups", "3", "elements", 2], 3),
            "e.json: groups contain each other: group 3 ('chain_group') -> group 3",
        ),
        (
            "a_chain_group.json",
            set_in(["root_group"], [3, "x"]),
            "e.json: root_group[1] refers to unknown job or group id 'x'",
        ),
        (
            "a_chain_group.json",
            set_in(["jobs"], [0, 1, 2, 5]),
            "e.json: jobs[3] refers to unknown job id 5",
        ),
        (
            "a_chain_group.json",
            set_in(["jobs"], [0, 1]),
            "e.json: job 2 ('step3') is serialized but not listed in 'jobs'",
        ),
        (
            "a_chain_group.json",
            set_in(["serialized_groups", "1"], {"name": "g", "elements": []}),
            "e.json: id 1 names both job 1 ('step2') and group 1 ('g')",
        ),
        (
            "a_chain_group.json",
            set_in(["serialized_jobs", "x1"], {"command": []}),
            "e.json: 'serialized_jobs' has a key 'x1' that is not an id",
        ),
        (
            "a_chain_group.json",
            set_in(["param_links"], {"1": {"x": [["<tuple>", 9, "p"]]}}),
            "e.json: param link 'x' of job 1 ('step2') #1 refers to unknown job id 9",
        ),
        (
            "a_chain_group.json",
            set_in(["param_links"], {"1": {"x": [["<tuple>", 0, "p", 3]]}}),
            "e.json: param link 'x' of job 1 ('step2') #1: field 'link' must be",
        ),
        (
            "a_chain_group.json",
            set_in(["param_links"], {"7": {}}),
            "e.json: param_links refers to unknown job id 7",
        ),
        (
            "a_chain_group.json",
            set_in(["env"], "A=1"),
            "e.json: workflow: field 'env' must be an object of strings or null, got 'A=1'",
        ),
        (
            "a_chain_group.json",
            set_in(["serialized_jobs"], [1, 2]),
            "e.json: 'serialized_jobs' must be an object of id -> entry, got [1, 2]",
        ),
        (
            "d_special_paths.json",
            set_in([*D_JOB, "command", 2], ["<tuple>", "<id>", 99]),
            "e.json: job 1 ('process'): field 'command[2]' refers to unknown special path id 99",
        ),
        (
            "d_special_paths.json",
            set_in(["serialized_jobs", "2", "command", 1, 1, 2], 42),
            "e.json: job 2 ('show_report'): field 'command[1][1]' refers to unknown special "
            "path id 42",
        ),
        (
            "d_special_paths.json",
            set_in(["serialized_temporary_paths", "4", "pattern"], "pre%d"),
            "e.json: temporary path 4 ('intermediate'): field 'pattern' must be a string with "
            "one %s",
        ),
        (
            "d_special_paths.json",
            set_in(["serialized_temporary_paths", "4", REFERENT_KEY], 5),
            f"e.json: temporary path 4 ('intermediate'): field '{REFERENT_KEY}' refers to "
            "unknown temporary path id 5",
        ),
        (
            "d_special_paths.json",
            set_in(["serialized_temporary_paths", "5"], {"name": "dup"}),
            "e.json: id 5 names both file transfer 5 ('params_in') and temporary path 5 ('dup')",
        ),
        (
            "d_special_paths.json",
            delete_in(["serialized_shared_res_paths", "3", "relative_path"]),
            "e.json: shared resource path 3: field 'relative_path' is missing",
        ),
        (
            "d_special_paths.json",
            set_in(["serialized_file_transfers", "5", "client_paths"], "/a"),
            "e.json: file transfer 5 ('params_in'): field 'client_paths' must be a list of "
            "strings or null, got '/a'",
        ),
        (
            "d_special_paths.json",
            set_in(
                ["serialized_option_paths"],
                {
                    "8": {"parent_type": "OptionPath", "parent_path": ["<tuple>", "<id>", 9]},
                    "9": {"parent_type": "OptionPath", "parent_path": ["<tuple>", "<id>", 8]},
                },
            ),
            "e.json: special paths refer to each other in a loop: option path 9 -> option path 8 "
            "-> option path 9",
        ),
        (
            "d_special_paths.json",
            set_in([*D_JOB, "stdin"], 3),
            "e.json: job 1 ('process'): field 'stdin' must be a string, a special path or null",
        ),
    ],
)
def test_malformed_document_names_the_culprit(name: str, edit: Any, message: str) -> None:
    assert load_error(broken(name, edit)).startswith(message)


def test_a_document_must_be_an_object() -> None:
    assert load_error([1, 2]) == "e.json: a workflow document must be a JSON object, got [1, 2]"


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    doc = fixture("a_chain_group.json")
    doc["serialized_jobs"]["0"]["user_storage"] = deep
    assert "field 'user_storage" in load_error(doc)
    assert "nested more than 200 levels" in load_error(doc)
    doc["serialized_jobs"]["0"]["user_storage"] = None
    doc["serialized_jobs"]["0"]["command"] = ["a", deep]
    assert "nested more than 200 levels" in load_error(doc)
    with pytest.raises(SerializationError, match="nested too deeply"):
        loads("[" * 100_000, "deep.json")


def test_invalid_json_text_names_line_and_column() -> None:
    text = (FIXTURES / "a_chain_group.json").read_text()
    with pytest.raises(SerializationError) as caught:
        loads(text[:200], "a.json")
    assert str(caught.value).startswith("a.json: invalid JSON at line ")
    assert ", column " in str(caught.value)
    with pytest.raises(SerializationError, match=r"^x.json: invalid JSON at line 2, column 1"):
        loads('{"name": "w",\n}', "x.json")


# ---------------------------------------------------------------------------------------
# Workflows that cannot be written
# ---------------------------------------------------------------------------------------


def write_error(workflow: Workflow) -> str:
    with pytest.raises(SerializationError) as caught:
        workflow_to_dict(workflow)
    return str(caught.value)


def test_unwritable_workflows_name_the_culprit() -> None:
    job, stranger = Job(["a"], name="a"), Job(["b"], name="b")
    workflow = Workflow([job], name="w")
    workflow.dependencies = [(job, stranger)]
    assert write_error(workflow) == (
        "workflow 'w': dependency #0: <Job 'b'> is not in the workflow's jobs"
    )
    workflow.dependencies = [(job, Group([job], name="g"))]
    assert "dependency #0 joins group 'g'" in write_error(workflow)
    workflow = Workflow([job, job], name="w")
    assert write_error(workflow) == "workflow 'w': job 'a' is listed twice in jobs (jobs[1])"
    job.user_storage = object()
    message = write_error(Workflow([job], name="w"))
    assert message.startswith("workflow 'w': job 'a' (jobs[0]): field 'user_storage' holds <")
    job.user_storage = None
    job.command = ["a", ["<tuple>", "b"]]
    assert "field 'command[1]' holds a list starting with '<tuple>'" in write_error(
        Workflow([job], name="w")
    )
    job.command = ["a"]
    job.priority = "high"  # type: ignore[assignment]
    assert write_error(Workflow([job], name="w")) == (
        "workflow 'w': job 'a' (jobs[0]): field 'priority' must be an int, got 'high'"
    )


def test_unwritable_structure_names_the_element() -> None:
    job, stranger = Job(["a"], name="a"), Job(["b"], name="b")
    workflow = Workflow([job], name="w")
    workflow.root_group = [job, stranger]
    assert write_error(workflow) == (
        "workflow 'w': root_group[1]: job 'b' is not in the workflow's jobs"
    )
    workflow.root_group = [job, ["not", "hashable"]]  # type: ignore[list-item]
    assert write_error(workflow) == "workflow 'w': root_group[1] is a list, not a Job or a Group"
    workflow.root_group = [Group([job, stranger], name="g")]
    assert write_error(workflow) == (
        "workflow 'w': group 'g' elements[1]: job 'b' is not in the workflow's jobs"
    )
    workflow = Workflow([job, "b"], name="w")  # type: ignore[list-item]
    assert write_error(workflow) == "workflow 'w': jobs[1] is a str, not a Job"
    workflow = Workflow([job], name="w")
    workflow.dependencies = [(job, job, job)]  # type: ignore[list-item]
    assert write_error(workflow) == "workflow 'w': dependency #0 must be a (parent, child) pair"


def test_a_loaded_workflow_can_be_copied_and_still_written() -> None:
    doc = fixture("d_special_paths.json")
    doc["serialized_jobs"]["0"]["extra"] = 1
    workflow = workflow_from_dict(doc)
    assert workflow_to_dict(copy.deepcopy(workflow)) == doc


@pytest.mark.parametrize("plain", [True, False], ids=["plain path", "general path"])
def test_read_jobs_own_their_strings_and_share_equal_command_words(plain: bool) -> None:
    """A kept string inside the decoded document pinned all its memory (``_strings``)."""
    extra = {} if plain else {"stdout_file": "/out"}
    jobs = [Job(["prog", "-x"], name="a", **extra), Job(["prog", "-y"], name="b", **extra)]
    decoded = json.loads(json.dumps(workflow_to_dict(Workflow(jobs))))
    first, second = workflow_from_dict(decoded).jobs
    raw = {entry["name"]: entry for entry in decoded["serialized_jobs"].values()}
    assert (first.name, first.command, second.command) == ("a", ["prog", "-x"], ["prog", "-y"])
    assert first.name is not raw["a"]["name"]
    assert first.command[0] is not raw["a"]["command"][0]
    assert first.command[0] is second.command[0]
