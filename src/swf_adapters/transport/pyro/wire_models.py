"""Arguments and results of link operations as text, typed read models included.

Arguments are plain data and travel tagged (``wire_data``: tuples and non-string keys
survive). A result travels by the codec of its declared type (the operation's return
annotation in ``EngineLink``): read models go as JSON arrays — ``JobProgress`` is a named
tuple, which the JSON encoder writes at C speed — and come back as the same classes; any
other result travels tagged like the arguments.
"""

from __future__ import annotations

import base64
import json
import typing
from collections.abc import Callable
from itertools import starmap
from typing import Any

from swf_adapters.transport.pyro import wire_data
from swf_adapters.transport.pyro.protocol import EngineManagement
from swf_app.link import EngineLink, Operation
from swf_app.read_models import (
    JobChangeBatch,
    JobFiles,
    JobInfo,
    JobPage,
    JobProgress,
    JobTermination,
    OutputChunk,
    TransferInfo,
    WorkflowInfo,
    WorkflowProgress,
    WorkflowSummary,
)
from swf_domain.errors import SerializationError
from swf_domain.gc_pause import gc_paused

_Encode = Callable[[Any], Any]
_Decode = Callable[[Any], Any]


def _progress(jobs: list[Any]) -> list[JobProgress]:
    return list(starmap(JobProgress, jobs))  # the fastest way to build a million of them


_CODECS: dict[Any, tuple[_Encode, _Decode]] = {
    WorkflowProgress: (
        lambda p: [p.workflow_id, p.status, p.queue, p.jobs],
        lambda d: WorkflowProgress(d[0], d[1], d[2], _progress(d[3])),
    ),
    JobChangeBatch: (
        lambda b: [b.workflow_id, b.since, b.status, b.jobs],
        lambda d: JobChangeBatch(d[0], d[1], d[2], _progress(d[3])),
    ),
    dict[int, WorkflowInfo]: (
        lambda rows: [[key, *info] for key, info in rows.items()],
        lambda d: {row[0]: WorkflowInfo(row[1], row[2]) for row in d},
    ),
    dict[int, WorkflowSummary]: (
        lambda rows: [[key, *summary] for key, summary in rows.items()],
        lambda d: {row[0]: WorkflowSummary(*row[1:]) for row in d},
    ),
    JobPage: (
        lambda p: [p.workflow_id, p.total, p.jobs, p.names],
        lambda d: JobPage(d[0], d[1], _progress(d[2]), d[3]),
    ),
    dict[int, JobInfo]: (
        lambda rows: [[key, *info] for key, info in rows.items()],
        lambda d: {row[0]: JobInfo(*row[1:]) for row in d},
    ),
    JobTermination: (list, lambda d: JobTermination(*d)),
    TransferInfo: (list, lambda d: TransferInfo(*d)),
    list[TransferInfo]: (list, lambda d: list(starmap(TransferInfo, d))),
    JobFiles: (list, lambda d: JobFiles(*d)),
    OutputChunk: (
        lambda c: [base64.b64encode(c.data).decode("ascii"), *_chunk_fields(c)],
        lambda d: OutputChunk(base64.b64decode(d[0]), d[1], d[2], d[3], d[4]),
    ),
}


def _chunk_fields(chunk: OutputChunk) -> list[Any]:
    return [chunk.offset, chunk.next_offset, chunk.size, chunk.ended]


def _result_types() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for protocol in (EngineLink, EngineManagement):
        for name, member in vars(protocol).items():
            if callable(member) and not name.startswith("_"):
                found[name] = typing.get_type_hints(member).get("return")
    return found


_RESULT_TYPE = _result_types()


#: Operation -> position of an argument that travels as its own JSON text, untagged, and
#: reaches the engine as that text: a workflow document is plain JSON (the store keeps it
#: so), a million-job one ~350 MB of it. The client encodes it once at C speed (no tagging
#: pass), and the engine parses it once and stores the very text it received.
TEXT_ARGUMENTS: dict[str, int] = {"submit_workflow": 0}
#: Packed arguments that start with this carry a text argument: ``T<length>:<text><rest>``.
_TEXT_MARK = "T"


def pack_arguments(operation: Operation, arguments: tuple[Any, ...]) -> str:
    what = f"arguments of {operation.name}"
    index = TEXT_ARGUMENTS.get(operation.name)
    if index is None or not isinstance(arguments[index], dict | str):
        return wire_data.pack(list(arguments), what)
    text = _json_text(arguments[index], what)
    rest = [None if position == index else item for position, item in enumerate(arguments)]
    return f"{_TEXT_MARK}{len(text)}:{text}{wire_data.pack(rest, what)}"


#: A document is a tree the writer has just built: the encoder's check for containers
#: met twice (an id per container in a dict) took a third of its time. A cycle still
#: fails, as a RecursionError, and ``wire_data.pack`` names it.
_DOCUMENT_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _json_text(value: dict[str, Any] | str, what: str) -> str:
    """A document as JSON text (a str already is); SerializationError naming what is not
    plain data."""
    if isinstance(value, str):
        return value
    try:
        return _DOCUMENT_ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        wire_data.pack(value, what)  # raises the error that names the culprit
        raise


def _split_text(operation: Operation, packed: str) -> tuple[str | None, str]:
    """(the text argument, the other arguments' packed text) of ``packed``."""
    if not packed.startswith(_TEXT_MARK):
        return None, packed
    colon = packed.find(":", 0, 24)
    length = packed[1:colon] if colon > 0 else ""
    if operation.name not in TEXT_ARGUMENTS or not length.isdigit():
        raise SerializationError(f"arguments of {operation.name} are corrupt")
    end = colon + 1 + int(length)
    return packed[colon + 1 : end], packed[end:]


def unpack_arguments(operation: Operation, text: str) -> tuple[Any, ...]:
    """The positional arguments; SerializationError if they do not fit the signature."""
    document, text = _split_text(operation, text)
    arguments = wire_data.unpack(text, f"arguments of {operation.name}")
    if not isinstance(arguments, list):
        raise SerializationError(f"arguments of {operation.name} are not a list")
    if len(arguments) != operation.arity:  # clients send every argument, defaults included
        raise SerializationError(
            f"{operation.name} takes {operation.arity} arguments, {len(arguments)} were sent"
        )
    if document is not None:
        arguments[TEXT_ARGUMENTS[operation.name]] = document
    return tuple(arguments)


def pack_result(operation: Operation, result: Any) -> str:
    codec = _CODECS.get(_RESULT_TYPE.get(operation.name))
    if codec is None:
        return wire_data.pack(result, f"result of {operation.name}")
    with gc_paused():
        return "J" + json.dumps(codec[0](result), separators=(",", ":"))


def unpack_result(operation: Operation, text: str) -> Any:
    codec = _CODECS.get(_RESULT_TYPE.get(operation.name))
    if codec is None or not text.startswith("J"):
        return wire_data.unpack(text, f"result of {operation.name}")
    try:
        with gc_paused():  # a million rows of acyclic lists and tuples: nothing to collect
            return codec[1](json.loads(text[1:]))
    except (ValueError, TypeError, IndexError, KeyError) as error:
        raise SerializationError(f"result of {operation.name} is corrupt: {error}") from None
