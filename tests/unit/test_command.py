"""Command rendering, path rendering and parameter files.

The rendering cases are checked twice: against expectations written here, and against
soma-workflow itself (the test-only oracle, a test extra) fed the same command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from soma_workflow.engine_types import EngineJob  # type: ignore[import-untyped]

import soma_workflow.client as soma_client  # type: ignore[import-untyped]
import swf_domain.model as swf_model
from swf_domain.command import (
    INPUT_PARAMS_ENV,
    OUTPUT_PARAMS_ENV,
    MappingResolver,
    command_params,
    decode_output_params,
    directory_path,
    from_params_json,
    input_params_document,
    main_path,
    params_file_env,
    render_command,
    render_container_command,
    render_path,
    to_params_json,
)
from swf_domain.errors import JobError
from swf_domain.model import (
    FileTransfer,
    Job,
    OptionPath,
    SharedResourcePath,
    SpecialPath,
    TemporaryPath,
)
from swf_domain.translation import TranslationTable, UntranslatablePathError

TRANSLATIONS = {"ns": {"u1": "/shared/root"}}

# ---------------------------------------------------------------------------------------
# Cases built with either model (ours or soma-workflow's), rendered by both
# ---------------------------------------------------------------------------------------

Case = Callable[[ModuleType], tuple[list[Any], dict[str, Any] | None, list[Any]]]


def transfer(kit: ModuleType, name: str, **kwargs: Any) -> Any:
    return kit.FileTransfer(True, "/client/" + name, name=name, **kwargs)


def _ft_case(kit: ModuleType) -> tuple[list[Any], None, list[Any]]:
    f = transfer(kit, "in")
    return (["cp", f, "--o=" + f, (f, "sub.txt"), ["<join>", "-i", f], [f, "x"]], None, [f])


def _multi_case(kit: ModuleType) -> tuple[list[Any], None, list[Any]]:
    f = transfer(kit, "multi", client_paths=["/client/multi/a.nii", "/client/multi/a.hdr"])
    return (["cp", f, (f, "other.txt")], None, [f])


def _tmp_case(kit: ModuleType) -> tuple[list[Any], None, list[Any]]:
    t = kit.TemporaryPath(name="tmp1")
    return (["cp", t, t + ".bak"], None, [t])


def _option_case(kit: ModuleType) -> tuple[list[Any], None, list[Any]]:
    f = transfer(kit, "o")
    return (["view", kit.OptionPath(f, "?a=1"), kit.OptionPath("/a/b", {"x": 1})], None, [f])


def _path_params_case(kit: ModuleType) -> tuple[list[Any], dict[str, Any], list[Any]]:
    f = transfer(kit, "pp")
    return (["cp", "%(p)s", "%(l)s", "%(t)s"], {"p": f, "l": [f, "x"], "t": (f, "n.txt")}, [f])


CASES: dict[str, tuple[Case, list[str]]] = {
    "plain": (lambda k: (["echo", "a b", "c"], None, []), ["echo", "a b", "c"]),
    "numbers": (lambda k: (["echo", 1, 2.5], None, []), ["echo", "1", "2.5"]),
    "nested list": (
        lambda k: (["echo", ["a", ["b", 1]], []], None, []),
        ["echo", "['a', ['b', 1]]", "[]"],
    ),
    "tuple": (lambda k: (["echo", ("x", "y")], None, []), ["echo", "('x', 'y')"]),
    "quotes": (lambda k: (["echo", ["it's", 'a"b']], None, []), ["echo", "[\"it's\", 'a\"b']"]),
    "join": (lambda k: (["echo", ["<join>", "a", "b"]], None, []), ["echo", "ab"]),
    "placeholders": (
        lambda k: (
            ["echo", "%(x)s", "--y=%(y)d", "-f%(f)f", "%(missing)s"],
            {
                "x": 3,
                "y": 4,
                "f": 3.5,
            },
            [],
        ),
        ["echo", "3", "--y=4", "-f3.5", "%(missing)s"],
    ),
    "list value, whole item": (
        lambda k: (["echo", "%(z)s"], {"z": ["a", ["b"]]}, []),
        ["echo", "['a', \"['b']\"]"],
    ),
    "list value, part of item": (
        lambda k: (["echo", "-l=%(z)s"], {"z": ["a", "b"]}, []),
        ["echo", "-l=['a', 'b']"],
    ),
    "join value": (lambda k: (["echo", "%(x)s"], {"x": ["<join>", "a", "b"]}, []), ["echo", "ab"]),
    "none value": (
        lambda k: (["echo", "%(x)s", "a%(x)s"], {"x": None, "o": 1}, []),
        ["echo", "%(x)s", "a%(x)s"],
    ),
    "falsy values": (
        lambda k: (["echo", "%(a)s", "%(b)s", "[%(c)s]"], {"a": 0, "b": "", "c": False}, []),
        ["echo", "0", "", "[False]"],
    ),
    "placeholder in nested": (
        lambda k: (["echo", ["%(x)s", "b"], ["<join>", "%(x)s", "-"]], {"x": "v"}, []),
        ["echo", "['v', 'b']", "v-"],
    ),
    "no param dict": (lambda k: (["echo", "%(x)s"], None, []), ["echo", "%(x)s"]),
    "percent signs": (
        lambda k: (["printf", "100%", "%d %s", "%(", "%()s"], {"a": 1}, []),
        ["printf", "100%", "%d %s", "%(", "%()s"],
    ),
    "file transfer": (
        _ft_case,
        ["cp", "/eng/in", "--o=/eng/in", "/eng/in/sub.txt", "-i/eng/in", "['/eng/in', 'x']"],
    ),
    "multi-file transfer": (_multi_case, ["cp", "/eng/multi/multi", "/eng/multi/other.txt"]),
    "temporary path": (_tmp_case, ["cp", "/eng/tmp1", "/eng/tmp1.bak"]),
    "shared resource path": (
        lambda k: (
            [
                "cat",
                k.SharedResourcePath("d/x.txt", "ns", "u1"),
                "p=" + k.SharedResourcePath("y", "ns", "u1"),
            ],
            None,
            [],
        ),
        ["cat", "/shared/root/d/x.txt", "p=/shared/root/y"],
    ),
    "option path": (_option_case, ["view", "/eng/o?a=1", "/a/b?x=1"]),
    "path values": (_path_params_case, ["cp", "/eng/pp", "['/eng/pp', 'x']", "/eng/pp/n.txt"]),
}


def render_with_swf(case: Case) -> list[str]:
    command, params, refs = case(swf_model)
    resolver = MappingResolver(
        {ref.referent(): "/eng/" + ref.name for ref in refs},
        TranslationTable.from_namespaces(TRANSLATIONS),
    )
    job = Job(command, param_dict=params, referenced_input_files=refs, name="j")
    return render_command(job, resolver)


def render_with_soma(case: Case) -> list[str]:
    command, params, refs = case(soma_client)
    client_job = soma_client.Job(
        command=command, param_dict=params, referenced_input_files=refs, name="j"
    )
    engine_job = EngineJob(client_job, queue=None, path_translation=TRANSLATIONS)
    for client_path, engine_path in engine_job.transfer_mapping.items():
        engine_path.engine_path = "/eng/" + client_path.name
    # soma's local scheduler runs str() of each item
    return [str(item) for item in engine_job.plain_command()]


@pytest.mark.parametrize("name", list(CASES))
def test_render_command(name: str) -> None:
    case, expected = CASES[name]
    assert render_with_swf(case) == expected


@pytest.mark.parametrize("name", list(CASES))
def test_render_command_like_soma_workflow(name: str) -> None:
    case, _ = CASES[name]
    assert render_with_swf(case) == render_with_soma(case)


def test_join_with_numbers() -> None:
    # soma-workflow raises TypeError here; swf writes the numbers
    job = Job(["echo", ["<join>", "-n", 3, 2.5]])
    assert render_command(job, MappingResolver()) == ["echo", "-n32.5"]


def test_two_placeholders_in_one_item_are_both_replaced() -> None:
    # soma-workflow's greedy pattern replaces neither; swf replaces both
    job = Job(["cp", "%(a)s_%(b)s"], param_dict={"a": "x", "b": 2})
    assert render_command(job, MappingResolver()) == ["cp", "x_2"]


def test_path_value_inside_a_string_renders_as_its_location() -> None:
    temp = TemporaryPath(name="t")
    job = Job(["cp", "--out=%(p)s"], param_dict={"p": temp}, referenced_output_files=[temp])
    assert render_command(job, MappingResolver({temp: "/tmp/t1"})) == ["cp", "--out=/tmp/t1"]


def test_plain_command_is_returned_as_a_copy() -> None:
    job = Job(["echo", "a"])
    argv = render_command(job, MappingResolver())
    assert argv == ["echo", "a"]
    argv.append("b")
    assert job.command == ["echo", "a"]


def test_params_argument_overrides_param_dict() -> None:
    job = Job(["echo", "%(x)s"], param_dict={"x": "old"})
    assert render_command(job, MappingResolver(), {"x": "new"}) == ["echo", "new"]


def test_configuration_dict_parameter() -> None:
    job = Job(["prog", "%(configuration_dict)s"], configuration={"a": 1})
    assert command_params(job)["configuration_dict"] == '{"a": 1}'
    assert render_command(job, MappingResolver()) == ["prog", '{"a": 1}']
    job.use_input_params_file = True  # the configuration goes to the params file instead
    assert "configuration_dict" not in command_params(job)


def test_unknown_path_is_a_job_error_naming_it() -> None:
    temp = TemporaryPath(name="scratch")
    job = Job(["cp", temp], referenced_output_files=[temp], name="c")
    with pytest.raises(JobError, match="TemporaryPath 'scratch'"):
        render_command(job, MappingResolver())


def test_untranslatable_shared_path() -> None:
    job = Job(["cat", SharedResourcePath("x", "ns", "nope")])
    with pytest.raises(UntranslatablePathError, match=r"uuid 'nope'.*namespace 'ns'"):
        render_command(
            job, MappingResolver(translations=TranslationTable.from_namespaces(TRANSLATIONS))
        )


def test_resolver_gets_referents_and_patterns_are_applied_here() -> None:
    seen: list[SpecialPath] = []

    class Recorder:
        def resolve(self, path: SpecialPath) -> str:
            seen.append(path)
            return "/r"

    temp = TemporaryPath()
    copy = "a" + temp + "b"
    assert main_path(copy, Recorder()) == "a/rb"
    assert seen == [temp]


def test_option_path_keeps_parent_pattern() -> None:
    temp = TemporaryPath()
    option = OptionPath("pre-" + temp, "?x=1")
    assert main_path(option, MappingResolver({temp: "/t"})) == "pre-/t?x=1"
    assert main_path(OptionPath(None, "?x"), MappingResolver()) == "?x"


def test_directory_path_of_multi_file_transfer() -> None:
    transfer_ = FileTransfer(True, "/c/img", client_paths=["/c/img/a.nii", "/c/img/a.hdr"])
    resolver = MappingResolver({transfer_: "/e/img"})
    assert directory_path(transfer_, resolver) == "/e/img"
    assert main_path(transfer_, resolver) == "/e/img/img"


def test_render_path() -> None:
    temp = TemporaryPath()
    resolver = MappingResolver({temp: "/t/out"})
    assert render_path(None, resolver) is None
    assert render_path("/a/b", resolver) == "/a/b"
    assert render_path(temp + ".log", resolver) == "/t/out.log"


def test_container_command_prefix() -> None:
    assert render_container_command(["docker", "run", "img"], ["ls", "-l"]) == [
        "docker",
        "run",
        "img",
        "ls",
        "-l",
    ]


def test_container_command_slot() -> None:
    argv = ["echo", 'say "hi"']
    assert render_container_command(["sh", "-c", "cd /x && {#command}"], argv) == [
        "sh",
        "-c",
        'cd /x && "echo" "say \\"hi\\""',
    ]


# ---------------------------------------------------------------------------------------
# Parameter files
# ---------------------------------------------------------------------------------------


def test_params_file_env() -> None:
    temp = TemporaryPath()
    job = Job(
        ["prog"],
        use_input_params_file=True,
        input_params_file="/w/in.json",
        has_outputs=True,
        output_params_file=temp,
    )
    assert params_file_env(job, MappingResolver({temp: "/t/out.json"})) == {
        INPUT_PARAMS_ENV: "/w/in.json",
        OUTPUT_PARAMS_ENV: "/t/out.json",
    }
    assert params_file_env(Job(["prog"], input_params_file="/x"), MappingResolver()) == {}


def test_input_params_document() -> None:
    transfer_ = FileTransfer(True, "/c/d", name="d")
    job = Job(
        ["prog"],
        param_dict={
            "path": transfer_,
            "file": (transfer_, "f.txt"),
            "list": [transfer_, 1, ("a", "b")],
            "joined": ["<join>", "x", transfer_],
            "nothing": None,
            "nested": {"k": transfer_},
        },
        configuration={"c": [1, 2]},
        use_input_params_file=True,
    )
    document = input_params_document(job, MappingResolver({transfer_: "/e/d"}))
    assert document == {
        "parameters": {
            "path": "/e/d",
            "file": "/e/d/f.txt",
            "list": ["/e/d", 1, ["<tuple>", "a", "b"]],
            "joined": "x/e/d",
            "nothing": None,
            "nested": {"k": "/e/d"},
        },
        "configuration_dict": {"c": [1, 2]},
    }
    json.dumps(document)  # JSON-ready
    assert "configuration_dict" not in input_params_document(Job(["p"]), MappingResolver())


def test_params_json_round_trip() -> None:
    value = {"t": (1, (2, 3)), "s": {4}, "l": [1, [2]], "n": None, "e": []}
    encoded = to_params_json(value)
    assert encoded["t"] == ["<tuple>", 1, ["<tuple>", 2, 3]]
    assert encoded["s"] == ["<set>", 4]
    assert from_params_json(json.loads(json.dumps(encoded))) == value


def test_params_json_matches_soma_markers() -> None:
    from soma_workflow import utils as soma_utils

    value = {"t": (1, (2, 3)), "s": {4}, "l": [1, [2]], "n": None}
    assert to_params_json(value) == soma_utils.to_json(value)
    assert from_params_json(["<undefined>"]) is None


def test_decode_output_params() -> None:
    job = Job(["prog"], name="producer")
    assert decode_output_params({"a": ["<tuple>", 1]}, job) == {"a": (1,)}
    with pytest.raises(JobError, match="job 'producer': output params file must hold a JSON"):
        decode_output_params([1, 2], job)


def test_shared_resource_path_in_mapping_resolver_uses_translations() -> None:
    path = SharedResourcePath("a/b", "ns", "u1")
    resolver = MappingResolver(translations=TranslationTable.from_namespaces(TRANSLATIONS))
    assert main_path(path + ".gz", resolver) == "/shared/root/a/b.gz"


def test_input_params_document_like_soma(tmp_path: Any) -> None:
    def params(transfer_: Any) -> dict[str, Any]:
        return {
            "path": transfer_,
            "file": (transfer_, "f.txt"),
            "list": [transfer_, 1, ("a", "b")],
            "joined": ["<join>", "x", transfer_],
            "number": 2.5,
            "nothing": None,
        }

    params_file = str(tmp_path / "in.json")
    soma_transfer = soma_client.FileTransfer(True, "/c/d", name="d")
    client_job = soma_client.Job(
        command=["prog"],
        param_dict=params(soma_transfer),
        referenced_input_files=[soma_transfer],
        use_input_params_file=True,
        input_params_file=params_file,
        configuration={"c": [1, (2, 3)]},
    )
    engine_job = EngineJob(client_job, queue=None)
    engine_job.transfer_mapping[soma_transfer].engine_path = "/e/d"
    engine_job.write_input_params_file()
    with open(params_file, encoding="utf-8") as stream:
        expected = json.load(stream)

    transfer_ = FileTransfer(True, "/c/d", name="d")
    job = Job(
        ["prog"],
        param_dict=params(transfer_),
        referenced_input_files=[transfer_],
        use_input_params_file=True,
        input_params_file=params_file,
        configuration={"c": [1, (2, 3)]},
    )
    ours = input_params_document(job, MappingResolver({transfer_: "/e/d"}))
    assert json.loads(json.dumps(ours)) == expected
