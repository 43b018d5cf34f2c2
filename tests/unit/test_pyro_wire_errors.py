"""swf errors through Pyro5's serpent serializer: same class, same message, same attributes."""

from __future__ import annotations

import pytest
from Pyro5.serializers import SerpentSerializer

from swf_adapters.transport.pyro.wire_errors import decode_error, encode_error
from swf_domain import errors
from swf_domain.errors import (
    EngineError,
    JobError,
    SomaWorkflowError,
    UnknownObjectError,
    WorkflowValidationError,
)

SERIALIZER = SerpentSerializer()


class QueueFullError(JobError):
    """A subclass defined outside swf_domain.errors, with its own constructor."""

    def __init__(self, queue: str, limit: int) -> None:
        self.queue = queue
        self.limit = limit
        self.handle = object()  # not plain data: must not travel
        super().__init__(f"queue {queue!r} is full ({limit} jobs)")


def _through_the_wire(error: BaseException) -> object:
    return SERIALIZER.loads(SERIALIZER.dumps(error))


DOMAIN_ERRORS = [
    cls
    for cls in vars(errors).values()
    if isinstance(cls, type)
    and issubclass(cls, SomaWorkflowError)
    and cls
    not in (errors.JobValidationIssue, errors.WorkflowValidationError, errors.EngineFilesError)
]


@pytest.mark.parametrize("cls", DOMAIN_ERRORS, ids=lambda cls: cls.__name__)
def test_every_domain_error_keeps_its_class_and_message(cls: type[SomaWorkflowError]) -> None:
    received = _through_the_wire(cls("workflow 'w' job 'j': no such file /x/é"))
    assert type(received) is cls
    assert str(received) == "workflow 'w' job 'j': no such file /x/é"


def test_validation_errors_keep_every_problem() -> None:
    problems = ["job 'a' has an empty command", "job 'b' depends on unknown job 'z'"]
    received = _through_the_wire(WorkflowValidationError(problems))
    assert isinstance(received, WorkflowValidationError)
    assert received.problems == problems
    assert str(received) == str(WorkflowValidationError(problems))


def test_refused_engine_files_arrive_with_every_problem() -> None:
    problems = ["job 'a': stdout_file 'swf.db' ...", "job 'b': stdin '../key' ..."]
    received = _through_the_wire(errors.EngineFilesError(problems))
    assert isinstance(received, errors.EngineFilesError)
    assert received.problems == problems
    assert str(received) == str(errors.EngineFilesError(problems))


def test_a_loaded_subclass_arrives_as_itself_without_unplain_attributes() -> None:
    received = _through_the_wire(QueueFullError("long", 3))
    assert type(received) is QueueFullError
    assert str(received) == "queue 'long' is full (3 jobs)"
    assert (received.queue, received.limit) == ("long", 3)
    assert not hasattr(received, "handle")


def test_a_subclass_unknown_here_arrives_as_its_nearest_known_base() -> None:
    data = encode_error(QueueFullError("long", 3))
    data["type"] = "some_engine_plugin.QueueFullError"
    data["lineage"][0] = "some_engine_plugin.QueueFullError"
    received = decode_error(data)
    assert type(received) is JobError
    assert str(received) == "queue 'long' is full (3 jobs)"


def test_a_forged_class_name_never_imports_anything() -> None:
    received = decode_error(
        {"type": "os.system", "lineage": ["subprocess.Popen"], "message": "m", "args": ["m"]}
    )
    assert type(received) is EngineError
    assert str(received) == "os.system: m"


def test_args_that_are_not_plain_data_are_sent_as_text() -> None:
    received = _through_the_wire(UnknownObjectError("job", 3, {1, 2}))
    assert isinstance(received, UnknownObjectError)
    assert received.args == ("job", 3, "{1, 2}")
