"""What a request's ``params`` ask of a model: inference parameters by short name, a runner."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelineml.hooks.errors import KedroPipelineModelError

RUNNER_PARAM = "runner"


@dataclass(frozen=True)
class RequestParams:
    """``params`` of one ``predict`` call, checked.

    Attributes:
        runner: The runner name the call asks for, if it names one.
        overrides: ``{dataset name ("params:x"): value}`` of the parameters it overrides.
    """

    runner: Any = None
    names_runner: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)


def _non_finite(value: Any) -> bool:
    """Whether ``value`` is, or holds (in a list, tuple or dict), a NaN or an infinity."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list | tuple):
        return any(_non_finite(item) for item in value)
    if isinstance(value, Mapping):
        return any(_non_finite(item) for item in value.values())
    return False


def read_params(
    params: Mapping[str, Any] | None,
    parameters: Mapping[str, str],
    defaults: Mapping[str, Any] | None = None,
) -> RequestParams:
    """Check ``params`` against the model's parameters (``{short name: dataset name}``)
    and their logged values (``defaults``, by dataset name).

    A NaN or infinite number (JSON's ``NaN``, ``Infinity``, or ``1e309``, which overflows)
    would silently turn a threshold into one that every row passes or fails, so it is
    refused, unless the parameter's own logged value is non-finite too.

    Raises:
        KedroPipelineModelError: For a key the model does not take, naming the accepted
            ones, or a non-finite number, naming the parameter.
    """
    if not params:
        return RequestParams()
    overrides: dict[str, Any] = {}
    runner: Any = None
    names_runner = False
    for key, value in params.items():
        if key == RUNNER_PARAM:
            runner, names_runner = value, True
            continue
        name = parameters.get(key)
        if name is None:
            accepted = sorted([*parameters, RUNNER_PARAM])
            raise KedroPipelineModelError(
                f"Unknown parameter {key!r}. This model accepts: {accepted}."
            )
        if _non_finite(value) and not _non_finite((defaults or {}).get(name)):
            raise KedroPipelineModelError(
                f"Parameter {key!r} got {value!r}: a NaN or infinite number is not accepted "
                f"(its logged value is {(defaults or {}).get(name)!r}); send a finite number."
            )
        overrides[name] = value
    return RequestParams(runner, names_runner, overrides)
