"""The link table: every transport serves every operation, generically and typed."""

from __future__ import annotations

import itertools
import json
import typing
from typing import Any

import pytest

from swf_adapters.transport.pyro import wire_models
from swf_adapters.transport.pyro.protocol import MANAGEMENT, SERVED
from swf_app.link import OPERATIONS, Kind
from swf_app.read_models import (
    JobChangeBatch,
    JobFiles,
    JobPage,
    JobProgress,
    JobTermination,
    OutputChunk,
    TransferInfo,
    WorkflowInfo,
    WorkflowProgress,
    WorkflowSummary,
)
from swf_app.service import EngineService
from swf_domain.errors import SerializationError
from swf_entry.split_link import KEEP_ALIVE_INTERVAL, SplitLink

JOB = JobProgress(4, "failed", "finished_regularly", 1, None, "cpu=1", 1.5, 2.5, 3.5, "77", "q")


def test_the_table_lists_every_marked_link_method_with_its_kind() -> None:
    assert OPERATIONS["stop_jobs"].kind is Kind.COMMAND
    assert OPERATIONS["workflow_elements_status"].kind is Kind.QUERY
    assert OPERATIONS["wait_changes"].kind is Kind.WAIT
    assert "close" not in OPERATIONS
    assert set(MANAGEMENT) == {"ping", "stats", "shutdown_engine"}
    assert not set(MANAGEMENT) & set(OPERATIONS)


def test_the_in_process_service_implements_every_operation() -> None:
    for name, operation in OPERATIONS.items():
        served_by_queries = operation.kind is Kind.QUERY
        assert served_by_queries or callable(getattr(EngineService, name, None)), name


def test_binding_fills_defaults_and_keywords() -> None:
    wait = OPERATIONS["wait_workflow"]
    assert wait.bind((3,), {}) == (3, -1)
    assert wait.bind((), {"workflow_id": 3, "timeout": 0.5}) == (3, 0.5)
    with pytest.raises(TypeError):
        wait.bind((), {})


class _Recorder:
    """Stands for both sides of a split link: records where each call went."""

    def __init__(self, side: str, calls: list[tuple[str, str]]) -> None:
        self._side, self._calls = side, calls

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self._calls.append((self._side, name))

    def close(self) -> None:
        self._calls.append((self._side, "close"))


def test_the_split_link_answers_queries_here_and_sends_the_rest() -> None:
    calls: list[tuple[str, str]] = []
    local: Any = _Recorder("local", calls)
    split = SplitLink(lambda: (local, lambda: None), _Recorder("engine", calls))  # type: ignore[arg-type]
    for name in OPERATIONS:
        getattr(split, name)(*([1] if name == "delete_workflow" else []))
    expected = [
        ("local" if op.kind is Kind.QUERY else "engine", name) for name, op in OPERATIONS.items()
    ]
    assert [call for call in calls if call[1] != "forget"] == expected
    with pytest.raises(AttributeError):
        split.not_an_operation  # noqa: B018


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("workflow_elements_status", WorkflowProgress(9, "workflow_in_progress", None, [JOB])),
        ("job_changes", JobChangeBatch(9, 41, "workflow_done", [JOB, JOB._replace(job_id=5)])),
        ("wait_changes", JobChangeBatch(9, 41, "workflow_done", [])),
        ("workflows", {9: WorkflowInfo("w", 12.5), 10: WorkflowInfo(None, None)}),
        (
            "workflow_list",
            {9: WorkflowSummary("w", "workflow_done", None, 1.5, 2.0, 3.0, 4.0, 2, {"done": 2})},
        ),
        ("job_page", JobPage(9, 120, [JOB], ["<b>name</b>"])),
        ("job_termination_status", JobTermination(None, None, None, None)),
        ("job_files", JobFiles("/o", None)),
        ("read_job_output", OutputChunk(b"\x00\xffbytes", 3, 10, 12, False)),
        ("workflow_document", {"jobs": [{"command": ["a", ("t", 1)]}], "job_ids": [1]}),
        ("status_summary", {"done": 2}),
        ("stats", {"pid": 1, "engine": {"calls": 3}}),
        ("ping", 123),
        (
            "register_transfer",
            TransferInfo(7, "/r/0/7/a", "/c/a", None, True, "on client side", 1.5),
        ),
        (
            "workflow_transfers",
            [
                TransferInfo(
                    2**20, "/r/1/0/a", "/c/a.img", ["/c/a.img", "/c/a.hdr"], False, "x", None
                )
            ],
        ),
    ],
)
def test_results_cross_the_wire_as_the_same_typed_values(name: str, value: Any) -> None:
    operation = SERVED[name]
    back = wire_models.unpack_result(operation, wire_models.pack_result(operation, value))
    assert back == value and type(back) is type(value)
    if isinstance(value, WorkflowProgress | JobChangeBatch) and value.jobs:
        assert all(type(job) is JobProgress for job in back.jobs)


