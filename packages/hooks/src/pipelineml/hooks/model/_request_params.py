"""What a request's ``params`` ask of a model: inference parameters by short name, a runner."""

from __future__ import annotations

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


def read_params(params: Mapping[str, Any] | None, parameters: Mapping[str, str]) -> RequestParams:
    """Check ``params`` against the model's parameters (``{short name: dataset name}``).

    Raises:
        KedroPipelineModelError: For a key the model does not take, naming the accepted ones.
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
        overrides[name] = value
    return RequestParams(runner, names_runner, overrides)
