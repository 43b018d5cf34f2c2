"""The swf model <-> soma-workflow's JSON workflow format (``Helper.serialize`` files).

Text in, text out; dicts in, dicts out: reading and writing files belongs to the callers.
``workflow_to_dict`` gives the document soma-workflow 6.0.13 writes for the same workflow
(same keys, same ``"<tuple>"`` / ``"<id>"`` encodings, same ids), and
``workflow_from_dict`` reads every document soma-workflow writes. Every problem in a
document is a ``SerializationError`` naming the source, the element (``job 3
('step2')``, ``dependency #4``, ``temporary path 7``) and the field, never a bare
KeyError or TypeError: a document is user input.

The format, in short. Jobs, groups and special paths share one id space: jobs get
``0..n-1`` in ``workflow.jobs`` order, groups come next in ``workflow.groups`` order,
special paths next in the order the jobs first mention them (command, referenced
files, stdin, stdout, stderr, params files, working directory, param_dict; option
paths' parents last), exactly as soma-workflow numbers them. ``jobs``, ``groups``,
``root_group`` and group ``elements`` are lists of ids; ``dependencies`` are
``["<tuple>", parent, child]``; ``param_links`` is ``{"dest": {"param": [["<tuple>",
source, "source_param"(, function)]]}}``; ``serialized_*`` map ``str(id)`` to the
element's fields. A tuple anywhere is ``["<tuple>", ...items]``, a set ``["<set>",
...]``, a reference to a special path ``["<tuple>", "<id>", id]``.

What swf keeps that soma-workflow 6.0.13 loses, and how:

* ``user_storage`` of the workflow, of jobs and of groups, and the workflow's
  ``disposal_timeout``, are written when set (soma-workflow ignores these keys).
* Unknown keys of the workflow, a job, a group or a special path entry are kept with
  the loaded workflow (a private attribute, keyed by element) and written back verbatim.
* Special path patterns. soma-workflow writes one entry per *referent* (``'pre' + tmp``
  and ``tmp`` are one entry, with whichever pattern it met first), so the other
  copies lose their pattern. swf writes one entry per (referent, pattern): the
  referent's own entry, plus one entry per other pattern carrying the same fields, its
  ``pattern`` and ``"swf_referent": <id of the referent's entry>``. swf reads that key
  back, so copies share their referent again after loading (identity by referent
  survives). soma-workflow ignores the unknown key (it becomes an inert attribute) and
  loads each copy as an independent path with the right pattern: commands render the
  same, but in soma-workflow a TemporaryPath copy names another temporary file and a
  FileTransfer copy is transferred on its own. That is the trade-off: exact in swf,
  right text but split identity in soma-workflow (which had the wrong text before).
* An option path whose parent appears nowhere else gets its parent written (soma-workflow
  6.0.13 numbers that parent but forgets its entry).

One thing swf writes that soma-workflow cannot read: an OptionPath whose parent is an
OptionPath (``OptionPath(OptionPath(p, "?a=1"), "?b=2")``). soma's constructor takes an
OptionPath parent for a copy and refuses a uri with it, so no soma workflow holds one and
``Helper.unserialize`` raises TypeError on such a document; swf reads it back exactly.

Documents soma-workflow or swf write round-trip exactly (``workflow_to_dict
(workflow_from_dict(d)) == d``, key order aside). Other valid documents lose nothing
but may come back normalized: ids renumbered in soma's order, keys soma always writes
added with their defaults, a job without ``name`` named after its command (soma's
rule), implied param link dependencies added (soma's rule), old ``serialized_barriers``
moved into ``serialized_jobs``. Unknown keys are written verbatim, so an ``"<id>"``
inside one is not renumbered.

Two soma-workflow 6.0.13 bugs show through: a document where soma forgot an option path's
parent (above) is refused by swf, the parent being lost; and soma itself leaves a special
path in ``input_params_file`` undecoded (``('<id>', n)``) when it reads one back.

Job classes are found by their soma-workflow name in a small registry: Job, BarrierJob
and, loaded on first need, the custom jobs of ``swf_domain.custom_jobs``
(``soma_workflow.custom_jobs.MapJob``...). A registered class is built without calling
its ``__init__`` (the document holds every field), so it must be a Job whose own extra
fields, if any, have defaults.

Modules: ``_values`` (markers, depth limit, special path numbering), ``_fields`` (job
fields: codecs, defaults, when written), ``_paths`` (special path tables), ``_classes``
(job class registry), ``_unknown`` (unknown keys kept), ``_writer`` and ``_reader``, and
``_plain_jobs`` (fast paths for the common job, which is most of a big workflow).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ..errors import SerializationError
from ..gc_pause import gc_paused
from ..model import Workflow
from ._classes import BARRIER_CLASS, JOB_CLASS, job_class_for, register_job_class, soma_class_name
from ._paths import PATH_KINDS, REFERENT_KEY
from ._reader import Reader
from ._values import UNDEFINED
from ._writer import Writer

__all__ = [
    "BARRIER_CLASS",
    "JOB_CLASS",
    "REFERENT_KEY",
    "UNDEFINED",
    "dumps",
    "job_class_for",
    "loads",
    "parse",
    "read_collecting",
    "register_job_class",
    "soma_class_name",
    "workflow_from_dict",
    "workflow_to_dict",
]


def workflow_to_dict(workflow: Workflow) -> dict[str, Any]:
    """``workflow`` as soma-workflow's JSON document (a dict ready for ``json.dumps``).

    Raises SerializationError naming the element and field that cannot be written.
    """
    try:
        with gc_paused():
            return Writer(workflow).write()
    except RecursionError:
        raise SerializationError(
            f"workflow {getattr(workflow, 'name', None)!r}: nested too deeply to write"
        ) from None


def workflow_from_dict(doc: Any, source: str = "<document>") -> Workflow:
    """The workflow of a soma-workflow JSON document (as ``json.loads`` returns it).

    Raises SerializationError naming ``source``, the element and the field at fault.
    """
    try:
        with gc_paused():
            return Reader(doc, source).read()
    except RecursionError:
        raise SerializationError(f"{source}: document nested too deeply") from None


def read_collecting(doc: Any, source: str = "<document>") -> tuple[Workflow, list[tuple[str, str]]]:
    """The workflow of ``doc`` with what could be read, and every (culprit, message)
    problem met on the way (see ``_reader``: bad jobs, references, options are left out
    and reading goes on). Problems that stop reading still raise SerializationError."""
    problems: list[tuple[str, str]] = []
    try:
        with gc_paused():
            return Reader(doc, source, problems).read(), problems
    except RecursionError:
        raise SerializationError(f"{source}: document nested too deeply") from None


def declares_special_paths(doc: Any) -> bool:
    """Whether a parsed document has entries in any special path table (file transfers,
    shared resource, temporary and option paths), or is not a dict at all.

    Read, each such path is its own referent (it refers to itself): a model with special
    paths holds reference cycles, one without holds none (tested).
    """
    if not isinstance(doc, dict):
        return True
    return any(doc.get(kind.table) for kind in PATH_KINDS)


def parse(text: str | bytes, source: str = "<string>") -> Any:
    """The JSON value of ``text`` (bytes: UTF-8); SerializationError naming ``source``
    and where the text is wrong."""
    if isinstance(text, bytes | bytearray):
        text = _decoded(bytes(text), source)
    try:
        with gc_paused():
            return json.loads(text)
    except json.JSONDecodeError as error:
        raise SerializationError(
            f"{source}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise SerializationError(f"{source}: JSON nested too deeply") from None
    except ValueError:  # an integer of more digits than Python converts
        raise SerializationError(
            f"{source}: a JSON integer has more than {sys.get_int_max_str_digits()} digits"
        ) from None
    except TypeError as error:
        raise SerializationError(f"{source}: not JSON text ({error})") from None


def dumps(workflow: Workflow, indent: int | None = None) -> str:
    """The JSON text of ``workflow`` (``Helper.serialize`` without the file).

    soma-workflow indents by 4; the default (no indentation) is several times faster.
    """
    with gc_paused():
        return json.dumps(workflow_to_dict(workflow), indent=indent)


def loads(text: str | bytes, source: str = "<string>") -> Workflow:
    """The workflow in JSON ``text`` (``Helper.unserialize`` without the file).

    Bytes must be UTF-8 (soma-workflow's files are); every way the text can fail to be
    a workflow document is a SerializationError naming ``source`` and where.
    """
    return workflow_from_dict(parse(text, source), source)


def _decoded(data: bytes, source: str) -> str:
    """``data`` as UTF-8 text (a BOM is dropped); else which byte, on which line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise SerializationError(
            f"{source}: not UTF-8 text: byte 0x{data[error.start]:02x} at line {line}, "
            f"column {column} ({error.reason})"
        ) from None