def test_arguments_must_fit_the_operation() -> None:
    operation = OPERATIONS["stop_jobs"]
    text = wire_models.pack_arguments(operation, (3, (1, 2)))
    assert wire_models.unpack_arguments(operation, text) == (3, (1, 2))
    with pytest.raises(SerializationError, match="stop_jobs"):
        wire_models.unpack_arguments(operation, wire_models.pack_arguments(operation, (3,)))
    with pytest.raises(SerializationError, match="not a list"):
        wire_models.unpack_arguments(operation, '{"a": 1}')


def test_a_submitted_document_travels_as_its_own_json_text() -> None:
    """Encoded once by the client, received as that text by the engine (which stores it)."""
    operation = OPERATIONS["submit_workflow"]
    document = {"name": "w", "jobs": [0], "serialized_jobs": {"0": {"command": ["true"]}}}
    packed = wire_models.pack_arguments(operation, (document, "n", None, None, "/tmp"))
    arguments = wire_models.unpack_arguments(operation, packed)
    assert arguments[1:] == ("n", None, None, "/tmp")
    assert isinstance(arguments[0], str) and json.loads(arguments[0]) == document
    again = wire_models.pack_arguments(operation, arguments)  # text is sent as it is
    assert wire_models.unpack_arguments(operation, again) == arguments


def test_a_text_argument_that_is_corrupt_or_not_plain_data_is_refused() -> None:
    operation = OPERATIONS["submit_workflow"]
    with pytest.raises(SerializationError, match=r"\['serialized_jobs'\]\['0'\].*set"):
        wire_models.pack_arguments(operation, ({"serialized_jobs": {"0": {1}}}, 0, 0, 0, 0))
    for corrupt in ("T12x:{}[null]", "T99:{}[null,1,2,3,4]", "Tabc"):
        with pytest.raises(SerializationError, match="submit_workflow"):
            wire_models.unpack_arguments(operation, corrupt)
    with pytest.raises(SerializationError, match="stop_jobs"):
        wire_models.unpack_arguments(OPERATIONS["stop_jobs"], "T2:{}[3,[1]]")


def _read_models_in(annotation: Any) -> set[type]:
    """Classes of ``swf_app.read_models`` found anywhere in a type annotation."""
    found: set[type] = set()
    if isinstance(annotation, type) and annotation.__module__ == "swf_app.read_models":
        found.add(annotation)
    for argument in typing.get_args(annotation):
        found |= _read_models_in(argument)
    return found


def test_every_read_model_result_has_a_wire_codec() -> None:
    """A new operation returning a read model needs its codec, else Pyro could not send it:
    caught here rather than at the first remote call."""
    missing = {
        name: result
        for name, result in wire_models._RESULT_TYPE.items()
        if _read_models_in(result) and result not in wire_models._CODECS
    }
    assert missing == {}
    assert set(wire_models._RESULT_TYPE) >= set(OPERATIONS)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _pinged_split(clock: _Clock, pings: list[float]) -> SplitLink:
    calls: list[tuple[str, str]] = []
    local: Any = _Recorder("local", calls)
    engine: Any = _Recorder("engine", calls)
    return SplitLink(
        lambda: (local, lambda: None), engine, lambda: pings.append(clock.now), clock=clock
    )


def test_a_monitor_polling_ten_times_a_second_pings_once_per_interval() -> None:
    clock = _Clock()
    pings: list[float] = []
    split = _pinged_split(clock, pings)
    for _ in range(600):  # one minute of polls, 0.1 s apart
        split.workflow_elements_status()
        clock.now += 0.1
    interval = KEEP_ALIVE_INTERVAL
    assert 2.0 <= interval <= 5.0, "a dead engine is noticed within a few seconds"
    assert len(pings) == pytest.approx(60 / interval, abs=1)
    assert all(b - a >= interval for a, b in itertools.pairwise(pings))


def test_a_client_that_talks_to_the_engine_does_not_ping_it() -> None:
    clock = _Clock()
    pings: list[float] = []
    split = _pinged_split(clock, pings)
    split.workflow_elements_status()
    assert len(pings) == 1  # the first query checks the engine
    for _ in range(600):
        split.stop_jobs()  # a command reached the engine: it is alive
        split.workflow_elements_status()
        clock.now += 0.1
    assert len(pings) == 1
    clock.now += KEEP_ALIVE_INTERVAL  # silence: the next query checks again
    split.workflow_elements_status()
    assert len(pings) == 2
