"""Engine-execution jobs: small list/string operations the engine computes in-process.

They have no command and start no process: once their parents are done, the engine
calls ``engine_execute`` with the job's parameters (after param links) and publishes the
returned dict as the job's output parameters, which downstream param links then read.
They replace what would otherwise be tiny Python jobs in map/reduce, leave-one-out and
cross-validation patterns.

Constructors, default names, parameter names and outputs are soma-workflow's
(``soma_workflow.custom_jobs``), checked by running it. Differences, all on bad input:
the caller's ``param_dict`` is copied, not modified; a missing or ill-typed parameter
raises JobError naming the job and the parameter instead of a bare KeyError; a negative
index counts from the end. Like soma-workflow, extra keyword arguments (``priority``...)
are accepted and ignored: these jobs never reach a scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import JobError
from .link_functions import fold_bounds
from .model import CommandItem, Job


@dataclass(eq=False, slots=True, repr=False)
class EngineExecutionJob(Job):
    """Base of the in-engine jobs; by itself it outputs its parameters unchanged."""

    #: Name given when the constructor gets none.
    default_name: ClassVar[str] = "engine_execution"

    def __init__(
        self,
        command: list[CommandItem] | None = None,
        referenced_input_files: list[Any] | None = None,
        referenced_output_files: list[Any] | None = None,
        name: str | None = None,
        param_dict: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        params = dict(param_dict or {})
        try:
            self.add_default_params(params)
        except (TypeError, ValueError, KeyError) as error:
            label = self.default_name if name is None else name
            raise JobError(f"job {label!r}: invalid param_dict ({error!r})") from None
        Job.__init__(
            self,
            [],  # the command is ignored, as in soma-workflow: nothing is executed
            referenced_input_files=referenced_input_files,
            referenced_output_files=referenced_output_files,
            name=self.default_name if name is None else name,
            param_dict=params,
            has_outputs=True,
        )

    @classmethod
    def add_default_params(cls, params: dict[str, Any]) -> None:
        """Fill in the parameters a fresh job of this kind starts with."""

    def is_engine_execution(self) -> bool:
        return True

    def engine_execute(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The output parameters computed from ``params`` (the job's current inputs)."""
        return dict(params)

    # -- parameter access with errors that name the job -----------------------------------

    def _param(self, params: Mapping[str, Any], key: str) -> Any:
        if key not in params:
            raise JobError(f"job {self.name!r}: parameter {key!r} is missing")
        return params[key]

    def _list_param(self, params: Mapping[str, Any], key: str) -> list[Any]:
        value = self._param(params, key)
        if not isinstance(value, (list, tuple)):
            raise JobError(
                f"job {self.name!r}: parameter {key!r} must be a list, not {type(value).__name__}"
            )
        return list(value)

    def _int_param(self, params: Mapping[str, Any], key: str) -> int:
        value = self._param(params, key)
        if type(value) is not int:
            raise JobError(f"job {self.name!r}: parameter {key!r} must be an int, not {value!r}")
        return value

    def _str_list_param(self, params: Mapping[str, Any], key: str, default: list[str]) -> list[str]:
        value = params.get(key, default)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise JobError(f"job {self.name!r}: parameter {key!r} must be a list of strings")
        return list(value)

    def _numbered(self, pattern: str, index: int, key: str) -> str:
        """``pattern % index``: a pattern without a valid ``%d`` is a JobError."""
        try:
            return pattern % index
        except (TypeError, ValueError) as error:
            raise JobError(
                f"job {self.name!r}: {key} entry {pattern!r} needs one %d ({error})"
            ) from None


