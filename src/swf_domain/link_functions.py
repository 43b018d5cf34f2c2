"""Param link functions: transform a source job's output before it reaches a destination.

A link ``(src_job, src_param, spec)`` carries a function spec: ``"name"`` or
``("name", *args)``. The function is called as
``f(*args, src_param=..., value=..., dst_param=..., dst_value=...)`` where ``value`` is
the source output and ``dst_value`` the destination parameter's current value; it returns
the destination's new value. Several links into one parameter run in order, each seeing
the value left by the previous one, which is how ``sequence_to_list`` / ``append_to_list``
gather the outputs of many jobs into one list.

Semantics follow soma-workflow's ``param_link_functions`` (checked by running it), with
two deliberate differences: functions never modify ``dst_value`` in place (it belongs to
the destination job), and ``list_cat`` does not require its unused positional argument.
Absent list slots are ``None`` (soma's ``Undefined`` when ``traits`` is missing).

Functions are looked up in a fixed table (``LINK_FUNCTIONS``), never imported by name:
a workflow file must not be able to make the engine import and run arbitrary code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from .errors import WorkflowError, shown

#: A link function: positional args from the spec, then the four keyword arguments.
LinkFunction: TypeAlias = Callable[..., Any]


def fold_bounds(nitems: int, fold: int, nfolds: int) -> tuple[int, int]:
    """``[begin, end)`` of fold ``fold`` when ``nitems`` items are cut into ``nfolds``.

    This is soma-workflow's split, kept exactly so a cross-validation moved over gives
    the same folds: fold ``f`` starts at ``s*f + min(s*f, r)`` with ``s, r =
    divmod(nitems, nfolds)``. Consecutive folds touch, and with ``nitems >= nfolds`` they
    cover the list; the remainder lands mostly in the first fold (10 items, 4 folds: 4,
    2, 2, 2), and with fewer items than folds every fold is empty.
    """
    if nfolds < 1:
        raise ValueError(f"nfolds must be >= 1, not {nfolds}")
    if not 0 <= fold < nfolds:
        raise ValueError(f"fold must be in [0, {nfolds}), not {fold}")
    size, extra = divmod(nitems, nfolds)
    begin = size * fold
    end = size * (fold + 1)
    return begin + min(begin, extra), end + min(end, extra)


def list_to_sequence(
    item: int, *, src_param: str, value: Sequence[Any], dst_param: str, dst_value: Any
) -> Any:
    """The ``item``-th element of the source list."""
    return value[item]


def sequence_to_list(
    item: int, *, src_param: str, value: Any, dst_param: str, dst_value: Any
) -> list[Any]:
    """The destination list with ``value`` at position ``item`` (grown with None)."""
    result = [] if dst_value is None else list(dst_value)
    if len(result) <= item:
        result.extend([None] * (item + 1 - len(result)))
    result[item] = value
    return result


def append_to_list(*, src_param: str, value: Any, dst_param: str, dst_value: Any) -> list[Any]:
    """The destination list with ``value`` appended."""
    return [*(dst_value or []), value]


def list_all_but_one(
    item: int, *, src_param: str, value: Sequence[Any], dst_param: str, dst_value: Any
) -> list[Any]:
    """The source list without its ``item``-th element (leave-one-out training set)."""
    items = list(value)
    return items[:item] + items[item + 1 :]


def list_cv_train_fold(
    fold: int,
    nfolds: int,
    *,
    src_param: str,
    value: Sequence[Any],
    dst_param: str,
    dst_value: Any,
) -> list[Any]:
    """Every fold of the source list but ``fold`` (cross-validation training set)."""
    items = list(value)
    begin, end = fold_bounds(len(items), fold, nfolds)
    return items[:begin] + items[end:]


def list_cv_test_fold(
    fold: int,
    nfolds: int,
    *,
    src_param: str,
    value: Sequence[Any],
    dst_param: str,
    dst_value: Any,
) -> list[Any]:
    """Fold ``fold`` of the source list (cross-validation test set)."""
    items = list(value)
    begin, end = fold_bounds(len(items), fold, nfolds)
    return items[begin:end]


def list_cat(
    item: Any = None, *, src_param: str, value: Sequence[Any], dst_param: str, dst_value: Any
) -> list[Any]:
    """The destination list extended with the source list (``item`` is ignored)."""
    return [*(dst_value or []), *value]


def sequence_max(shift: Any, *, src_param: str, value: Any, dst_param: str, dst_value: Any) -> Any:
    """max(destination, value + shift); an unset destination starts at ``0 + shift``."""
    current = type(value)(0) + shift if dst_value is None else dst_value
    return max(current, value + shift)


def sequence_min(shift: Any, *, src_param: str, value: Any, dst_param: str, dst_value: Any) -> Any:
    """min(destination, value + shift); an unset destination starts at ``value + shift``."""
    if dst_value is None:
        return type(value)(value + shift)
    return min(dst_value, value + shift)


def sequence_sum(shift: Any, *, src_param: str, value: Any, dst_param: str, dst_value: Any) -> Any:
    """destination + value; an unset destination starts at ``0 + shift``."""
    current = type(value)(0) + shift if dst_value is None else dst_value
    return current + value


#: The link functions by short name.
LINK_FUNCTIONS: dict[str, LinkFunction] = {
    function.__name__: function
    for function in (
        list_to_sequence,
        sequence_to_list,
        append_to_list,
        list_all_but_one,
        list_cv_train_fold,
        list_cv_test_fold,
        list_cat,
        sequence_max,
        sequence_min,
        sequence_sum,
    )
}

#: Module prefixes under which a spec may name a function: soma-workflow resolves bare
#: names in its engine module, which re-exports ``param_link_functions``.
MODULE_PREFIXES = (
    "swf_domain.link_functions.",
    "soma_workflow.param_link_functions.",
    "soma_workflow.engine.",
)


def function_name(spec: Any) -> str:
    """The function name part of a spec (for messages), whatever its shape."""
    if isinstance(spec, (tuple, list)) and spec:
        return str(spec[0])
    return str(spec)


def resolve_link_function(spec: Any) -> tuple[LinkFunction, tuple[Any, ...]]:
    """``(function, positional args)`` of a spec ``"name"`` or ``("name", *args)``.

    Lists are accepted like tuples (a spec read back from JSON). Raises WorkflowError
    naming the spec when it is malformed or names no known function.
    """
    if isinstance(spec, (tuple, list)):
        if not spec:
            raise WorkflowError("empty link function spec")
        name, args = spec[0], tuple(spec[1:])
    else:
        name, args = spec, ()
    if not isinstance(name, str):
        raise WorkflowError(f"link function name must be a string, not {shown(name)}")
    short = name
    for prefix in MODULE_PREFIXES:
        if name.startswith(prefix):
            short = name[len(prefix) :]
            break
    function = LINK_FUNCTIONS.get(short)
    if function is None:
        known = ", ".join(sorted(LINK_FUNCTIONS))
        raise WorkflowError(f"unknown link function {name!r} (known: {known})")
    return function, args
