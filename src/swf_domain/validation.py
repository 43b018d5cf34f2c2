"""Is a workflow runnable? Every problem of it, each naming its culprit.

``find_problems`` never raises on bad input: ``swf validate`` shows a user everything
to fix in one round. ``validate`` is what submission calls: it raises the first problem
as its typed error (``WorkflowError`` for the workflow's structure, ``JobError`` for one
job), mentioning how many more there are, and otherwise returns the compiled DAG so the
caller does not compile twice.

Workflow rules checked here: every element of ``jobs`` is a Job listed once; both ends
of every dependency and param link are in ``jobs``; the dependencies have no cycle (each
cycle is named job by job, in order); every element of ``root_group`` and of its groups
is a job of the workflow or a group; param links have the documented shapes (a function
is ``"module.function"`` or a tuple starting with it). Rules of one job (empty command,
``%(name)s`` without value, ``parallel_job_info`` ...) come from ``job_rules``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from itertools import compress
from operator import not_
from typing import Any

from .errors import (
    JobError,
    JobValidationIssue,
    SerializationError,
    SomaWorkflowError,
    WorkflowError,
    WorkflowValidationError,
)
from .gc_pause import gc_paused
from .graph import (
    CompiledWorkflow,
    compile_collecting,
    cycle_message,
    describe_job,
    find_cycles,
)
from .job_rules import job_problems, shown, text_problem
from .link_functions import resolve_link_function
from .model import Group, Job, Workflow
from .serialization import read_collecting


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a workflow cannot run."""

    #: The error this problem raises (WorkflowError or JobError).
    error: type[SomaWorkflowError]
    #: What to fix, shortly: ``job 'step2'``, ``dependency #3``, ``param link to job 'x'``.
    culprit: str
    #: A full sentence naming the culprit.
    message: str


class JobValidationError(JobValidationIssue):
    """Validation found invalid jobs; ``problems`` lists every message, first one first.

    Its text is the first problem and how many more there are (not all of them: a
    million-job workflow may have a million bad jobs).
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        JobError.__init__(self, summarize(problems))


def summarize(messages: list[str]) -> str:
    """The first message, and how many more follow it."""
    first = messages[0] if messages else "invalid workflow"
    more = len(messages) - 1
    return first + (f" (and {more} more problem(s))" if more > 0 else "")


def find_problems(workflow: Workflow) -> list[Problem]:
    """Every problem of ``workflow``: structure first, then each job's own rules."""
    return _check(workflow)[1]


def check_document(doc: Any, source: str = "<document>") -> tuple[Workflow, list[Problem]]:
    """A soma-workflow JSON document (as ``json.loads`` gives it) read and checked the
    way a Python workflow is: every problem of the document (a job that cannot be read,
    a reference to an unknown id...: ``SerializationError`` problems) then every
    problem of the workflow read from it (``find_problems``), in one report.

    Raises SerializationError only when there is nothing to check (not a workflow
    document, a table that is not an object...).
    """
    workflow, document_problems = read_collecting(doc, source)
    problems = [
        Problem(SerializationError, culprit, message) for culprit, message in document_problems
    ]
    return workflow, problems + find_problems(workflow)


def raise_problems(problems: list[Problem]) -> None:
    """Raise the first problem's typed error, carrying every message (none: return).

    JobValidationError is a JobError, WorkflowValidationError a WorkflowError; both keep
    every message in ``problems``.
    """
    if not problems:
        return
    messages = [problem.message for problem in problems]
    if issubclass(problems[0].error, JobError):
        raise JobValidationError(messages)
    if issubclass(problems[0].error, WorkflowError):
        raise WorkflowValidationError(messages)
    raise problems[0].error(summarize(messages))


def validate(workflow: Workflow) -> CompiledWorkflow:
    """The compiled DAG of ``workflow``; raises the first problem's typed error.

    The raised error carries every message in ``problems`` (WorkflowValidationError is
    a WorkflowError, JobValidationError a JobError).
    """
    compiled, problems = _check(workflow)
    raise_problems(problems)
    return compiled


# ---------------------------------------------------------------------------------------


def _check(workflow: Workflow) -> tuple[CompiledWorkflow, list[Problem]]:
    """Compile and check with the garbage collector paused.

    Checking a million jobs allocates a million short-lived lists (most of them the
    empty answer of ``job_problems``), and none of them forms a reference cycle: each
    batch of them would make the collector walk the whole workflow again for nothing.
    """
    with gc_paused():
        return _check_all(workflow)


def _check_all(workflow: Workflow) -> tuple[CompiledWorkflow, list[Problem]]:
    problems: list[Problem] = []

    def workflow_problem(culprit: str, message: str) -> None:
        problems.append(Problem(WorkflowError, culprit, message))

    if not isinstance(workflow, Workflow):
        workflow_problem("workflow", f"expected a Workflow, got a {type(workflow).__name__}")
        return CompiledWorkflow([], {}, [], []), problems
    _check_workflow_fields(workflow, workflow_problem)
    compiled = compile_collecting(workflow, workflow_problem)
    for cycle in find_cycles(compiled):
        workflow_problem("cycle", cycle_message(compiled.jobs, cycle))
    _check_groups(workflow.root_group, compiled.index, workflow_problem)
    linked = _check_param_links(workflow.param_links, compiled.index, workflow_problem)
    _check_jobs(compiled, linked, problems)
    return compiled, problems


Report = Callable[[str, str], None]