@dataclass(eq=False, slots=True, repr=False, init=False)
class MapJob(EngineExecutionJob):
    """Split lists into numbered outputs: ``inputs = [a, b]`` -> ``output_0 = a``, ...

    Parameters: ``input_names`` (lists to split, default ``['inputs']``) and
    ``output_names`` (one ``%d`` pattern per input, default ``['output_%d']``). Outputs:
    the numbered items, ``lengths`` (the length of each input list, for a ReduceJob),
    and every other parameter passed through unchanged.
    """

    default_name: ClassVar[str] = "map"

    @classmethod
    def add_default_params(cls, params: dict[str, Any]) -> None:
        params.setdefault("input_names", ["inputs"])
        params.setdefault("output_names", ["output_%d"])
        for input_name in params["input_names"]:
            params.setdefault(input_name, [])

    def engine_execute(self, params: Mapping[str, Any]) -> dict[str, Any]:
        input_names = self._str_list_param(params, "input_names", ["inputs"])
        output_names = self._str_list_param(params, "output_names", ["output_%d"])
        if len(input_names) != len(output_names):
            raise JobError(
                f"job {self.name!r}: input_names and output_names must have the same length "
                f"({len(input_names)} != {len(output_names)})"
            )
        hidden = {"input_names", "output_names", *input_names, *output_names}
        outputs = {key: value for key, value in params.items() if key not in hidden}
        lengths: list[int] = []
        for input_name, pattern in zip(input_names, output_names, strict=True):
            items = self._list_param(params, input_name)
            for index, item in enumerate(items):
                outputs[self._numbered(pattern, index, "output_names")] = item
            lengths.append(len(items))
        outputs["lengths"] = lengths
        return outputs


@dataclass(eq=False, slots=True, repr=False, init=False)
class ReduceJob(EngineExecutionJob):
    """Gather numbered inputs into lists: ``input_0, input_1`` -> ``outputs = [..]``.

    Parameters: ``lengths`` (how many inputs per series, typically linked from a
    MapJob's ``lengths``), ``input_names`` (``%d`` patterns, default ``['input_%d']``),
    ``output_names`` (default ``['outputs']``). Outputs: one list per series, and every
    other parameter passed through (the numbered inputs included, as in soma-workflow).
    """

    default_name: ClassVar[str] = "reduce"

    @classmethod
    def add_default_params(cls, params: dict[str, Any]) -> None:
        """Defaults, then one (empty) numbered input per expected item.

        Numbered inputs beyond ``lengths`` are dropped, so the job's parameters list
        exactly the inputs that param links must fill.
        """
        params.setdefault("input_names", ["input_%d"])
        params.setdefault("output_names", ["outputs"])
        params.setdefault("lengths", [0])
        for pattern, length in zip(params["input_names"], params["lengths"], strict=False):
            for index in range(length):
                params.setdefault(pattern % index, "")
            index = length
            while pattern % index in params:
                del params[pattern % index]
                index += 1

    def engine_execute(self, params: Mapping[str, Any]) -> dict[str, Any]:
        input_names = self._str_list_param(params, "input_names", ["input_%d"])
        output_names = self._str_list_param(params, "output_names", ["outputs"])
        lengths = self._list_param(params, "lengths")
        if not len(input_names) == len(output_names) == len(lengths):
            raise JobError(
                f"job {self.name!r}: input_names, output_names and lengths must have the "
                f"same length ({len(input_names)}, {len(output_names)}, {len(lengths)})"
            )
        hidden = {"input_names", "output_names", "lengths", *input_names, *output_names}
        outputs = {key: value for key, value in params.items() if key not in hidden}
        for pattern, output_name, length in zip(input_names, output_names, lengths, strict=True):
            if type(length) is not int or length < 0:
                raise JobError(f"job {self.name!r}: lengths must hold ints >= 0, not {length!r}")
            keys = [self._numbered(pattern, index, "input_names") for index in range(length)]
            outputs[output_name] = [self._param(params, key) for key in keys]
        return outputs


@dataclass(eq=False, slots=True, repr=False, init=False)
class LeaveOneOutJob(EngineExecutionJob):
    """``inputs`` without item ``index`` as ``train``, the item itself as ``test``."""

    default_name: ClassVar[str] = "leave_one_out"

    @classmethod
    def add_default_params(cls, params: dict[str, Any]) -> None:
        params.setdefault("inputs", [])
        params.setdefault("index", 0)

    def engine_execute(self, params: Mapping[str, Any]) -> dict[str, Any]:
        inputs = self._list_param(params, "inputs")
        index = self._int_param(params, "index")
        if not -len(inputs) <= index < len(inputs):
            raise JobError(
                f"job {self.name!r}: index {index} is out of range for {len(inputs)} inputs"
            )
        index %= len(inputs)
        return {"train": inputs[:index] + inputs[index + 1 :], "test": inputs[index]}


