"""Property tests of command rendering.

- Plain strings come out unchanged, whatever they contain, when there is nothing to
  substitute.
- With a value for every ``%(name)s`` used, rendering never raises and replaces each
  placeholder by its value (checked against an independent string-building model).
- Commands of strings, numbers and nested lists render exactly as soma-workflow renders
  them (the oracle, a test extra).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from soma_workflow.engine_types import EngineJob  # type: ignore[import-untyped]

from soma_workflow.client import Job as SomaJob  # type: ignore[import-untyped]
from swf_domain.command import MappingResolver, render_command
from swf_domain.job_rules import job_problems
from swf_domain.model import Job

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

RESOLVER = MappingResolver()

plain_text = st.text(max_size=20)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
#: Text that cannot form a placeholder, so the model below stays a plain concatenation
#: (no NUL nor lone surrogate either: validation refuses them in commands).
literal_text = st.text(
    alphabet=st.characters(blacklist_characters="%()\x00", blacklist_categories=("Cs",)),
    max_size=8,
)
values = st.one_of(literal_text, st.integers(), st.floats(allow_nan=False))


@SETTINGS
@given(st.lists(plain_text, min_size=1, max_size=8))
def test_plain_strings_render_unchanged(command: list[str]) -> None:
    assert render_command(Job(list(command)), RESOLVER) == command


@SETTINGS
@given(st.lists(plain_text, min_size=1, max_size=8), st.dictionaries(names, values))
def test_strings_without_placeholder_render_unchanged(
    command: list[str], params: dict[str, Any]
) -> None:
    command = [item.replace("(", "[") for item in command]
    assert render_command(Job(list(command), param_dict=params), RESOLVER) == command


@st.composite
def templated_commands(draw: st.DrawFn) -> tuple[list[str], dict[str, Any], list[str]]:
    """(command, params, expected argv): items made of literals and placeholders."""
    params = draw(st.dictionaries(names, values, min_size=1, max_size=5))
    keys = sorted(params)
    command: list[str] = []
    expected: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        pieces = draw(
            st.lists(st.one_of(literal_text, st.sampled_from(keys).map(lambda k: (k,))), max_size=4)
        )
        item = "".join(f"%({p[0]})s" if isinstance(p, tuple) else p for p in pieces)
        rendered = "".join(str(params[p[0]]) if isinstance(p, tuple) else p for p in pieces)
        command.append(item)
        expected.append(rendered)
    return command, params, expected


@SETTINGS
@given(templated_commands())
def test_placeholders_with_values_are_all_replaced(
    case: tuple[list[str], dict[str, Any], list[str]],
) -> None:
    command, params, expected = case
    job = Job(list[Any](command), param_dict=params)
    assert job_problems(job) == []
    assert render_command(job, RESOLVER) == expected


nested_items = st.recursive(
    st.one_of(literal_text, st.integers(-5, 5)),
    lambda children: st.lists(children, max_size=3),
    max_leaves=6,
)


@SETTINGS
@given(st.lists(st.one_of(plain_text, st.integers(), nested_items), min_size=1, max_size=5))
def test_nested_commands_render_like_soma_workflow(command: list[Any]) -> None:
    command = [item.replace("(", "[") if isinstance(item, str) else item for item in command]
    ours = render_command(Job(list(command)), RESOLVER)
    engine_job = EngineJob(SomaJob(command=list(command), name="j"), queue=None)
    assert ours == [str(item) for item in engine_job.plain_command()]