def _check_workflow_fields(workflow: Workflow, report: Report) -> None:
    """The workflow's own name and environment: text the store and the jobs can take."""
    name = workflow.name
    if name is not None and not isinstance(name, str):
        report("workflow name", f"workflow name must be a string, not {type(name).__name__}")
    elif name is not None and text_problem(name) is not None:
        report("workflow name", f"workflow name {name!r} {text_problem(name)}")
    env = workflow.env
    if env is not None and not isinstance(env, dict):
        report("workflow env", f"workflow env must be a dict, not {type(env).__name__}")
        return
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            report("workflow env", f"workflow env entry {shown(key)} must map a string to a string")
        elif text_problem(key) or text_problem(value):
            why = text_problem(key) or text_problem(value)
            report("workflow env", f"workflow env entry {key!r} {why}")


def _check_groups(root: object, index: dict[Job, int], report: Report) -> None:
    """Every element of ``root_group`` and of its groups is a workflow job or a group."""
    if root is None:
        return
    if not isinstance(root, list | tuple):
        report("root_group", f"root_group must be a list, not {type(root).__name__}")
        return
    seen: set[int] = set()
    stack: list[tuple[str, list[Any] | tuple[Any, ...]]] = [("root_group", root)]
    while stack:
        where, elements = stack.pop()
        for number, element in _not_indexed(elements, index):
            if isinstance(element, Group):
                if id(element) not in seen:
                    seen.add(id(element))
                    _push_group(element, stack, report)
            elif not isinstance(element, Job):
                report(
                    where,
                    f"{where}: element #{number} is a {type(element).__name__} "
                    f"({shown(element)}), not a job or a group",
                )
            elif element not in index:
                report(where, f"{where}: {describe_job(element)} is not in workflow.jobs")


def _not_indexed(elements: list[Any] | tuple[Any, ...], index: dict[Job, int]) -> list[Any]:
    """(number, element) for each element that is not a workflow job, found in C.

    Groups come out too (they are not jobs); an unhashable element makes every element
    come out, to be looked at one by one.
    """
    try:
        return list(
            compress(enumerate(elements, start=1), map(not_, map(index.__contains__, elements)))
        )
    except TypeError:
        return list(enumerate(elements, start=1))


def _push_group(
    group: Group, stack: list[tuple[str, list[Any] | tuple[Any, ...]]], report: Report
) -> None:
    where = f"group {shown(group.name)}"
    if isinstance(group.elements, list | tuple):
        stack.append((where, group.elements))
    else:
        report(where, f"{where}: elements must be a list, not {type(group.elements).__name__}")


def _check_param_links(
    links: object, index: dict[Job, int], report: Report
) -> dict[Job, Collection[str]]:
    """Report malformed param links; return each destination's linked parameter names."""
    linked: dict[Job, Collection[str]] = {}
    if not links:
        return linked
    if not isinstance(links, dict):
        report("param_links", f"param_links must be a dict, not {type(links).__name__}")
        return linked
    for destination, by_param in links.items():
        where = f"param link to {describe_job(destination)}"
        if not isinstance(destination, Job) or destination not in index:
            report(
                where, f"{where}: destination {describe_job(destination)} is not in workflow.jobs"
            )
        if not isinstance(by_param, dict):
            report(
                where,
                f"{where}: expected a dict {{param: [links]}}, got a {type(by_param).__name__}",
            )
            continue
        if isinstance(destination, Job):
            linked[destination] = [name for name in by_param if isinstance(name, str)]
        for param, sources in by_param.items():
            _check_param_sources(f"{where} (param {shown(param)})", param, sources, index, report)
    return linked


def _check_param_sources(
    where: str, param: object, sources: object, index: dict[Job, int], report: Report
) -> None:
    if not isinstance(param, str):
        report(where, f"{where}: the parameter name must be a str, not {type(param).__name__}")
    if not isinstance(sources, list | tuple):
        report(
            where,
            f"{where}: expected a list of (job, param[, function]) links, "
            f"got a {type(sources).__name__}",
        )
        return
    for number, link in enumerate(sources, start=1):
        here = f"{where}, link #{number}"
        if not isinstance(link, list | tuple) or len(link) not in (2, 3):
            report(where, f"{here}: {shown(link)} is not a (job, param[, function]) tuple")
            continue
        source = link[0]
        if not isinstance(source, Job) or source not in index:
            report(where, f"{here}: source {describe_job(source)} is not in workflow.jobs")
        if not isinstance(link[1], str):
            report(
                where, f"{here}: the source parameter must be a str, not {type(link[1]).__name__}"
            )
        if len(link) == 3:
            _check_link_function(where, here, link[2], report)


def _check_link_function(where: str, here: str, spec: object, report: Report) -> None:
    """A link function must name one of the known link functions: an arbitrary dotted
    name (``os.system``) would only fail at run time, and nothing is imported by name."""
    try:
        resolve_link_function(spec)
    except WorkflowError as error:
        report(where, f"{here}: {error}")


# ---------------------------------------------------------------------------------------
# Per-job rules (swf_domain.job_rules)
# ---------------------------------------------------------------------------------------


def _check_jobs(
    compiled: CompiledWorkflow, linked: dict[Job, Collection[str]], problems: list[Problem]
) -> None:
    rules = job_problems
    jobs = list(compiled.index)  # each Job once, in workflow order
    if linked:  # each job checked once: a first pass without its links would warn
        linked_of = linked.get
        answers = [rules(job, linked_of(job, ())) for job in jobs]
    else:
        answers = list(map(rules, jobs))  # the common case, with the loop in C
    append = problems.append
    for job, messages in compress(zip(jobs, answers, strict=True), answers):
        culprit = describe_job(job)
        for message in messages:
            append(Problem(JobError, culprit, message))