@dataclass(eq=False, slots=True, repr=False, init=False)
class CrossValidationFoldJob(EngineExecutionJob):
    """Fold ``fold`` of ``inputs`` cut into ``nfolds``: ``test``; the rest: ``train``.

    The split is soma-workflow's (see ``link_functions.fold_bounds``).
    """

    default_name: ClassVar[str] = "cross_validation"

    @classmethod
    def add_default_params(cls, params: dict[str, Any]) -> None:
        params.setdefault("inputs", [])
        params.setdefault("nfolds", 2)
        params.setdefault("fold", 0)

    def engine_execute(self, params: Mapping[str, Any]) -> dict[str, Any]:
        inputs = self._list_param(params, "inputs")
        nfolds = self._int_param(params, "nfolds")
        fold = self._int_param(params, "fold")
        try:
            begin, end = fold_bounds(len(inputs), fold, nfolds)
        except ValueError as error:
            raise JobError(f"job {self.name!r}: {error}") from None
        return {"train": inputs[:begin] + inputs[end:], "test": inputs[begin:end]}


@dataclass(eq=False, slots=True, repr=False, init=False)
class ListCatJob(EngineExecutionJob):
    """``inputs`` (a list of lists) concatenated into one list, ``outputs``."""

    default_name: ClassVar[str] = "list_cat"

    @classmethod
    def add_default_params(cls, params: dict[str, Any]) -> None:
        params.setdefault("inputs", [])

    def engine_execute(self, params: Mapping[str, Any]) -> dict[str, Any]:
        outputs: list[Any] = []
        for position, sub_list in enumerate(self._list_param(params, "inputs")):
            if not isinstance(sub_list, (list, tuple)):
                raise JobError(
                    f"job {self.name!r}: inputs[{position}] must be a list, "
                    f"not {type(sub_list).__name__}"
                )
            outputs.extend(sub_list)
        return {"outputs": outputs}


@dataclass(eq=False, slots=True, repr=False, init=False)
class StrCatJob(EngineExecutionJob):
    """The parameters named in ``input_names`` concatenated into one string.

    Each input is a string or a list of strings (joined). The output parameter is named
    by ``output_name`` (default ``output``); ``input_names`` defaults to ``['inputs']``.
    """

    default_name: ClassVar[str] = "strcat"

    @classmethod
    def add_default_params(cls, params: dict[str, Any]) -> None:
        params.setdefault("input_names", ["inputs"])
        params.setdefault("output_name", "output")
        params.setdefault(params["output_name"], "")
        for input_name in params["input_names"]:
            params.setdefault(input_name, "")

    def engine_execute(self, params: Mapping[str, Any]) -> dict[str, Any]:
        input_names = self._str_list_param(params, "input_names", ["inputs"])
        output_name = self._param(params, "output_name")
        if not isinstance(output_name, str):
            raise JobError(f"job {self.name!r}: parameter 'output_name' must be a string")
        pieces: list[str] = []
        for input_name in input_names:
            value = self._param(params, input_name)
            parts = value if isinstance(value, (list, tuple)) else [value]
            if not all(isinstance(part, str) for part in parts):
                raise JobError(
                    f"job {self.name!r}: parameter {input_name!r} must be a string or a "
                    f"list of strings, not {value!r}"
                )
            pieces.extend(parts)
        return {output_name: "".join(pieces)}


#: soma-workflow's class names of the custom jobs, for serialization.
CUSTOM_JOB_CLASSES: dict[str, type[EngineExecutionJob]] = {
    f"soma_workflow.custom_jobs.{cls.__name__}": cls
    for cls in (MapJob, ReduceJob, LeaveOneOutJob, CrossValidationFoldJob, ListCatJob, StrCatJob)
}
CUSTOM_JOB_CLASSES["soma_workflow.client_types.EngineExecutionJob"] = EngineExecutionJob
